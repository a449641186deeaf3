"""The transactional outbox and the feed dispatcher: a message exists only if its transaction committed;
each consumer takes each change exactly once, in order, per town; a failing change backs off, holds back
the later ones of that town only, shows as stuck (also to the town's administrator) and resumes once fixed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from jichitai.bootstrap import discover, load
from jichitai.platform.audit import AuditEntry, Entry, append_entries
from jichitai.platform.db import UnitOfWork, read_session, utcnow
from jichitai.platform.feeds import BACKOFF_CAP, FeedCursor, backoff, dispatch, stuck
from jichitai.platform.modules import (
    ActionSpec,
    Change,
    ConsumerSpec,
    ModuleDeclaration,
    build_catalog,
    install,
)
from jichitai.platform.outbox import OutboxMessage, head, publish, read
from jichitai.platform.tenancy import Tenant

from ..conftest import StaffHeaders

HANDLED = "test:feed:handled"
CONSUMER = "test.recorder"
LATER = dt.timedelta(days=1)


@dataclass
class Recorder:
    """A consumer of the outbox that writes an audit entry per change (its effect in the database) and
    fails on the changes listed in ``failing``."""

    seen: list[tuple[str, int, str]] = field(default_factory=list)
    failing: set[tuple[str, int]] = field(default_factory=set)

    def handle(self, uow: UnitOfWork, tenant: Tenant, change: Change) -> None:
        append_entries(
            uow.session, tenant, [Entry(actor="consumer", action=HANDLED, details={"n": change.position})]
        )
        if (tenant.lg_code, change.position) in self.failing:
            raise RuntimeError("連携先の故障")
        self.seen.append((tenant.lg_code, change.position, change.kind))

    def install(self) -> None:
        """Make the catalogue the product's plus a test module consuming the outbox (after any app was made:
        the app factory installs the product's catalogue)."""
        declaration = ModuleDeclaration(
            name="test_consumer",
            title="試験用の購読者",
            audit_actions=(ActionSpec(HANDLED, "試験用の購読者による処理"),),
            consumers=(ConsumerSpec(CONSUMER, "platform.outbox", self.handle),),
        )
        install(build_catalog([*discover(), declaration]))

    def positions(self, tenant: Tenant) -> list[int]:
        return [position for code, position, _ in self.seen if code == tenant.lg_code]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    made = Recorder()
    yield made
    load(())


def send(engine: Engine, tenant: Tenant, *topics: str) -> None:
    """Publish one message per topic, each in a committed transaction of its own."""
    for topic in topics:
        with UnitOfWork(engine) as uow:
            publish(uow.session, tenant, topic, {"topic": topic, "町": "大槌"})
            uow.commit()


def handled(engine: Engine, tenant: Tenant) -> list[int]:
    """The positions whose handling committed (the consumer's effect in the database)."""
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.action == HANDLED)
            .order_by(AuditEntry.seq)
        )
        return [row.details["n"] for row in rows]


def test_a_message_stands_or_falls_with_its_transaction(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town, other = towns
    with UnitOfWork(engine) as uow:
        publish(uow.session, town, "test.rolled_back", {"n": 1})  # never committed
    send(engine, town, "test.first", "test.second")
    send(engine, other, "test.other")
    with read_session(engine) as session:
        changes = read(session, town, 0, 10)
        assert [(c.position, c.kind, c.body["topic"]) for c in changes] == [
            (1, "test.first", "test.first"),
            (2, "test.second", "test.second"),
        ]  # the rolled-back message gave its number back: no gap
        assert [c.position for c in read(session, town, 1, 10)] == [2]
        assert head(session, town) == 2
        assert head(session, other) == 1
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_publish_refuses_what_it_cannot_store(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town, _ = towns
    with UnitOfWork(engine) as uow:
        with pytest.raises(TypeError):
            publish(uow.session, town, "test.bad", {"when": dt.date(2024, 1, 1)})
        with pytest.raises(ValueError, match="topic"):
            publish(uow.session, town, "", {})
    with read_session(engine) as session:
        assert head(session, town) == 0


def test_each_change_is_delivered_once_in_order_per_town(
    engine: Engine, towns: tuple[Tenant, Tenant], recorder: Recorder
) -> None:
    town, other = towns
    recorder.install()
    send(engine, town, "a", "b", "c")
    send(engine, other, "x", "y")
    report = dispatch(engine, limit=2)  # two per pass: the rest comes in the next pass
    assert (report.delivered, report.failed) == (4, 0)
    assert recorder.positions(town) == [1, 2]
    assert dispatch(engine).delivered == 1
    assert dispatch(engine).delivered == 0  # nothing twice
    send(engine, town, "d")
    assert dispatch(engine).delivered == 1
    assert [kind for code, _, kind in recorder.seen if code == town.lg_code] == ["a", "b", "c", "d"]
    assert recorder.positions(other) == [1, 2]
    assert handled(engine, town) == [1, 2, 3, 4]
    assert handled(engine, other) == [1, 2]
    with read_session(engine) as session:
        cursor = session.get(FeedCursor, (town.lg_code, CONSUMER))
        assert cursor is not None
        assert (cursor.position, cursor.attempts, cursor.last_error) == (4, 0, None)
        assert stuck(session, town) == []


def test_a_failing_change_backs_off_holds_back_its_town_and_resumes(
    client: TestClient,
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    staff: StaffHeaders,
    recorder: Recorder,
) -> None:
    town, other = towns
    recorder.install()  # after the client: the app factory installs the product's catalogue
    recorder.failing.add((town.lg_code, 2))
    send(engine, town, "a", "b", "c")
    send(engine, other, "x", "y")
    began = utcnow()
    report = dispatch(engine)
    assert (report.delivered, report.failed) == (3, 1)
    assert recorder.positions(town) == [1]  # 3 waits behind the failing 2: delivery is in order
    assert recorder.positions(other) == [1, 2]  # the other town is not held back
    assert handled(engine, town) == [1]  # the failed attempt's effect was rolled back

    with read_session(engine) as session:
        (held,) = stuck(session, town)
        assert stuck(session, other) == []
    assert (held.consumer, held.feed, held.position, held.attempts) == (CONSUMER, "platform.outbox", 1, 1)
    assert held.last_error == "RuntimeError: 連携先の故障"
    assert held.next_attempt_at is not None
    assert held.next_attempt_at >= began + backoff(1)

    waiting = dispatch(engine)  # the back-off has not run out: not tried again yet
    assert (waiting.delivered, waiting.failed, waiting.waiting) == (0, 0, 1)
    again = dispatch(engine, now=utcnow() + LATER)
    assert again.failed == 1
    with read_session(engine) as session:
        (held,) = stuck(session, town)
    assert held.attempts == 2

    path = f"/api/v1/municipalities/{town.lg_code}/feeds/stuck"
    admin = staff("admin")
    body = client.get(path, headers=admin).json()
    assert [(i["consumer"], i["feed"], i["position"], i["attempts"]) for i in body["items"]] == [
        (CONSUMER, "platform.outbox", 1, 2)
    ]
    assert body["items"][0]["last_error"] == "RuntimeError: 連携先の故障"
    assert client.get(path, headers=staff("registry_clerk")).status_code == 403
    elsewhere = client.get(f"/api/v1/municipalities/{other.lg_code}/feeds/stuck", headers=admin)
    assert elsewhere.status_code == 404  # another town answers like a missing one
    assert client.get(
        f"/api/v1/municipalities/{other.lg_code}/feeds/stuck", headers=staff("admin", other)
    ).json() == {"items": []}

    recorder.failing.clear()  # the fault is repaired
    resumed = dispatch(engine, now=utcnow() + 2 * LATER)
    assert (resumed.delivered, resumed.failed) == (2, 0)
    assert recorder.positions(town) == [1, 2, 3]
    assert handled(engine, town) == [1, 2, 3]
    assert client.get(path, headers=admin).json() == {"items": []}


def test_the_back_off_doubles_up_to_a_cap() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(40) == BACKOFF_CAP
