"""Off-site copy with many towns at the DEFAULT shipping settings: RPO per event, background cost per pass.

Issue 12 (background work proportional to work). ``--towns`` towns (100 by default) of ``--residents``
synthetic residents each (``load_population``), each with a directory custodian registered and holding its
snapshot. The real server (``jichitai serve``) then records a mix of 転居/出生/職権修正 (as ``bench_events``)
from ``--clients`` threads for ``--seconds``, each request to a town and household drawn at random, twice:

- **baseline**: ``JICHITAI_OFFSITE_SHIP_INTERVAL=0`` (the journal is written in every transaction, nothing
  is shipped); the events shipped afterwards, outside the timed runs;
- **shipping**: no shipping setting at all, i.e. the product's defaults (the commit wakes the shipper;
  fallback poll ``offsite_ship_interval``, 1 s).

Each 201 answer's town, ``event_no`` and monotonic time are kept; afterwards each town's journal maps the
``event_no`` to the ``seq`` of its entry. A thread of this process reads every custodian's ``heads.json``
(the journal head of the newest chunk, written just after the chunk) every ``--poll`` seconds (20 ms) and
notes when each town's held ``seq`` moved. Per acknowledged event, **RPO seconds** = first seen held at
the custodian − answered to the client (p50/p99/max; the poll adds up to 20 ms).

**Statements per idle pass**, once every town is shipped, signed and drilled: the statements (SQLAlchemy
``before_cursor_execute``) of one pass of each periodic job's work — ``ship_due``, ``sign_due_heads``,
``run_due_drills`` — over all the towns, and over one town; beside them the manual ``ship_all``, which
asks every custodian (the work the shipping job did on every pass before issue 12).

PostgreSQL databases are named ``bench_offsite_towns`` and dropped at the end; keys, custodians and SQLite
files go to a temporary directory that is removed (``--keep`` keeps both).

Run: ``.venv/bin/python bench/bench_offsite_towns.py --database postgresql --towns 100 --seconds 30``
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
from argon2 import PasswordHasher
from sqlalchemy import Engine, event, func, select

from _common import (
    drop_pg_database,
    emit,
    fresh_pg_database,
    fresh_sqlite_file,
    machine,
    open_engine,
    p50_p99_ms,
    percentile,
    ratio,
    staff_headers,
)
from bench_events import EventClient, HouseholdState, _free_port, _households, _start_server, _stop_server
from jichitai.devdata.registry.bulk import load_population
from jichitai.platform.audit_schedule import sign_due_heads
from jichitai.platform.auth.passwords import use_hasher
from jichitai.platform.db import UnitOfWork, read_session, utcnow
from jichitai.platform.jp.checkdigits import lg_code_check_digit
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.drills import record as record_drill
from jichitai.platform.offsite.journal import JournalEntry
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import add_custodian, drills_due, run_due_drills, ship_all, ship_due
from jichitai.platform.tenancy import ALL_TOWNS, Tenant, create_municipality

DB_NAME = "bench_offsite_towns"
WEEK = dt.timedelta(days=7)


# --- set-up -------------------------------------------------------------------------------------------------


def town_codes(count: int) -> list[str]:
    """``count`` valid 全国地方公共団体コード (prefecture 47, bodies 47001…): synthetic towns."""
    return [f"{body}{lg_code_check_digit(body)}" for body in (f"47{n + 1:03d}" for n in range(count))]


@dataclass
class Town:
    """One benchmark town: its households (as the clients know them) and its staff token."""

    lg_code: str
    households: list[HouseholdState]
    headers: dict[str, str]


def seed_towns(engine: Engine, args: argparse.Namespace, custodian: DirectoryCustodian) -> list[Town]:
    rng = random.Random(7)
    towns = []
    for n, code in enumerate(town_codes(args.towns)):
        with UnitOfWork(engine) as uow:
            create_municipality(
                uow,
                lg_code=code,
                name=f"ベンチ町{n}",
                name_kana="ベンチチョウ",
                prefecture="沖縄県",
                settings={"mayor_title": "町長", "mayor_name": "見本　太郎"},
                actor="bench",
            )
        tenant = Tenant(code)
        load_population(engine, tenant, args.residents, n + 1, actor="bench", progress=False)
        households = _households(engine, tenant, max(args.residents // 3, 1), rng)
        towns.append(Town(code, households, staff_headers(engine, tenant)))
        with UnitOfWork(engine) as uow:
            add_custodian(uow, code, str(custodian.root))
    return towns


# --- the clients and the custodian watch --------------------------------------------------------------------


class TownsClient(EventClient):
    """:class:`bench_events.EventClient` over many towns: each request to a random town's random household."""

    def __init__(self, index: int, port: int, towns: list[Town], barrier: threading.Barrier, seconds: float):
        super().__init__(index, port, [], barrier, seconds, {})
        self.towns = towns
        self.acks: list[tuple[float, str, int]] = []
        self.counter = index * 1_000_000 + int(time.time()) % 100_000  # 方書 never repeats across runs

    def run(self) -> None:
        makers = (self._relocation, self._birth, self._correction)
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60) as client:
            self.start_barrier.wait()
            deadline = time.perf_counter() + self.seconds
            while time.perf_counter() < deadline:
                town = self.rng.choice(self.towns)
                household = self.rng.choice(town.households)
                body = makers[self.rng.randrange(3)](household)
                started = time.perf_counter()
                url = f"/api/v1/municipalities/{town.lg_code}/registry/events"
                response = client.post(url, json=body, headers=town.headers)
                elapsed = time.perf_counter() - started
                if response.status_code == 201:
                    answer = response.json()
                    self.acks.append((time.monotonic(), town.lg_code, int(answer["event_no"])))
                    self.result.latencies.append(elapsed)
                    self.result.by_type[body["type"]] += 1
                    if body["type"] == "birth":
                        household.members[answer["persons"][0]["atena_no"]] = True
                    continue
                self.result.errors.append(f"{body['type']}: {response.status_code} {response.text[:300]}")


def heads_seq(custodian: DirectoryCustodian, lg_code: str) -> int:
    """The journal seq of the newest chunk the custodian holds for the town (``heads.json``)."""
    try:
        heads = json.loads((custodian.root / lg_code / "heads.json").read_bytes())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return int((heads.get("journal") or {}).get("seq") or 0)


class HeadsWatch(threading.Thread):
    """Reads every town's ``heads.json`` every ``poll`` seconds; per town, (time, seq held) on each change."""

    def __init__(self, custodian: DirectoryCustodian, codes: list[str], poll: float) -> None:
        super().__init__(name="heads-watch", daemon=True)
        self.custodian = custodian
        self.poll = poll
        self.stopping = threading.Event()
        now = time.monotonic()
        self.history = {code: [(now, heads_seq(custodian, code))] for code in codes}

    def run(self) -> None:
        while not self.stopping.wait(self.poll):
            now = time.monotonic()
            for code, seen in self.history.items():
                seq = heads_seq(self.custodian, code)
                if seq > seen[-1][1]:
                    seen.append((now, seq))

    def held(self, code: str) -> int:
        return self.history[code][-1][1]

    def first_held(self, code: str, seq: int) -> float | None:
        seen = self.history[code]
        index = bisect.bisect_left([s for _, s in seen], seq)
        return seen[index][0] if index < len(seen) else None


def journal_heads(engine: Engine, codes: list[str]) -> dict[str, int]:
    with read_session(engine, tenant=ALL_TOWNS) as session:
        rows = session.execute(
            select(JournalEntry.lg_code, func.max(JournalEntry.seq)).group_by(JournalEntry.lg_code)
        )
        found = {str(code): int(seq) for code, seq in rows}
    return {code: found.get(code, 0) for code in codes}


def event_seqs(engine: Engine, after: dict[str, int]) -> dict[tuple[str, int], int]:
    """(town, ``event_no``) → ``seq`` of the journal entry carrying the event (entries after ``after``)."""
    found: dict[tuple[str, int], int] = {}
    with read_session(engine, tenant=ALL_TOWNS) as session:
        for code, start in after.items():
            rows = session.execute(
                select(JournalEntry.seq, JournalEntry.payload)
                .where(JournalEntry.lg_code == code, JournalEntry.seq > start)
                .order_by(JournalEntry.seq)
            )
            for seq, payload in rows:
                for image in (payload or {}).get("upsert", {}).get("registry_event", []):
                    found.setdefault((code, int(image["event_no"])), int(seq))
    return found


@dataclass
class LoadRun:
    """One timed run of the clients against the server."""

    acks: list[tuple[float, str, int]]
    wall: float
    latencies: list[float]
    errors: list[str]
    by_type: Counter[str] = field(default_factory=Counter)

    @property
    def events_per_second(self) -> float:
        return ratio(len(self.acks), self.wall)


def run_load(
    url: str,
    towns: list[Town],
    args: argparse.Namespace,
    *,
    shipping: bool,
    watch: HeadsWatch | None,
    engine: Engine,
) -> LoadRun:
    """Start the server (shipper off, or at the product's defaults), drive the clients, stop it."""
    if shipping:
        os.environ.pop("JICHITAI_OFFSITE_SHIP_INTERVAL", None)  # the default, as an installation has it
    else:
        os.environ["JICHITAI_OFFSITE_SHIP_INTERVAL"] = "0"
    port = _free_port()
    server = _start_server(url, port)
    try:
        barrier = threading.Barrier(args.clients + 1)
        clients = [TownsClient(i, port, towns, barrier, args.seconds) for i in range(args.clients)]
        for client in clients:
            client.start()
        if watch is not None:
            watch.start()
        barrier.wait()
        started = time.perf_counter()
        for client in clients:
            client.join()
        wall = time.perf_counter() - started
        if watch is not None:
            targets = journal_heads(engine, [t.lg_code for t in towns])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(watch.held(c) < s for c, s in targets.items()):
                time.sleep(args.poll)
            time.sleep(2 * args.poll)
            watch.stopping.set()
            watch.join()
    finally:
        _stop_server(server)
    return LoadRun(
        sorted(a for c in clients for a in c.acks),
        wall,
        [t for c in clients for t in c.result.latencies],
        [e for c in clients for e in c.result.errors],
        sum((c.result.by_type for c in clients), Counter()),
    )


# --- statements per idle pass -------------------------------------------------------------------------------


def count_statements(engine: Engine, work: Callable[[], object]) -> int:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return len(seen)


def idle_statements(engine: Engine, keys: KeyStore, key_dir: Path, codes: list[str]) -> dict[str, int]:
    """Statements of one idle pass of each job's work, once everything is signed, drilled and shipped (in
    that order: a signed head is a change of the town, which its journal carries to the custodians)."""
    sign_due_heads(engine, key_dir, every_entries=1)
    with read_session(engine, tenant=ALL_TOWNS) as session:
        undrilled = drills_due(session, WEEK)
    for code, location in undrilled:
        record_drill(engine, code, location, utcnow(), None, "bench: recorded, not run")
    ship_all(engine, keys)
    one = codes[:1]
    return {
        "idle_statements_ship_due": count_statements(engine, lambda: ship_due(engine, keys)),
        "idle_statements_sign_due_heads": count_statements(
            engine, lambda: sign_due_heads(engine, key_dir, every_entries=1)
        ),
        "idle_statements_run_due_drills": count_statements(
            engine, lambda: run_due_drills(engine, keys, WEEK)
        ),
        "idle_statements_sign_one_town": count_statements(
            engine, lambda: sign_due_heads(engine, key_dir, every_entries=1, lg_codes=one)
        ),
        "manual_ship_all_statements": count_statements(engine, lambda: ship_all(engine, keys)),
        "manual_ship_all_one_town_statements": count_statements(
            engine, lambda: ship_all(engine, keys, lg_code=one[0])
        ),
    }


# --- main ---------------------------------------------------------------------------------------------------


def lag_figures(run: LoadRun, seqs: dict[tuple[str, int], int], watch: HeadsWatch) -> dict[str, Any]:
    lags: list[float] = []
    unmapped = unshipped = 0
    for acked, code, event_no in run.acks:
        seq = seqs.get((code, event_no))
        if seq is None:
            unmapped += 1
            continue
        held = watch.first_held(code, seq)
        if held is None:
            unshipped += 1
        else:
            lags.append(max(held - acked, 0.0))
    return {
        "rpo_p50_s": percentile(lags, 50),
        "rpo_p99_s": percentile(lags, 99),
        "rpo_max_s": max(lags, default=float("nan")),
        "unshipped_events": unshipped,
        "unmapped_events": unmapped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--towns", type=int, default=100)
    parser.add_argument("--residents", type=int, default=200, help="synthetic residents per town")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between reads of the custodians")
    parser.add_argument("--keep", action="store_true", help="keep the database and the temporary directory")
    args = parser.parse_args()

    capture.install()
    use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # seeding only: staff sign-in
    tmp = Path(tempfile.mkdtemp(prefix="bench-offsite-towns-"))
    url = fresh_pg_database(DB_NAME) if args.database == "postgresql" else fresh_sqlite_file(tmp / "towns.db")
    try:
        upgrade(url)
        engine = open_engine(url)
        os.environ["JICHITAI_KEY_DIR"] = str(tmp / "keys")
        os.environ.pop("JICHITAI_AUDIT_KEY_DIR", None)
        keys = KeyStore(tmp / "keys")
        keys.init_escrow()
        custodian = DirectoryCustodian(tmp / "custodian")
        began = time.perf_counter()
        towns = seed_towns(engine, args, custodian)
        codes = [t.lg_code for t in towns]
        ship_all(engine, keys)  # every town's snapshot, as a running installation has them
        print(
            f"seeded and shipped {len(towns)} towns in {time.perf_counter() - began:.1f} s", file=sys.stderr
        )
        load_before = machine()

        baseline = run_load(url, towns, args, shipping=False, watch=None, engine=engine)
        ship_all(engine, keys)  # the baseline's entries, outside the timed runs
        start = journal_heads(engine, codes)
        watch = HeadsWatch(custodian, codes, args.poll)
        shipped = run_load(url, towns, args, shipping=True, watch=watch, engine=engine)
        seqs = event_seqs(engine, start)
        load_after = machine()
        idle = idle_statements(engine, keys, tmp / "keys", codes)
        engine.dispose()

        for error in (baseline.errors + shipped.errors)[:10]:
            print(f"error: {error}", file=sys.stderr)
        base_p50, base_p99 = p50_p99_ms(baseline.latencies)
        ship_p50, ship_p99 = p50_p99_ms(shipped.latencies)
        emit(
            {
                "benchmark": "offsite_towns",
                "database": args.database,
                "towns": args.towns,
                "residents_per_town": args.residents,
                "clients": args.clients,
                "seconds": args.seconds,
                "ship_setting": "default (wake-up on commit, fallback poll 1 s)",
                "baseline_events": len(baseline.acks),
                "baseline_events_per_second": baseline.events_per_second,
                "baseline_p50_ms": base_p50,
                "baseline_p99_ms": base_p99,
                "shipping_events": len(shipped.acks),
                "shipping_events_per_second": shipped.events_per_second,
                "shipping_p50_ms": ship_p50,
                "shipping_p99_ms": ship_p99,
                "ratio_events_shipping_to_baseline": ratio(
                    shipped.events_per_second, baseline.events_per_second
                ),
                "towns_with_events": len({code for _, code, _ in shipped.acks}),
                "errors": len(baseline.errors) + len(shipped.errors),
                **lag_figures(shipped, seqs, watch),
                **idle,
                "towns_total": len(codes),
                "loadavg_1m_end": load_after["loadavg_1m"],
                **load_before,
            }
        )
    finally:
        if args.keep:
            print(f"kept: {tmp} {url}", file=sys.stderr)
        else:
            if args.database == "postgresql":
                drop_pg_database(DB_NAME)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
