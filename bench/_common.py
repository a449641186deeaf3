"""Helpers shared by the benchmarks: fresh databases, the pgbench baseline and percentiles.

Scripts in ``bench/`` import this module as ``_common`` (run them as ``python bench/<script>.py``; the
script's directory is then first on ``sys.path``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine

from jichitai.bootstrap import load
from jichitai.platform.db import UnitOfWork, make_engine, read_session
from jichitai.platform.migrate import upgrade
from jichitai.platform.tenancy import Tenant, create_municipality, get_tenant

load()  # benchmarks see exactly what the product loads (DESIGN §2)

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_ADMIN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"

TOWN = ("034614", "大槌町", "オオツチチョウ", "岩手県")
"""The benchmark tenant: a real code and name, synthetic residents only."""


def pg_url(name: str) -> str:
    """SQLAlchemy URL of a database on the local PostgreSQL server."""
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve()}"


def pg_database_exists(name: str) -> bool:
    """True when a database of this name exists on the local server."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def fresh_pg_database(name: str) -> str:
    """Drop (if it exists) and create an empty PostgreSQL database; returns its URL (not migrated)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_pg_database(name: str) -> None:
    """Drop a PostgreSQL database if it exists."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_sqlite_file(path: Path) -> str:
    """Delete the SQLite file (and its WAL/SHM companions); returns its URL (not migrated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return sqlite_url(path)


def fresh_database(database: str, name: str) -> str:
    """A fresh, migrated database: PostgreSQL database ``name`` or SQLite file ``var/bench/<name>.db``."""
    url = fresh_pg_database(name) if database == "postgresql" else fresh_sqlite_file(VAR / f"{name}.db")
    upgrade(url)
    return url


def create_town(engine: Engine, spec: tuple[str, str, str, str] = TOWN) -> Tenant:
    """Register a benchmark municipality (``(lg_code, name, kana, prefecture)``, by default the one of
    :data:`TOWN`) and return its tenant."""
    lg_code, name, kana, prefecture = spec
    with UnitOfWork(engine) as uow:
        create_municipality(
            uow,
            lg_code=lg_code,
            name=name,
            name_kana=kana,
            prefecture=prefecture,
            settings={"mayor_title": "町長", "mayor_name": "見本　太郎"},
            actor="bench",
        )
    return Tenant(lg_code)


def staff_headers(
    engine: Engine, tenant: Tenant, role: str = "registry_clerk", purpose: str = "resident_registry"
) -> dict[str, str]:
    """Register a staff member of the benchmark town with ``role`` and return bearer-token headers."""
    from jichitai.platform.audit import Actor
    from jichitai.platform.auth.services import Policy, create_user, login_staff

    password = "benchmark passphrase 2026"
    login_name = f"bench-{role.replace('_', '-')}"
    with UnitOfWork(engine) as uow:
        create_user(
            uow,
            tenant,
            login_name=login_name,
            display_name="ベンチ",
            password=password,
            roles=[role],
            actor=Actor("bench", role="admin", purpose="administration"),
        )
    with UnitOfWork(engine) as uow:
        issued = login_staff(
            uow, tenant.lg_code, login_name, password, kind="token", policy=Policy(), purpose=purpose
        )
    return {"Authorization": f"Bearer {issued.secret}"}


def town_tenant(engine: Engine) -> Tenant:
    """The tenant of the benchmark municipality (which must exist)."""
    with read_session(engine) as session:
        return get_tenant(session, TOWN[0])


def open_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine with the product's durability settings."""
    return make_engine(url, pool_size=pool_size)


# --- pgbench --------------------------------------------------------------------------------------------


def pgbench_binary() -> str:
    """Path of pgbench: on PATH, else the Debian location of PostgreSQL 15."""
    found = shutil.which("pgbench")
    if found:
        return found
    fallback = Path("/usr/lib/postgresql/15/bin/pgbench")
    if fallback.exists():
        return str(fallback)
    raise RuntimeError("pgbench not found (install postgresql-contrib / postgresql-client)")


_TPS = re.compile(
    r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)"
)


def parse_pgbench_tps(output: str) -> float:
    """The TPS figure of a pgbench run, excluding connection set-up (any pgbench 13-17 wording)."""
    match = _TPS.search(output)
    if match is None:
        raise ValueError(f"no tps line in pgbench output:\n{output}")
    return float(match.group(1))


def run_pgbench(
    seconds: int, *, clients: int = 8, threads: int = 2, scale: int = 10, name: str = "jichitai_bench_pgbench"
) -> float:
    """TPC-B-like tps of this machine: ``pgbench -i -s <scale>`` then ``-c <clients> -j <threads> -T``.

    Runs on its own fresh database, which is dropped afterwards.
    """
    binary = pgbench_binary()
    fresh_pg_database(name)
    env = {**os.environ, "PGHOST": PG_HOST, "PGPORT": str(PG_PORT), "PGUSER": PG_USER}
    try:
        subprocess.run(
            [binary, "-i", "-q", "-s", str(scale), name], env=env, check=True, capture_output=True, text=True
        )
        result = subprocess.run(
            [binary, "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-b", "tpcb-like", name],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        drop_pg_database(name)
    return parse_pgbench_tps(result.stdout + result.stderr)


# --- statistics -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def p50_p99_ms(seconds: Sequence[float]) -> tuple[float, float]:
    """Median and 99th percentile of durations given in seconds, in milliseconds."""
    return percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000


def ratio(a: float, b: float) -> float:
    """a / b, NaN when b is zero or missing."""
    return a / b if b else math.nan


def machine() -> dict[str, Any]:
    """CPU count and 1-minute load average, printed with each result (other load skews the figures)."""
    return {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)}


def emit(result: dict[str, Any]) -> None:
    """Print the result as one JSON line (rounded floats)."""
    rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    print(json.dumps(rounded, ensure_ascii=False))
