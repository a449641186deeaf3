"""Time ``verify_chain`` over one town's audit chain of 1,000,000 entries, against a plain read of the rows.

Builds the chain quickly into a fresh database (PostgreSQL database ``jichitai_bench_audit`` or SQLite file
``var/bench/audit.db``, both removed at the end): municipality 034614 is created (its chain starts with the
creation entry), then synthetic entries up to ``--entries`` are hashed in Python with the product's own
``entry_digest`` and bulk-inserted (PostgreSQL ``COPY``, SQLite ``executemany``), and the town's audit
counter is set to match. ``VACUUM ANALYZE`` (PostgreSQL) / ``ANALYZE`` (SQLite) follow, as the routine
maintenance of a live table would have done.

Then, in this order: the baseline once to warm the caches, ``verify_chain`` in a session of its own (timed,
must answer OK), and the baseline again (timed). The baseline is ``SELECT`` of every column of the town's
rows in ``seq`` order, every row fetched and decoded (Core, streamed), so ``ratio_verify_to_select`` is the
cost of checking the chain relative to merely reading it. R14 (reference/reliability.md) asks for ≤ 60 s
for 1M entries on 2 cores.

Run: ``.venv/bin/python bench/bench_audit_verify.py [--database sqlite] [--entries 1000000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from _common import VAR, create_town, drop_pg_database, emit, fresh_database, machine, open_engine, ratio
from jichitai.platform.audit import SEQUENCE, AuditEntry, entry_digest, verify_chain
from jichitai.platform.tenancy import Tenant, TenantSequence

PG_NAME = "jichitai_bench_audit"
SQLITE_NAME = "audit"
BATCH = 20_000
COLUMNS = [c.name for c in AuditEntry.__table__.columns]
ACTIONS = (
    ("registry:resident:read", 0.80),
    ("registry:event:record", 0.15),
    ("registry:certificate:issue", 0.05),
)


def _entries(tenant: Tenant, first_seq: int, last_seq: int, prev_hash: str) -> Iterator[dict[str, Any]]:
    """Synthetic entries ``first_seq``..``last_seq`` chained to ``prev_hash``, 50 ms apart, as row dicts."""
    rng = random.Random(14)
    actors = [f"staff{n:03d}" for n in range(60)]
    actions = [a for a, _ in ACTIONS]
    weights = [w for _, w in ACTIONS]
    start = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    for seq in range(first_seq, last_seq + 1):
        action = rng.choices(actions, weights)[0]
        entry = AuditEntry(
            lg_code=tenant.lg_code,
            seq=seq,
            recorded_at=start + dt.timedelta(milliseconds=50 * seq),
            actor=rng.choice(actors),
            role="registry_clerk",
            purpose="resident_registry",
            action=action,
            subject=f"{rng.randrange(1, 10**9):010d}",
            request_id=f"{rng.getrandbits(64):016x}",
            outcome="ok",
            details={"event_no": seq} if action == "registry:event:record" else {},
            prev_hash=prev_hash,
        )
        entry.entry_hash = prev_hash = entry_digest(entry)
        yield {column: getattr(entry, column) for column in COLUMNS}


def _write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor, cursor.copy(f"COPY audit_entry ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        [
                            json.dumps(row[c], ensure_ascii=False) if c == "details" else row[c]
                            for c in COLUMNS
                        ]
                    )
        else:
            conn.execute(AuditEntry.__table__.insert(), rows)


def build_chain(engine: Engine, entries: int) -> tuple[Tenant, float]:
    """The town with a chain of ``entries`` entries (its creation entry first); returns the seconds taken."""
    began = time.perf_counter()
    tenant = create_town(engine)
    with Session(engine) as session:  # the chain so far: the town's creation
        last = session.scalars(
            select(AuditEntry).where(AuditEntry.lg_code == tenant.lg_code).order_by(AuditEntry.seq.desc())
        ).first()
        assert last is not None
        written, prev_hash = last.seq, last.entry_hash
    batch: list[dict[str, Any]] = []
    for row in _entries(tenant, written + 1, entries, prev_hash):
        batch.append(row)
        if len(batch) == BATCH:
            _write(engine, batch)
            batch = []
            print(f"\r{row['seq']:,} entries", end="", file=sys.stderr)
    if batch:
        _write(engine, batch)
    with engine.begin() as conn:
        conn.execute(
            update(TenantSequence)
            .where(TenantSequence.lg_code == tenant.lg_code, TenantSequence.name == SEQUENCE)
            .values(last_value=entries)
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE audit_entry"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(file=sys.stderr)
    return tenant, time.perf_counter() - began


def select_all(engine: Engine, tenant: Tenant) -> tuple[float, int]:
    """The baseline: every column of every row of the town, in ``seq`` order, fetched and decoded."""
    began = time.perf_counter()
    count = 0
    statement = (
        select(*AuditEntry.__table__.columns)
        .where(AuditEntry.lg_code == tenant.lg_code)
        .order_by(AuditEntry.seq)
    )
    with engine.connect() as conn:
        for partition in conn.execution_options(yield_per=BATCH).execute(statement).partitions():
            count += len(partition)
    return time.perf_counter() - began, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    load_before = machine()
    url = fresh_database(args.database, PG_NAME if args.database == "postgresql" else SQLITE_NAME)
    engine = open_engine(url, pool_size=2)
    try:
        tenant, build_seconds = build_chain(engine, args.entries)
        print(f"built {args.entries:,} entries in {build_seconds:.0f} s", file=sys.stderr)
        select_all(engine, tenant)  # warm-up: the same pages as the timed runs
        began = time.perf_counter()
        with Session(engine) as session:
            verdict = verify_chain(session, tenant)
        verify_seconds = time.perf_counter() - began
        select_seconds, selected = select_all(engine, tenant)
    finally:
        engine.dispose()
        if not args.keep:
            if args.database == "postgresql":
                drop_pg_database(PG_NAME)
            else:
                for suffix in ("", "-wal", "-shm"):
                    (VAR / f"{SQLITE_NAME}.db{suffix}").unlink(missing_ok=True)
    result: dict[str, Any] = {
        "benchmark": "audit_verify",
        "database": args.database,
        "entries": args.entries,
        "build_seconds": build_seconds,
        "verify_seconds": verify_seconds,
        "verify_ok": verdict.ok,
        "verify_checked": verdict.checked,
        "entries_per_second": args.entries / verify_seconds,
        "select_seconds": select_seconds,
        "select_rows": selected,
        "ratio_verify_to_select": ratio(verify_seconds, select_seconds),
    }
    result.update(load_before)
    emit(result)
    if not verdict.ok:
        raise SystemExit(f"chain did not verify: {verdict}")


if __name__ == "__main__":
    main()
