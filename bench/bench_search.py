"""Kana search p50/p99 over a large synthetic town, against primary-key lookups timed in the same loop.

Loads ``--residents`` synthetic residents with ``load_population`` into a fresh database (PostgreSQL database
``jichitai_bench_search`` or SQLite file ``var/bench/search.db``), runs ANALYZE, then times
``queries.search_residents`` in-process for kana typed the way a counter clerk types it, taken from a random
sample of real residents:

- ``family``: the 氏 only (``サトウ``),
- ``family_given``: 氏, the 氏/名 gap, and the first kana of the 名 (``サトウ　ハ``),
- ``given``: the 名 only (``ハナコ``),
- ``hiragana``: 氏 and 名 typed in hiragana with an ASCII space (``さとう はなこ``).

Then the same sample again as the API runs it (``audited_*``): a write transaction that also appends one
audit entry per person shown and commits (issue 3), compared with the bare search.

Each search is followed by ``session.get(PersonRecord, pk)`` of a random current record: the baseline, so the
figures compare across machines as the ratio search/pk. On PostgreSQL the plan of one query is printed with
a yes/no on whether ``ix_registry_record_kana`` is used (on SQLite, the same from EXPLAIN QUERY PLAN).

Run: ``.venv/bin/python bench/bench_search.py [--database sqlite] [--residents 1000000] [--reuse]``
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jaconv
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from _common import (
    VAR,
    create_town,
    emit,
    fresh_database,
    machine,
    open_engine,
    p50_p99_ms,
    pg_database_exists,
    pg_url,
    ratio,
    sqlite_url,
    town_tenant,
)
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.models import PersonRecord, ResidentKind, ResidentStatus
from jichitai.modules.registry.records.services import reads
from jichitai.platform.audit import Actor
from jichitai.platform.db import UnitOfWork
from jichitai.platform.heap import freeze_startup_heap
from jichitai.platform.migrate import upgrade
from jichitai.platform.tenancy import Tenant

PG_NAME = "jichitai_bench_search"
SQLITE_NAME = "search"
KINDS = ("family", "family_given", "given", "hiragana")


def _existing_url(database: str) -> str | None:
    if database == "postgresql":
        return pg_url(PG_NAME) if pg_database_exists(PG_NAME) else None
    path = VAR / f"{SQLITE_NAME}.db"
    return sqlite_url(path) if Path(path).exists() else None


def _count_residents(engine: Engine, tenant: Tenant) -> int:
    with Session(engine) as session:
        return queries.count_residents(session, tenant)


def _prepare(database: str, residents: int, reuse: bool) -> tuple[Engine, Tenant, float | None]:
    """The loaded database: reused when asked and big enough, else fresh; returns the load seconds."""
    url = _existing_url(database) if reuse else None
    if url is not None:
        upgrade(url)  # a kept database follows the schema of the code being measured
        engine = open_engine(url)
        try:
            tenant = town_tenant(engine)
            have = _count_residents(engine, tenant)
        except Exception:
            have = 0
        if have >= residents * 0.9:
            print(f"reusing {url} with {have} residents", file=sys.stderr)
            return engine, tenant, None
        engine.dispose()
    from jichitai.devdata.registry.bulk import load_population

    url = fresh_database(database, PG_NAME if database == "postgresql" else SQLITE_NAME)
    engine = open_engine(url)
    tenant = create_town(engine)
    began = time.perf_counter()
    load_population(engine, tenant, residents, 1, actor="bench", progress=True)
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(
        f"loaded {residents} residents in {loaded:.0f} s, ANALYZE {time.perf_counter() - began:.0f} s",
        file=sys.stderr,
    )
    return engine, tenant, loaded


def _sample(engine: Engine, tenant: Tenant, n: int) -> list[Any]:
    """A random sample of current Japanese residents: the names to type and the keys to look up."""
    rec = PersonRecord
    stmt = (
        select(rec.atena_no, rec.history_no, rec.family_kana, rec.given_kana)
        .where(
            rec.lg_code == tenant.lg_code,
            rec.is_current.is_(True),
            rec.status == ResidentStatus.RESIDENT,
            rec.kind == ResidentKind.JAPANESE,
            rec.given_kana != "",
        )
        .order_by(func.random())
        .limit(n)
    )
    with engine.connect() as conn:
        return list(conn.execute(stmt))


def _typed(kind: str, family: str, given: str) -> str:
    if kind == "family":
        return family
    if kind == "family_given":
        return f"{family}　{given[:1]}"
    if kind == "given":
        return given
    return f"{jaconv.kata2hira(family)} {jaconv.kata2hira(given)}"


def _explain(engine: Engine, tenant: Tenant, kana: str) -> tuple[str, bool]:
    """The plan of one kana search and whether it uses the kana index."""
    stmt = queries.search_statement(tenant, queries.SearchCriteria(kana=kana), offset=0, limit=21)
    compiled = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + compiled).all()
    plan = "\n".join(str(r[-1]) for r in rows)
    return plan, "ix_registry_record_kana" in plan


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _audited(engine: Engine, tenant: Tenant, sample: list[Any]) -> list[float]:
    """The search as the API runs it: a write transaction that appends one audit entry per person shown."""
    actor = Actor("bench-clerk", role="registry_clerk", purpose="resident_registry")
    times = []
    for row in sample:
        criteria = queries.SearchCriteria(kana=row.family_kana)

        def audited(c: queries.SearchCriteria = criteria) -> None:
            with UnitOfWork(engine) as uow:
                reads.search_residents(uow, tenant, c, page=1, per_page=20, actor=actor)

        elapsed, _ = _timed(audited)
        times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument(
        "--reuse", action="store_true", help="skip loading when the database is already loaded"
    )
    args = parser.parse_args()
    rng = random.Random(11)

    engine, tenant, load_seconds = _prepare(args.database, args.residents, args.reuse)
    total = _count_residents(engine, tenant)
    sample = _sample(engine, tenant, args.queries)
    if not sample:
        raise SystemExit("no residents to sample")
    lookups = [(tenant.lg_code, row.atena_no, row.history_no) for row in sample]
    rng.shuffle(lookups)

    plan, uses_index = _explain(engine, tenant, sample[0].family_kana)
    print(plan, file=sys.stderr)
    print(f"ix_registry_record_kana used: {'yes' if uses_index else 'no'}", file=sys.stderr)

    load_before = machine()
    search_times: dict[str, list[float]] = {k: [] for k in KINDS}
    pk_times: list[float] = []
    hits: dict[str, int] = dict.fromkeys(KINDS, 0)
    with Session(engine) as session:
        # Warm-up: connection, statement caches, the first pages of the indexes.
        for row in sample[:20]:
            queries.search_residents(
                session, tenant, queries.SearchCriteria(kana=row.family_kana), per_page=20
            )
            session.get(PersonRecord, lookups[0])
        session.expunge_all()
        freeze_startup_heap()  # as the server does after start-up (jichitai.platform.heap)
        for i, row in enumerate(sample):
            kind = KINDS[i % len(KINDS)]
            criteria = queries.SearchCriteria(kana=_typed(kind, row.family_kana, row.given_kana))
            elapsed, page = _timed(
                lambda c=criteria: queries.search_residents(session, tenant, c, per_page=20)
            )
            search_times[kind].append(elapsed)
            hits[kind] += bool(page.items)
            session.expunge_all()
            elapsed, found = _timed(lambda k=lookups[i]: session.get(PersonRecord, k))
            assert found is not None
            pk_times.append(elapsed)
            session.expunge_all()
    audited_times = _audited(engine, tenant, sample)
    engine.dispose()

    all_search = [t for times in search_times.values() for t in times]
    pk_p50, pk_p99 = p50_p99_ms(pk_times)
    search_p50, search_p99 = p50_p99_ms(all_search)
    result: dict[str, Any] = {
        "benchmark": "search",
        "database": args.database,
        "residents": total,
        "load_seconds": load_seconds,
        "queries": len(all_search),
        "search_p50_ms": search_p50,
        "search_p99_ms": search_p99,
        "pk_p50_ms": pk_p50,
        "pk_p99_ms": pk_p99,
        "ratio_search_p50_to_pk_p50": ratio(search_p50, pk_p50),
        "ratio_search_p99_to_pk_p99": ratio(search_p99, pk_p99),
    }
    for kind, times in search_times.items():
        p50, p99 = p50_p99_ms(times)
        result[f"{kind}_p50_ms"] = p50
        result[f"{kind}_p99_ms"] = p99
        result[f"{kind}_ratio_p50_to_pk"] = ratio(p50, pk_p50)
        result[f"{kind}_found"] = f"{hits[kind]}/{len(times)}"
    audited_p50, audited_p99 = p50_p99_ms(audited_times)
    result["audited_p50_ms"] = audited_p50
    result["audited_p99_ms"] = audited_p99
    result["ratio_audited_to_search_p50"] = ratio(audited_p50, search_p50)
    result["kana_index_used"] = uses_index
    result.update(load_before)
    emit(result)


if __name__ == "__main__":
    main()
