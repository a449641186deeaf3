"""Delivering change feeds to their consumers: per-consumer, per-town cursors, exactly once, in order.

Every :class:`~jichitai.platform.modules.ConsumerSpec` in the catalogue has, for each town, a row of
``platform_feed_cursor`` holding the position of the last change it has taken in. :func:`dispatch` reads
the changes after that position from the consumer's feed and delivers each one in its own unit of work:
first the cursor is moved from the old position to the change's (a conditional UPDATE, which also locks
the row), then the consumer's ``handle`` runs, then everything commits together. The change takes effect
if and only if the cursor moved past it, so a crash at any point neither loses nor repeats it, and a second
dispatcher racing on the same cursor finds it moved and stands back.

A handler that fails rolls its transaction back; the cursor records the attempt, the error and the time
of the next attempt (exponential back-off up to :data:`BACKOFF_CAP`), and that consumer stops for that town
until then, since the changes after it must not overtake it. Other towns and other consumers go on.
:func:`stuck` lists such cursors for the town's administrator (``GET …/feeds/stuck``).

Delivery follows the commit by at most about a second: the platform job ``feeds.dispatch`` runs
:func:`dispatch` every ``JICHITAI_FEED_DISPATCH_INTERVAL`` seconds (there is no in-process wake-up; a
publisher never waits for its consumers). The cursors are part of the town's off-site copy, so a restored
town does not re-deliver what its consumers had taken in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ForeignKeyConstraint, Integer, String, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import LG_CODE, Base, UnitOfWork, as_utc, read_session, utcnow
from jichitai.platform.modules import ConsumerSpec, FeedSpec, JobContext, JobSpec, catalog
from jichitai.platform.tenancy import ALL_TOWNS, Tenant, get_tenant, list_municipalities
from jichitai.settings import Settings

log = logging.getLogger(__name__)

BATCH = 100
"""Changes read per consumer and town in one pass."""
BACKOFF_BASE = dt.timedelta(seconds=2)
BACKOFF_CAP = dt.timedelta(minutes=30)
"""The longest wait between two attempts at a failing change."""


class FeedCursor(Base):
    """How far one consumer has taken in one town's feed, and why it is stuck if it is."""

    __tablename__ = "platform_feed_cursor"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts at the change after ``position`` (0 when the last delivery went through)."""
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(1000))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


def backoff(attempts: int) -> dt.timedelta:
    """The wait before attempt ``attempts + 1``: 2 s, 4 s, 8 s, … up to :data:`BACKOFF_CAP`."""
    doubled: dt.timedelta = BACKOFF_BASE * 2 ** min(max(attempts - 1, 0), 20)
    return min(BACKOFF_CAP, doubled)


@dataclass
class DispatchReport:
    """What one :func:`dispatch` pass did."""

    delivered: int = 0
    failed: int = 0
    """Consumer–town pairs whose next change failed in this pass."""
    waiting: int = 0
    """Consumer–town pairs left alone because their back-off has not run out."""


@dataclass(frozen=True)
class _Cursor:
    position: int
    next_attempt_at: dt.datetime | None


def _cursors(engine: Engine, consumer: str, codes: list[str]) -> dict[str, _Cursor]:
    """The consumer's cursor in each town, created at position 0 where missing (a new consumer starts at
    the beginning of the feed, so it can build its copy from the whole history)."""
    with read_session(engine, tenant=ALL_TOWNS) as session:
        rows = session.execute(
            select(FeedCursor.lg_code, FeedCursor.position, FeedCursor.next_attempt_at).where(
                FeedCursor.consumer == consumer
            )
        )
        found = {code: _Cursor(position, as_utc(at)) for code, position, at in rows}
    for code in codes:
        if code in found:
            continue
        try:
            with UnitOfWork(engine) as uow:
                get_tenant(uow.session, code)
                uow.session.add(FeedCursor(lg_code=code, consumer=consumer, position=0, attempts=0))
                uow.commit()
        except IntegrityError:  # another dispatcher created it meanwhile: it starts at 0 all the same
            pass
        found[code] = _Cursor(0, None)
    return found


def _fail(engine: Engine, code: str, consumer: str, position: int, exc: Exception, now: dt.datetime) -> None:
    message = f"{type(exc).__name__}: {exc}"[:1000]
    with UnitOfWork(engine) as uow:
        get_tenant(uow.session, code)
        row = uow.session.get(FeedCursor, (code, consumer))
        if row is None or row.position != position:
            return  # another dispatcher moved on meanwhile
        row.attempts += 1
        row.last_error = message
        row.next_attempt_at = now + backoff(row.attempts)
        row.updated_at = now
        uow.commit()
        attempts = row.attempts
    log.warning(
        "feed consumer failed",
        extra={"lg_code": code, "consumer": consumer, "position": position, "attempts": attempts},
    )


def _deliver(
    engine: Engine,
    feed: FeedSpec,
    consumer: ConsumerSpec,
    code: str,
    position: int,
    limit: int,
    now: dt.datetime,
) -> tuple[int, bool]:
    """Deliver the changes after ``position`` one transaction each; (delivered, failed)."""
    delivered = 0
    try:
        with read_session(engine) as session:
            changes = feed.read(session, get_tenant(session, code), position, limit)
    except Exception as exc:
        log.exception("reading feed %s failed", feed.name)
        _fail(engine, code, consumer.name, position, exc, now)
        return delivered, True
    for change in changes:
        try:
            with UnitOfWork(engine) as uow:
                tenant = get_tenant(uow.session, code)
                # Move the cursor first: the row lock it takes makes a racing dispatcher wait, then find the
                # position moved and stand back; and a handler that commits commits the move with it.
                moved = cast(
                    CursorResult[Any],
                    uow.session.execute(
                        update(FeedCursor)
                        .where(
                            FeedCursor.lg_code == code,
                            FeedCursor.consumer == consumer.name,
                            FeedCursor.position == position,
                        )
                        .values(
                            position=change.position,
                            attempts=0,
                            last_error=None,
                            next_attempt_at=None,
                            updated_at=now,
                        )
                    ),
                )
                if moved.rowcount != 1:
                    return delivered, False
                consumer.handle(uow, tenant, change)
                uow.commit()
        except Exception as exc:
            _fail(engine, code, consumer.name, position, exc, now)
            return delivered, True
        position = change.position
        delivered += 1
    return delivered, False


def dispatch(engine: Engine, *, limit: int = BATCH, now: dt.datetime | None = None) -> DispatchReport:
    """One pass: every consumer, every town, up to ``limit`` changes each; failures are recorded, not raised.

    ``now`` decides which back-offs have run out (tests pass a later time instead of waiting).
    """
    moment = now or utcnow()
    report = DispatchReport()
    loaded = catalog()
    if not loaded.consumers:
        return report
    with read_session(engine) as session:
        codes = [m.lg_code for m in list_municipalities(session)]
    for consumer in loaded.consumers.values():
        feed = loaded.feeds[consumer.feed]
        for code, cursor in sorted(_cursors(engine, consumer.name, codes).items()):
            if cursor.next_attempt_at is not None and cursor.next_attempt_at > moment:
                report.waiting += 1
                continue
            delivered, failed = _deliver(engine, feed, consumer, code, cursor.position, limit, moment)
            report.delivered += delivered
            report.failed += failed
    return report


@dataclass(frozen=True)
class StuckCursor:
    """A consumer whose next change in the town keeps failing."""

    consumer: str
    feed: str
    position: int
    attempts: int
    last_error: str
    next_attempt_at: dt.datetime | None


def stuck(session: Session, tenant: Tenant) -> list[StuckCursor]:
    """The town's cursors whose last attempt failed, by consumer name."""
    consumers = catalog().consumers
    rows = session.scalars(
        select(FeedCursor)
        .where(FeedCursor.lg_code == tenant.lg_code, FeedCursor.last_error.is_not(None))
        .order_by(FeedCursor.consumer)
    )
    return [
        StuckCursor(
            consumer=row.consumer,
            feed=consumers[row.consumer].feed if row.consumer in consumers else "",
            position=row.position,
            attempts=row.attempts,
            last_error=row.last_error or "",
            next_attempt_at=as_utc(row.next_attempt_at),
        )
        for row in rows
    ]


def _dispatch_interval(settings: Settings) -> float:
    # Nothing consumes a feed in this installation: no job, no once-a-second pass over every town.
    return settings.feed_dispatch_interval if catalog().consumers else 0.0


def _run_dispatch(context: JobContext) -> None:
    dispatch(context.engine)


DISPATCH_JOB = JobSpec(
    name="feeds.dispatch",
    description="変更フィードを購読者に配信する (購読者・団体ごとのカーソル、失敗時は間隔を空けて再試行)",
    interval=_dispatch_interval,
    run=_run_dispatch,
    # Delivery follows a commit by about a second; a worker that crashed mid-dispatch must not stop it for
    # the default minute. Racing dispatchers are harmless: each cursor moves by a conditional update in the
    # consumer's own transaction, so a change is applied exactly once whoever delivers it.
    lease=5.0,
)

__all__ = [
    "BACKOFF_CAP",
    "BATCH",
    "DISPATCH_JOB",
    "DispatchReport",
    "FeedCursor",
    "StuckCursor",
    "backoff",
    "dispatch",
    "stuck",
]
