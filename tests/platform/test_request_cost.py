"""What a request costs in statements (issue 12, item 3): audit appends and searches built once per shape.

Counting statements is exact, unlike timing: a regression that turns one INSERT back into twenty, or that
rebuilds a statement per request, shows here on any machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event, select

from jichitai.modules.registry.records import queries
from jichitai.platform.audit import AuditEntry, Entry, append_entries, verify_chain
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.journal import JournalEntry
from jichitai.platform.tenancy import Tenant


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_twenty_audit_entries_are_one_insert_and_are_journaled_from_memory(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    capture.install()
    town = towns[0]
    entries = [Entry(actor="clerk", action="registry:resident:read", subject=f"{n:015d}") for n in range(20)]
    with statements(engine) as seen, UnitOfWork(engine) as uow:
        assert append_entries(uow.session, town, entries) == 20
        uow.commit()
    inserts = [s for s in seen if s.startswith("INSERT INTO audit_entry")]
    assert len(inserts) == 1
    # The journal entry carries the twenty rows without reading them back.
    assert not [
        s for s in seen if s.startswith("SELECT") and "FROM audit_entry" in s and "entry_hash" not in s
    ]
    with read_session(engine, tenant=town.lg_code) as session:
        assert verify_chain(session, town).ok
        rows = session.scalars(select(AuditEntry).where(AuditEntry.lg_code == town.lg_code)).all()
        newest = session.scalars(
            select(JournalEntry).where(JournalEntry.lg_code == town.lg_code).order_by(JournalEntry.seq.desc())
        ).first()
        assert newest is not None
        journaled = {row["seq"]: row for row in newest.payload["upsert"]["audit_entry"]}
        stored = {row.seq: (row.entry_hash, row.subject) for row in rows}
    assert len(journaled) == 20
    for seq, row in journaled.items():
        assert (row["entry_hash"], row["subject"]) == stored[seq]


def test_a_search_shape_is_built_once_and_executed_with_its_values(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    queries._statement.cache_clear()
    first = queries.SearchCriteria(kana="ヤマダ")
    second = queries.SearchCriteria(kana="サトウ")
    other_shape = queries.SearchCriteria(kana="サトウ", match=queries.MatchMode.EXACT)
    with read_session(engine, tenant=towns[0].lg_code) as session:
        queries.search_residents(session, towns[0], first)
        queries.search_residents(session, towns[0], second, page=3)
        queries.search_residents(session, towns[1], second)
        assert queries._statement.cache_info().misses == 1
        queries.search_residents(session, towns[0], other_shape)
    assert queries._statement.cache_info().misses == 2
    stmt_a, values_a = queries.search_statement(towns[0], first, offset=0, limit=21)
    stmt_b, values_b = queries.search_statement(towns[1], second, offset=40, limit=21)
    assert stmt_a is stmt_b
    assert values_a["lg_code"] == "034614"
    assert values_b["lg_code"] == "046060"
    assert (values_b["offset"], values_b["limit"], values_b["bound"]) == (40, 21, 61)
