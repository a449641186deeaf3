"""Whole-town batches commit in chunks and leave the town's audit counter free while they work."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from jichitai.platform.audit import AuditEntry, Entry, append_entries, append_entry, verify_chain
from jichitai.platform.batches import run_in_chunks
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.tenancy import Tenant

ITEM = "test:batch:item"
CHUNK = "test:batch:chunk"


def note(uow: UnitOfWork, tenant: Tenant, item: int) -> None:
    """A handler that writes through a service-like audit append, as a module's batch would."""
    append_entry(uow.session, tenant, actor="batch", action=ITEM, subject=str(item))


def actions(engine: Engine, tenant: Tenant) -> list[tuple[str, str | None]]:
    with read_session(engine) as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.subject)
            .where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.action.in_([ITEM, CHUNK]))
            .order_by(AuditEntry.seq)
        ).all()
    return [(a, s) for a, s in rows]


@pytest.mark.parametrize(
    ("count", "size", "chunks"), [(0, 5, 0), (1, 5, 1), (5, 5, 1), (6, 5, 2), (23, 4, 6)]
)
def test_every_item_is_committed_in_chunks_with_a_summary_each(
    engine: Engine, towns: tuple[Tenant, Tenant], count: int, size: int, chunks: int
) -> None:
    town, _ = towns
    report = run_in_chunks(
        engine, town, range(count), note, name="probe", action=CHUNK, actor="batch", chunk_size=size
    )
    assert (report.items, report.chunks, report.complete) == (count, chunks, True)
    assert report.last_key == (str(count - 1) if count else None)
    written = actions(engine, town)
    assert [s for a, s in written if a == ITEM] == [str(i) for i in range(count)]  # in order, once each
    summaries = [i for i, (a, _s) in enumerate(written) if a == CHUNK]
    assert len(summaries) == chunks
    # each chunk's items come before its summary: the appends were deferred to the chunk's end, in order
    assert all(written[i - 1][0] == ITEM for i in summaries)
    with read_session(engine) as session:
        assert verify_chain(session, town).ok


def test_a_failing_item_rolls_back_its_chunk_only(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town, _ = towns

    def fails_at_seven(uow: UnitOfWork, tenant: Tenant, item: int) -> None:
        note(uow, tenant, item)
        if item == 7:
            raise ValueError("壊れたデータ")

    report = run_in_chunks(
        engine, town, range(12), fails_at_seven, name="probe", action=CHUNK, actor="batch", chunk_size=5
    )
    assert (report.items, report.chunks, report.last_key, report.complete) == (5, 1, "4", False)
    assert report.error is not None
    assert "壊れたデータ" in report.error
    assert [s for a, s in actions(engine, town) if a == ITEM] == ["0", "1", "2", "3", "4"]
    with pytest.raises(ValueError, match="chunk_size"):
        run_in_chunks(engine, town, [], note, name="x", action=CHUNK, actor="batch", chunk_size=0)


def test_deferred_appends_keep_each_towns_order(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town_a, town_b = towns

    def both(uow: UnitOfWork, tenant: Tenant, item: int) -> None:
        note(uow, tenant, item)
        append_entries(uow.session, town_b, [Entry(actor="batch", action=ITEM, subject=f"b{item}")])

    run_in_chunks(engine, town_a, range(6), both, name="probe", action=CHUNK, actor="batch", chunk_size=4)
    assert [s for a, s in actions(engine, town_b) if a == ITEM] == [f"b{i}" for i in range(6)]
    assert [s for a, s in actions(engine, town_a) if a == ITEM] == [str(i) for i in range(6)]
    with read_session(engine) as session:
        assert verify_chain(session, town_a).ok
        assert verify_chain(session, town_b).ok


def test_the_counter_appends_while_a_chunk_is_in_progress(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    """The town's audit counter row is not locked by a chunk at work (PostgreSQL: row locks; SQLite has
    one writer at a time, so there chunking alone bounds the wait)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite serialises every writer")
    town, _ = towns
    inside = threading.Event()
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def slow(uow: UnitOfWork, tenant: Tenant, item: int) -> None:
        note(uow, tenant, item)
        if item == 2:
            inside.set()
            assert release.wait(30)

    batch = threading.Thread(
        target=lambda: outcome.setdefault(
            "report",
            run_in_chunks(
                engine, town, range(5), slow, name="probe", action=CHUNK, actor="batch", chunk_size=5
            ),
        )
    )
    batch.start()
    try:
        assert inside.wait(30)
        with UnitOfWork(engine) as uow:  # the counter: would wait for the batch's commit if it held the row
            uow.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            append_entry(uow.session, town, actor="counter", action=ITEM, subject="counter")
            uow.commit()
    finally:
        release.set()
        batch.join(30)
    assert outcome["report"].complete
    subjects = [s for a, s in actions(engine, town) if a == ITEM]
    assert subjects == ["counter", "0", "1", "2", "3", "4"]  # the counter's entry went first
    with read_session(engine) as session:
        assert verify_chain(session, town).ok
        assert (
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == CHUNK))
            == 1
        )
