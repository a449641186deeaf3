"""Load: clerks of many towns at the counter at once, on one small machine, through the real server.

Steps:

1. A fresh database (PostgreSQL ``jichitai_bench_load``, or ``var/bench/jichitai_bench_load.db``) with
   ``--towns`` municipalities of ``--residents`` synthetic residents each (``load_population``, the engine of
   ``jichitai registry generate``) and ``--staff-per-town`` 住民記録担当 (``registry_clerk``) accounts
   per town, registered through ``devdata.staff.create_bulk_staff`` (one shared password hashed once).
   ``--reuse`` keeps a database loaded by an earlier run with the same sizes.
2. From each town: a random sample of kana search terms (氏, 氏＋名の頭, 名, ひらがな), of 宛名番号 to
   view, and of households with a Japanese 世帯主 for 異動 and certificates.
3. ``jichitai serve`` as a subprocess (``--workers``, default the product's), JSON log at INFO to a file
   (one access line per request, carrying the SQL ``statements`` it ran), sign-in rate limit lifted.
4. Every clerk signs in once through ``POST /api/v1/auth/token`` (purpose 住民基本台帳事務; 8 at a time): the
   ``signin`` phase, whose latency is mostly argon2.
5. Phases, each a headless locust subprocess (``bench/load_locustfile.py``): ``--phases`` clerks (default 50,
   200, 1,000) with think time (mean ``--think`` s, exponential), the mix being 60 % kana search, 25 % person
   view, 10 % 異動 (転居 or 出生), 5 % 住民票の写し (``POST …/certificates``, then its PDF); then
   ``saturation`` (``--saturation-users``, no think time); then the baseline ``trivial``: the same users
   without think time on ``GET /api/v1/auth/me`` (authenticated, one credential lookup).
   Each phase ramps for ``--ramp`` s (excluded) and is measured for ``--steady`` s (``--saturation-seconds``
   for the last two).
6. Per phase and request type: count, errors, p50/p95/p99 ms (successful requests, client side), requests/s;
   from the server's log: statements per request and the server-side p50; from psutil over the steady window:
   the server's CPU (the uvicorn process tree: CPU seconds / wall seconds, 1.0 = one core), PostgreSQL's
   (every process named ``postgres`` on the machine, so other work on the same server counts too), locust's,
   and the server's largest RSS (sum over its processes).

Printed as one JSON line; ``ratio_mix_saturation_to_trivial`` is the saturated mix's requests/s over the
trivial endpoint's, both measured in this run.

Run: ``.venv/bin/python bench/bench_load.py [--database sqlite] [--towns 5 --residents 1000 --phases 50
--steady 30 --saturation-seconds 30]`` (needs the ``bench`` extra: locust, psutil).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import jaconv
import psutil
from sqlalchemy import Engine, select

from _common import (
    ROOT,
    VAR,
    create_town,
    fresh_database,
    machine,
    open_engine,
    percentile,
    pg_database_exists,
    pg_url,
    ratio,
    sqlite_url,
)
from bench_events import _stop_server as stop_server
from jichitai.devdata.registry import vocabulary
from jichitai.devdata.registry.bulk import load_population
from jichitai.devdata.staff import create_bulk_staff
from jichitai.modules.registry.records.models import PersonRecord, ResidentStatus
from jichitai.platform.auth.models import StaffUser
from jichitai.platform.db import read_session
from jichitai.platform.jp.checkdigits import lg_code_check_digit
from jichitai.platform.tenancy import Municipality
from jichitai.settings import default_workers

DB_NAME = "jichitai_bench_load"
PASSWORD = "counter load passphrase 2026"
ROLE = "registry_clerk"
PURPOSE = "resident_registry"
LOCUSTFILE = Path(__file__).resolve().with_name("load_locustfile.py")
STEMS = (
    ("東", "ヒガシ"),
    ("西", "ニシ"),
    ("南", "ミナミ"),
    ("北", "キタ"),
    ("中", "ナカ"),
    ("上", "カミ"),
    ("下", "シモ"),
    ("新", "シン"),
    ("本", "モト"),
    ("大", "オオ"),
)
ENDS = (
    ("川", "カワ"),
    ("山", "ヤマ"),
    ("田", "タ"),
    ("野", "ノ"),
    ("原", "ハラ"),
    ("浜", "ハマ"),
    ("沢", "サワ"),
    ("井", "イ"),
    ("崎", "サキ"),
    ("島", "シマ"),
)
TYPES = ("search", "person", "event", "certificate", "certificate_pdf", "me")
SAMPLE_KANA = 200
SAMPLE_ATENA = 300
SAMPLE_HOUSEHOLDS = 400


# --- the towns ----------------------------------------------------------------------------------------------


def town_specs(count: int) -> list[tuple[str, str, str, str]]:
    """``count`` synthetic towns (code, name, kana, prefecture): valid 団体コード, distinct names."""
    if count > len(STEMS) * len(ENDS):
        raise SystemExit(f"at most {len(STEMS) * len(ENDS)} towns")
    specs = []
    for i in range(count):
        prefecture_no = 1 + i % 47
        body = f"{prefecture_no:02d}{300 + i:03d}"
        stem, end = STEMS[i // len(ENDS)], ENDS[i % len(ENDS)]
        specs.append(
            (
                f"{body}{lg_code_check_digit(body)}",
                f"{stem[0]}{end[0]}町",
                f"{stem[1]}{end[1]}チョウ",
                vocabulary.PREFECTURES[prefecture_no],
            )
        )
    return specs


def populate(
    engine: Engine, specs: list[tuple[str, str, str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    """Towns, residents and staff; returns what it took."""
    started = time.perf_counter()
    towns = []
    for spec in specs:
        towns.append(create_town(engine, spec))
    residents = 0
    for i, tenant in enumerate(towns):
        stats = load_population(engine, tenant, args.residents, i + 1, actor="bench", progress=False)
        residents += int(stats["residents"])
        print(f"  {tenant.lg_code}: {stats['residents']} residents ({i + 1}/{len(towns)})", file=sys.stderr)
    generated = time.perf_counter() - started
    began = time.perf_counter()
    create_bulk_staff(engine, towns, args.staff_per_town, PASSWORD, [ROLE])
    staff_seconds = time.perf_counter() - began
    return {
        "residents_loaded": residents,
        "populate_seconds": round(generated, 1),
        "staff_seconds": round(staff_seconds, 2),
    }


def loaded_as_asked(engine: Engine, specs: list[tuple[str, str, str, str]], per_town: int) -> bool:
    """Whether a kept database holds these towns with at least ``per_town`` staff each (for ``--reuse``)."""
    with read_session(engine) as session:
        codes = set(session.scalars(select(Municipality.lg_code)))
        staff = session.scalars(select(StaffUser.lg_code).where(StaffUser.login_name.like("clerk-%"))).all()
    counts: dict[str, int] = defaultdict(int)
    for code in staff:
        counts[code] += 1
    return all(s[0] in codes and counts[s[0]] >= per_town for s in specs)


def search_terms(family: str, given: str, k: int) -> str:
    """One of the four query types of bench_search, in rotation."""
    kind = k % 4
    if kind == 0:
        return family
    if kind == 1:
        return f"{family}　{given[:1]}"
    if kind == 2:
        return given
    return jaconv.kata2hira(f"{family} {given}")


def sample_town(engine: Engine, lg_code: str, rng: random.Random) -> dict[str, Any]:
    """What the clerks of one town search for, view, and record 異動 and certificates for."""
    rec = PersonRecord
    stmt = select(
        rec.atena_no,
        rec.household_no,
        rec.relationship,
        rec.family_name,
        rec.given_name,
        rec.family_kana,
        rec.given_kana,
        rec.kind,
        rec.address_area,
        rec.address_number,
        rec.address_building,
    ).where(rec.lg_code == lg_code, rec.is_current.is_(True), rec.status == ResidentStatus.RESIDENT)
    with engine.connect() as conn:
        rows = list(conn.execute(stmt))
    rng.shuffle(rows)
    named = [r for r in rows if r.family_kana and r.given_kana]
    heads = [r for r in rows if r.relationship == "世帯主" and r.family_name and r.kind == "japanese"]
    return {
        "lg_code": lg_code,
        "kana": [search_terms(r.family_kana, r.given_kana, k) for k, r in enumerate(named[:SAMPLE_KANA])],
        "atena": [r.atena_no for r in rows[:SAMPLE_ATENA]],
        "households": [
            {
                "household_no": r.household_no,
                "head": r.atena_no,
                "head_name": f"{r.family_name}　{r.given_name or ''}".strip(),
                "family_name": r.family_name,
                "family_kana": r.family_kana,
                "address": [r.address_area, r.address_number, r.address_building],
            }
            for r in heads[:SAMPLE_HOUSEHOLDS]
        ],
    }


# --- the server ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    url: str, port: int, workers: int | None, log: Path, pythonpath: str | None
) -> subprocess.Popen[bytes]:
    """``jichitai serve`` with a JSON log at INFO in ``log``; waits for /readyz."""
    env = {
        **os.environ,
        "JICHITAI_DATABASE_URL": url,
        "JICHITAI_LOG_LEVEL": "INFO",
        "JICHITAI_LOG_FORMAT": "json",
        "JICHITAI_VAR_DIR": str(VAR),
        "JICHITAI_LOGIN_RATE_LIMIT": "100000/minute",  # every clerk signs in from 127.0.0.1
    }
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, env.get("PYTHONPATH")) if p)
    command = [
        str(Path(sys.executable).with_name("jichitai")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers:
        command += ["--workers", str(workers)]
    with log.open("ab") as out:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"server exited with {server.returncode}; see {log}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/readyz").status_code == 200:
                    return server
            time.sleep(0.3)
    stop_server(server)
    raise RuntimeError("server not ready within 90 s")


def sign_in(port: int, clerks: list[dict[str, str]]) -> dict[str, Any]:
    """Every clerk signs in once (8 at a time); fills in their tokens; returns the phase's figures."""

    def one(clerk: dict[str, str]) -> tuple[float, float, str | None]:
        body = {
            "lg_code": clerk["lg_code"],
            "login_name": clerk["login_name"],
            "password": PASSWORD,
            "purpose": PURPOSE,
        }
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            began = time.time()
            response = client.post("/api/v1/auth/token", json=body)
            elapsed = (time.time() - began) * 1000
        if response.status_code != 201 and response.status_code != 200:
            return began, elapsed, f"{response.status_code} {response.text[:200]}"
        clerk["token"] = response.json()["token"]
        return began, elapsed, None

    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, clerks))
    wall = time.time() - started
    errors = [e for _t, _ms, e in results if e]
    for error in errors[:5]:
        print(f"sign-in error: {error}", file=sys.stderr)
    ok = [ms for _t, ms, e in results if not e]
    figures = type_figures(ok, len(results), len(errors), wall)
    return {"window": (started, started + wall), "types": {"signin": figures, "all": dict(figures)}}


# --- measuring ----------------------------------------------------------------------------------------------


class Monitor(threading.Thread):
    """Samples, once a second: CPU seconds (cumulative) of the server's process tree, of every postgres
    process and of the locust process, and the server's RSS (sum over its processes)."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(name="monitor", daemon=True)
        self.server_pid = server_pid
        self.locust_pid: int | None = None
        self.samples: list[tuple[float, float, float, float, int]] = []
        self.stopping = threading.Event()
        self._server: dict[int, float] = {}
        self._pg: dict[int, float] = {}
        self._locust: dict[int, float] = {}

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        rss = 0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.server_pid)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    self._server[process.pid] = self._cpu(process)
                    rss += process.memory_info().rss
        for process in psutil.process_iter(["name"]):
            if process.info["name"] == "postgres":
                with contextlib.suppress(psutil.Error):
                    self._pg[process.pid] = self._cpu(process)
        if self.locust_pid is not None:
            with contextlib.suppress(psutil.Error):
                self._locust[self.locust_pid] = self._cpu(psutil.Process(self.locust_pid))
        self.samples.append(
            (time.time(), sum(self._server.values()), sum(self._pg.values()), sum(self._locust.values()), rss)
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(1.0)

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU (cores) and the largest server RSS between ``start`` and ``end`` (epoch seconds)."""
        samples = list(self.samples)
        first = min(samples, key=lambda s: abs(s[0] - start))
        last = min(samples, key=lambda s: abs(s[0] - end))
        wall = last[0] - first[0]
        inside = [s[4] for s in samples if start - 1 <= s[0] <= end + 1] or [last[4]]
        return {
            "server_cpu": ratio(last[1] - first[1], wall),
            "postgres_cpu": ratio(last[2] - first[2], wall),
            "locust_cpu": ratio(last[3] - first[3], wall),
            "server_rss_max_mib": max(inside) / 2**20,
        }


def type_figures(ms: list[float], count: int, errors: int, seconds: float) -> dict[str, Any]:
    """count, errors, p50/p95/p99 (ms, successful requests), requests/s."""
    return {
        "count": count,
        "errors": errors,
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "rps": ratio(count, seconds),
    }


def phase_figures(samples: Path, start: float, end: float) -> dict[str, dict[str, Any]]:
    """Per request type (and ``all``), the requests that started inside the steady window."""
    ms: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    errors: dict[str, int] = defaultdict(int)
    with samples.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            began = float(row["start"])
            if not start <= began < end:
                continue
            for name in (row["name"], "all"):
                counts[name] += 1
                if row["ok"] == "1":
                    ms[name].append(float(row["ms"]))
                else:
                    errors[name] += 1
    return {name: type_figures(ms[name], counts[name], errors[name], end - start) for name in sorted(counts)}


def route_type(method: str, path: str) -> str:
    """The request type of a logged request, from its method and path."""
    parts = path.strip("/").split("/")
    if path == "/api/v1/auth/me":
        return "me"
    if path == "/api/v1/auth/token":
        return "signin"
    if len(parts) >= 5 and parts[:3] == ["api", "v1", "municipalities"] and parts[4] == "registry":
        rest = parts[5:]
        if rest == ["residents"] and method == "GET":
            return "search"
        if len(rest) == 2 and rest[0] == "residents" and method == "GET":
            return "person"
        if rest == ["events"] and method == "POST":
            return "event"
        if rest == ["certificates"] and method == "POST":
            return "certificate"
        if len(rest) == 3 and rest[0] == "certificates" and rest[2] == "pdf":
            return "certificate_pdf"
    return "other"


def server_lines(log: Path) -> list[tuple[float, str, float, int | None]]:
    """(end time, type, server ms, statements) of every access line of the server's JSON log."""
    lines = []
    with log.open(encoding="utf-8", errors="replace") as out:
        for raw in out:
            if not raw.startswith("{"):
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("message") != "request" or "path" not in line:
                continue
            at = dt.datetime.fromisoformat(line["time"]).timestamp()
            lines.append(
                (at, route_type(line["method"], line["path"]), line["duration_ms"], line.get("statements"))
            )
    return lines


def add_server_figures(
    figures: dict[str, dict[str, Any]],
    lines: list[tuple[float, str, float, int | None]],
    start: float,
    end: float,
) -> None:
    """Statements per request and server-side p50/p99 per type, from the access lines inside the window."""
    durations: dict[str, list[float]] = defaultdict(list)
    statements: dict[str, list[int]] = defaultdict(list)
    for at, kind, ms, count in lines:
        if start <= at < end + 1:
            for name in (kind, "all"):
                durations[name].append(ms)
                if count is not None:
                    statements[name].append(count)
    for name, values in durations.items():
        entry = figures.setdefault(name, {})
        entry["server_p50_ms"] = percentile(values, 50)
        entry["server_p99_ms"] = percentile(values, 99)
        entry["statements_per_request"] = (
            ratio(sum(statements[name]), len(statements[name])) if statements[name] else None
        )


def run_locust(
    name: str,
    users: int,
    mode: str,
    think: float,
    ramp: int,
    steady: int,
    work: Path,
    host: str,
    args: argparse.Namespace,
    monitor: Monitor,
) -> tuple[Path, float, float]:
    """One phase in a locust subprocess; returns the samples file and the steady window (epoch seconds)."""
    samples, marks, errors = (
        work / f"{name}.samples.csv",
        work / f"{name}.marks.json",
        work / f"{name}.errors.txt",
    )
    env = {
        **os.environ,
        "LOAD_PLAN": str(work / "plan.json"),
        "LOAD_MODE": mode,
        "LOAD_PHASE": str(int(time.time()) % 100_000),
        "LOAD_USERS": str(users),
        "LOAD_THINK": str(think),
        "LOAD_THINK_DIST": args.think_dist,
        "LOAD_SAMPLES": str(samples),
        "LOAD_MARKS": str(marks),
        "LOAD_ERRORS": str(errors),
    }
    rate = max(1.0, users / max(ramp, 1))
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        f"{rate:.2f}",
        "--run-time",
        f"{ramp + steady}s",
        "--host",
        host,
        "--csv",
        str(work / name),
        "--reset-stats",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    print(f"phase {name}: {users} users, think {think} s, ramp {ramp} s + steady {steady} s", file=sys.stderr)
    with (work / f"{name}.locust.log").open("wb") as out:
        locust = subprocess.Popen(command, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT)
        monitor.locust_pid = locust.pid
        locust.wait(timeout=ramp + steady + 300)
        monitor.locust_pid = None
    if locust.returncode != 0 or not marks.exists():
        raise RuntimeError(
            f"locust failed ({locust.returncode}): {(work / f'{name}.locust.log').read_text()[-3000:]}"
        )
    window = json.loads(marks.read_text())
    first_errors = errors.read_text(encoding="utf-8").splitlines()
    for error in first_errors[:5]:
        print(f"  error: {error}", file=sys.stderr)
    return samples, float(window["spawned_at"]), float(window["stopped_at"])


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


# --- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--towns", type=int, default=100)
    parser.add_argument("--residents", type=int, default=10_000, help="residents per town")
    parser.add_argument("--staff-per-town", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep a database loaded with the same sizes")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--workers", type=int, default=None, help="server processes (default: the product's)")
    parser.add_argument("--phases", default="50,200,1000", help="clerks per think-time phase")
    parser.add_argument("--think", type=float, default=20.0, help="mean think time, seconds")
    parser.add_argument("--think-dist", choices=("exponential", "uniform"), default="exponential")
    parser.add_argument("--ramp", type=int, default=30, help="ramp seconds of each phase (not measured)")
    parser.add_argument("--steady", type=int, default=120, help="measured seconds of each think-time phase")
    parser.add_argument("--saturation-users", type=int, default=64)
    parser.add_argument("--saturation-seconds", type=int, default=60)
    parser.add_argument(
        "--server-pythonpath", default=None, help="source tree the server runs from (a 'before')"
    )
    args = parser.parse_args()
    rng = random.Random(11)
    phases = [int(p) for p in args.phases.split(",") if p.strip()]
    specs = town_specs(args.towns)

    if args.database == "postgresql":
        url = pg_url(DB_NAME)
        reuse = args.reuse and pg_database_exists(DB_NAME)
    else:
        path = VAR / f"{DB_NAME}.db"
        url = sqlite_url(path)
        reuse = args.reuse and path.exists()
    setup: dict[str, Any] = {}
    if reuse:
        engine = open_engine(url)
        reuse = loaded_as_asked(engine, specs, args.staff_per_town)
        engine.dispose()
    if not reuse:
        url = fresh_database(args.database, DB_NAME)
        engine = open_engine(url)
        setup = populate(engine, specs, args)
        engine.dispose()
    engine = open_engine(url)
    towns = [sample_town(engine, s[0], rng) for s in specs]
    engine.dispose()
    # Clerk k of every town before clerk k + 1 of any: the first N clerks spread over the towns.
    clerks = [
        {"lg_code": s[0], "login_name": f"clerk-{k:03d}"}
        for k in range(1, args.staff_per_town + 1)
        for s in specs
    ]
    workers = args.workers or default_workers(url)  # what the server will take for this database
    work = Path(tempfile.mkdtemp(prefix="jichitai-bench-load-"))
    log = work / "server.log"
    print(f"work directory {work}", file=sys.stderr)
    load_before = machine()
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    server = start_server(url, port, args.workers, log, args.server_pythonpath)
    monitor = Monitor(server.pid)
    monitor.start()
    results: dict[str, Any] = {}
    windows: dict[str, tuple[float, float]] = {}
    try:
        signin = sign_in(port, clerks)
        windows["signin"] = signin["window"]
        results["signin"] = signin["types"]
        (work / "plan.json").write_text(json.dumps({"clerks": clerks, "towns": towns}, ensure_ascii=False))
        plan: list[tuple[str, int, str, float, int, int]] = [
            (f"clerks_{n}", n, "mix", args.think, args.ramp, args.steady) for n in phases
        ]
        plan += [
            ("saturation", args.saturation_users, "mix", 0.0, 10, args.saturation_seconds),
            ("trivial", args.saturation_users, "me", 0.0, 10, args.saturation_seconds),
        ]
        for name, users, mode, think, ramp, steady in plan:
            samples, start, end = run_locust(
                name, users, mode, think, ramp, steady, work, host, args, monitor
            )
            windows[name] = (start, end)
            results[name] = phase_figures(samples, start, end)
    finally:
        monitor.sample()
        monitor.stopping.set()
        stop_server(server)
        monitor.join()
        if not args.keep and not args.reuse and args.database == "postgresql":
            from _common import drop_pg_database

            drop_pg_database(DB_NAME)

    lines = server_lines(log)
    phases_out: dict[str, Any] = {}
    for name, (start, end) in windows.items():
        figures = results[name]
        add_server_figures(figures, lines, start, end)
        phases_out[name] = {"seconds": end - start, **monitor.window(start, end), "types": figures}
    mix = phases_out.get("saturation", {}).get("types", {}).get("all", {}).get("rps", math.nan)
    trivial = phases_out.get("trivial", {}).get("types", {}).get("all", {}).get("rps", math.nan)
    result = {
        "benchmark": "load",
        "database": args.database,
        "towns": args.towns,
        "residents_per_town": args.residents,
        "clerks": len(clerks),
        "workers": workers,
        "think_s": args.think,
        "think_dist": args.think_dist,
        "steady_s": args.steady,
        "saturation_users": args.saturation_users,
        "reused_database": reuse,
        **setup,
        "phases": phases_out,
        "mix_saturation_rps": mix,
        "trivial_saturation_rps": trivial,
        "ratio_mix_saturation_to_trivial": ratio(mix, trivial),
        **load_before,
        "work_dir": str(work),
    }
    print(json.dumps(rounded(result), ensure_ascii=False))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
