"""Events recorded per second through the HTTP API with concurrent clients, against pgbench TPC-B.

Steps: a fresh database with municipality 034614; households are seeded (``load_population`` when the bulk
loader exists, else one in-process 転入 per household); the real server is started as a subprocess
(``jichitai serve``); ``--clients`` threads each post a realistic mix of 転居 (relocation), 出生 (birth) and
職権修正 (ex_officio_correction) for ``--seconds``; then the server is stopped and pgbench runs on a separate
fresh PostgreSQL database for the same time with the same number of clients. Every figure is printed beside
the pgbench tps of the same run, so results compare across machines as a ratio.

Each client owns a disjoint share of the households, so its own requests never conflict with another
client's (a refusal such as ``same_address`` would be a benchmark bug, not load); any non-201 answer is
counted and printed as an error.

Run: ``.venv/bin/python bench/bench_events.py [--database sqlite] [--seconds 20] [--clients 8]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from pydantic import TypeAdapter
from sqlalchemy import Engine, select

from _common import (
    ROOT,
    VAR,
    create_town,
    emit,
    fresh_database,
    machine,
    open_engine,
    p50_p99_ms,
    ratio,
    run_pgbench,
    staff_headers,
)
from jichitai.modules.registry.records import schemas
from jichitai.modules.registry.records.models import PersonRecord, ResidentStatus
from jichitai.modules.registry.records.services.record import record_event
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import Tenant

DB_NAME = "jichitai_bench_events"
BASE = "/api/v1/municipalities/034614/registry"
FAMILIES = (
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
)
GIVEN = (
    ("太郎", "タロウ", "male"),
    ("花子", "ハナコ", "female"),
    ("一郎", "イチロウ", "male"),
    ("陽菜", "ヒナ", "female"),
    ("蓮", "レン", "male"),
    ("結衣", "ユイ", "female"),
)
TARGETS = (("栄町二丁目", "5番7号"), ("末広町", "3番1号"))
"""Relocations alternate between two addresses, picking the one the household does not live at."""


# --- seeding ----------------------------------------------------------------------------------------------


def _seed_by_move_ins(engine: Engine, tenant: Tenant, households: int, rng: random.Random) -> None:
    """One 国内転入 per household (1-4 persons), recorded in-process through the real service."""
    adapter: TypeAdapter[Any] = TypeAdapter(schemas.EventBody)
    for i in range(households):
        family, family_kana = rng.choice(FAMILIES)
        size = rng.choice((1, 2, 2, 3, 3, 4))
        persons = []
        for k in range(size):
            given, given_kana, sex = rng.choice(GIVEN)
            year = rng.randint(1950, 1995) if k < 2 else rng.randint(2000, 2020)
            persons.append(
                {
                    "family_name": family,
                    "given_name": given,
                    "family_kana": family_kana,
                    "given_kana": given_kana,
                    "kana_confirmed": True,
                    "birth_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "sex": sex,
                    "relationship": ("世帯主", "妻", "子", "子")[k],
                }
            )
        body = adapter.validate_python(
            {
                "type": "domestic_move_in",
                "event_date": "2024-04-01",
                "notified_on": "2024-04-05",
                "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
                "address": {"area": "本町一丁目", "number": f"{i + 1}番{rng.randint(1, 30)}号"},
                "persons": persons,
            }
        )
        with UnitOfWork(engine) as uow:
            record_event(uow, tenant, body, actor="bench")


def _seed(engine: Engine, tenant: Tenant, households: int, rng: random.Random) -> str:
    """Seed about ``households`` households; returns how."""
    try:
        from jichitai.devdata.registry.bulk import load_population
    except ImportError:
        _seed_by_move_ins(engine, tenant, households, rng)
        return "move_in_events"
    # The bulk loader makes households of mixed sizes; three residents per wanted household leaves a
    # margin, and the benchmark then takes ``households`` of them at random.
    load_population(engine, tenant, households * 3, 1, actor="bench", progress=False)
    return "load_population"


@dataclass
class HouseholdState:
    """What one client knows about a household it owns."""

    household_no: str
    family_name: str
    family_kana: str
    address: tuple[str, str, str | None]
    members: dict[str, bool] = field(default_factory=dict)
    """宛名番号 → フリガナ確認フラグ of the current members."""


def _households(engine: Engine, tenant: Tenant, wanted: int, rng: random.Random) -> list[HouseholdState]:
    """Households with a Japanese head, read back from the database after seeding."""
    rec = PersonRecord
    stmt = select(
        rec.household_no,
        rec.atena_no,
        rec.relationship,
        rec.family_name,
        rec.family_kana,
        rec.kind,
        rec.kana_confirmed,
        rec.address_area,
        rec.address_number,
        rec.address_building,
    ).where(rec.lg_code == tenant.lg_code, rec.is_current.is_(True), rec.status == ResidentStatus.RESIDENT)
    by_household: dict[str, HouseholdState] = {}
    members: dict[str, dict[str, bool]] = {}
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            members.setdefault(row.household_no, {})[row.atena_no] = bool(row.kana_confirmed)
            if row.relationship == "世帯主" and row.family_name and row.kind == "japanese":
                by_household[row.household_no] = HouseholdState(
                    row.household_no,
                    row.family_name,
                    row.family_kana,
                    (row.address_area, row.address_number, row.address_building),
                )
    states = list(by_household.values())
    rng.shuffle(states)
    states = states[:wanted]
    for state in states:
        state.members = members[state.household_no]
    return states


# --- the server ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JICHITAI_DATABASE_URL": url,
        "JICHITAI_LOG_LEVEL": "WARNING",
        "JICHITAI_VAR_DIR": str(VAR),
    }
    binary = Path(sys.executable).with_name("jichitai")
    server = subprocess.Popen(
        [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT
    )
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"server exited with {server.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/readyz").status_code == 200:
                    return server
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("server not ready within 60 s")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- the clients --------------------------------------------------------------------------------------------


@dataclass
class ClientResult:
    """What one client thread measured."""

    latencies: list[float] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class EventClient(threading.Thread):
    """Posts a mix of relocation, birth and correction events for its own households until the deadline."""

    def __init__(
        self,
        index: int,
        port: int,
        households: list[HouseholdState],
        start: threading.Barrier,
        seconds: float,
        headers: dict[str, str],
    ) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.headers = headers
        self.index = index
        self.port = port
        self.households = households
        self.start_barrier = start
        self.seconds = seconds
        self.rng = random.Random(1000 + index)
        self.result = ClientResult()
        self.counter = 0
        self.today = today_jst().isoformat()

    def _relocation(self, household: HouseholdState) -> dict[str, Any]:
        area, number = next(t for t in TARGETS if (t[0], t[1], None) != household.address)
        household.address = (area, number, None)
        return {
            "type": "relocation",
            "event_date": self.today,
            "household_no": household.household_no,
            "address": {"area": area, "number": number},
        }

    def _birth(self, household: HouseholdState) -> dict[str, Any]:
        given, given_kana, sex = self.rng.choice(GIVEN)
        return {
            "type": "birth",
            "event_date": self.today,
            "household_no": household.household_no,
            "child": {
                "family_name": household.family_name,
                "given_name": given,
                "family_kana": household.family_kana,
                "given_kana": given_kana,
                "kana_confirmed": True,
                "birth_date": self.today,
                "sex": sex,
                "relationship": "子",
            },
        }

    def _correction(self, household: HouseholdState) -> dict[str, Any]:
        atena_no = self.rng.choice(list(household.members))
        self.counter += 1
        if self.counter % 2:
            confirmed = not household.members[atena_no]
            household.members[atena_no] = confirmed
            corrections: dict[str, Any] = {"kana_confirmed": confirmed}
        else:
            # A 方書 on one member only; the next relocation moves the whole household again.
            corrections = {
                "address_building": f"コーポ{self.index}-{self.counter} {self.rng.randint(1, 9)}01号"
            }
        return {
            "type": "ex_officio_correction",
            "event_date": self.today,
            "atena_no": atena_no,
            "corrections": corrections,
            "reason_detail": "実態調査による修正",
        }

    def acknowledged(self, at: float, answer: dict[str, Any]) -> None:
        """Called with the monotonic time of each 201 answer and its body (a hook for other benches)."""

    def run(self) -> None:
        makers = (self._relocation, self._birth, self._correction)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", timeout=60, headers=self.headers
        ) as client:
            self.start_barrier.wait()
            deadline = time.perf_counter() + self.seconds
            while time.perf_counter() < deadline:
                household = self.rng.choice(self.households)
                kind = self.rng.randrange(3)
                body = makers[kind](household)
                started = time.perf_counter()
                response = client.post(f"{BASE}/events", json=body)
                elapsed = time.perf_counter() - started
                if response.status_code == 201:
                    self.acknowledged(time.monotonic(), response.json())
                    self.result.latencies.append(elapsed)
                    self.result.by_type[body["type"]] += 1
                    if body["type"] == "birth":
                        household.members[response.json()["persons"][0]["atena_no"]] = True
                    continue
                self.result.errors.append(f"{body['type']}: {response.status_code} {response.text[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--households", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)

    url = fresh_database(args.database, DB_NAME)
    engine = open_engine(url)
    tenant = create_town(engine)
    began = time.perf_counter()
    seeded_by = _seed(engine, tenant, args.households, rng)
    households = _households(engine, tenant, args.households, rng)
    headers = staff_headers(engine, tenant)
    engine.dispose()
    print(
        f"seeded {len(households)} households by {seeded_by} in {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )

    load_before = machine()
    port = _free_port()
    server = _start_server(url, port)
    try:
        barrier = threading.Barrier(args.clients + 1)
        clients = [
            EventClient(i, port, households[i :: args.clients], barrier, args.seconds, headers)
            for i in range(args.clients)
        ]
        for client in clients:
            client.start()
        barrier.wait()
        started = time.perf_counter()
        for client in clients:
            client.join()
        wall = time.perf_counter() - started
    finally:
        _stop_server(server)

    latencies = [t for c in clients for t in c.result.latencies]
    errors = [e for c in clients for e in c.result.errors]
    by_type = sum((c.result.by_type for c in clients), Counter())
    for error in errors[:10]:
        print(f"error: {error}", file=sys.stderr)
    tps = run_pgbench(args.seconds, clients=args.clients)
    p50, p99 = p50_p99_ms(latencies)
    events_per_second = len(latencies) / wall
    emit(
        {
            "benchmark": "events",
            "database": args.database,
            "clients": args.clients,
            "seconds": args.seconds,
            "households": len(households),
            "seeded_by": seeded_by,
            "events": len(latencies),
            "events_by_type": dict(by_type),
            "events_per_second": events_per_second,
            "p50_ms": p50,
            "p99_ms": p99,
            "errors": len(errors),
            "pgbench_tps": tps,
            "ratio_events_to_pgbench_tps": ratio(events_per_second, tps),
            **load_before,
        }
    )


if __name__ == "__main__":
    main()
