"""Synthetic population load rate, against a raw bulk insert of the same rows measured in the same run.

Creates a fresh database (PostgreSQL database ``jichitai_bench_gen`` on the local server, dropped first, or a
SQLite file), migrates it, registers municipality 034614 and runs ``load_population`` for ``--residents``.
Then the baseline: the same number of ``registry_person_record``-shaped rows, pre-generated as tuples, written
into a scratch table with identical columns but no keys or indexes, in batches of the same size, each batch in
its own transaction:

- PostgreSQL: ``CREATE TABLE … (LIKE registry_person_record INCLUDING DEFAULTS)`` and ``COPY … FROM STDIN``
  (``write_row``);
- SQLite: a table with the same columns and the DB-API's ``executemany``.

``ratio_ours_over_raw`` is our seconds divided by the baseline's seconds for the same number of record rows:
how much the whole job (generating households, five tables, keys, foreign keys, indexes) costs over the bare
minimum of moving that many rows into the database. The pure generator is timed too (no database).

Run: ``.venv/bin/python bench/bench_generate.py [--residents 1000000] [--database-url URL]``
(default URL: ``$JICHITAI_DATABASE_URL``, else a temporary SQLite file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from _common import create_town, emit, fresh_pg_database, fresh_sqlite_file, machine, open_engine, ratio
from jichitai.devdata.registry import BATCH_PERSONS, generate
from jichitai.devdata.registry.bulk import TABLES, load_population
from jichitai.modules.registry.records.models import ENTITLEMENT_COLUMNS
from jichitai.platform.clock import today_jst
from jichitai.platform.migrate import upgrade

PG_NAME = "jichitai_bench_gen"
SCRATCH = "bench_scratch_record"
# The columns our loader writes (the 法7条 items are left to their server defaults, as in the baseline).
RECORD_COLUMNS = [
    c.name for c in TABLES["registry_person_record"].columns if c.name not in ENTITLEMENT_COLUMNS
]


def _database(url: str | None) -> tuple[str, str, Path | None]:
    """(kind, URL of a fresh migrated database, temporary directory to remove afterwards)."""
    if url and url.startswith("postgresql"):
        fresh = fresh_pg_database(PG_NAME)
        upgrade(fresh)
        return "postgresql", fresh, None
    tmp = None
    if url:
        path = Path(url.removeprefix("sqlite:///"))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="jichitai-bench-gen-"))
        path = tmp / "generate.db"
    fresh = fresh_sqlite_file(path)
    upgrade(fresh)
    return "sqlite", fresh, tmp


def _generate_only(residents: int, today: dt.date) -> float:
    """Seconds to generate the same town without a database."""
    started = time.perf_counter()
    for _batch in generate(
        "034614", residents, 1, first_atena_seq=1, first_household_seq=1, first_event_no=1, today=today
    ):
        pass
    return time.perf_counter() - started


def _sample_rows(today: dt.date) -> list[tuple[Any, ...]]:
    """One batch of record rows as tuples in column order (another seed: not the rows loaded)."""
    batch = next(
        generate(
            "034614",
            BATCH_PERSONS,
            2,
            first_atena_seq=1,
            first_household_seq=1,
            first_event_no=1,
            today=today,
        )
    )
    getter = itemgetter(*RECORD_COLUMNS)
    return [getter(r) for r in batch.records]


def _chunks(rows: Sequence[tuple[Any, ...]], total: int) -> list[Sequence[tuple[Any, ...]]]:
    chunks: list[Sequence[tuple[Any, ...]]] = []
    left = total
    while left > 0:
        chunks.append(rows[: min(left, len(rows))])
        left -= len(chunks[-1])
    return chunks


def _raw_copy_pg(engine: Engine, rows: Sequence[tuple[Any, ...]], total: int) -> float:
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SCRATCH}")
        conn.exec_driver_sql(f"CREATE TABLE {SCRATCH} (LIKE registry_person_record INCLUDING DEFAULTS)")
        conn.commit()
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        statement = f"COPY {SCRATCH} ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
        started = time.perf_counter()
        for chunk in _chunks(rows, total):
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in chunk:
                    copy.write_row(row)
            driver.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy stores on SQLite: ISO dates, 0/1 booleans."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _raw_executemany_sqlite(engine: Engine, rows: Sequence[tuple[Any, ...]], total: int) -> float:
    converted = [tuple(_sqlite_value(v) for v in row) for row in rows]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        cursor.execute(f"CREATE TABLE {SCRATCH} AS SELECT * FROM registry_person_record WHERE 0")
        marks = ", ".join("?" * len(RECORD_COLUMNS))
        statement = f"INSERT INTO {SCRATCH} ({', '.join(RECORD_COLUMNS)}) VALUES ({marks})"
        started = time.perf_counter()
        for chunk in _chunks(converted, total):
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(statement, chunk)
            cursor.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("JICHITAI_DATABASE_URL"))
    parser.add_argument("--progress", action="store_true", help="show a progress bar while loading")
    args = parser.parse_args()
    today = today_jst()
    kind, url, tmp = _database(args.database_url)
    engine = open_engine(url)
    try:
        tenant = create_town(engine)
        stats = load_population(engine, tenant, args.residents, 1, actor="bench", progress=args.progress)
        rate = stats["rate_per_second"]
        print(f"{kind}: {stats['residents']} residents in {stats['seconds']:.1f} s = {rate:.0f}/s")
        rows = _sample_rows(today)
        total = int(stats["records"])
        raw_seconds = (_raw_copy_pg if kind == "postgresql" else _raw_executemany_sqlite)(engine, rows, total)
        generate_seconds = _generate_only(args.residents, today)
    finally:
        engine.dispose()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = float(stats["seconds"])
    emit(
        {
            "benchmark": "generate",
            "database": kind,
            **stats,
            "records_per_second": ratio(total, seconds),
            "generate_only_seconds": generate_seconds,
            "generate_only_residents_per_second": ratio(args.residents, generate_seconds),
            "baseline": "COPY" if kind == "postgresql" else "executemany",
            "raw_rows": total,
            "raw_seconds": raw_seconds,
            "raw_rows_per_second": ratio(total, raw_seconds),
            "ratio_ours_over_raw": ratio(seconds, raw_seconds),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
