"""The transactional outbox: messages written in the use case's own transaction, delivered after commit.

A use case that must make something happen elsewhere (notify another module, send to another town, call
the national network) does not do it inline: it :func:`publish`-es a message in the same transaction as
its domain rows and audit entries (DESIGN §2, §3.3). The message exists if and only if the use case
committed. Messages are numbered gap-free per town (``next_numbers(…, "outbox")``), and since the number
is taken under the counter's row lock, they commit in number order: a reader that has seen message N has
seen every message before it.

The outbox is offered to consumers as the change feed ``platform.outbox`` (each change's ``kind`` is the
message's topic); :mod:`jichitai.platform.feeds` delivers it, each consumer with its own cursor. The table
is part of the town's off-site copy, so undelivered messages survive a restore.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import LG_CODE, Base, utcnow
from jichitai.platform.modules import Change, FeedSpec
from jichitai.platform.tenancy import Tenant, next_numbers

FEED = "platform.outbox"
TOPIC_MAX = 80


class OutboxMessage(Base):
    """One message published by a committed use case of one town."""

    __tablename__ = "platform_outbox"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    message_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    topic: Mapped[str] = mapped_column(String(TOPIC_MAX))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


def publish(session: Session, tenant: Tenant, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    """Add a message to the caller's transaction (never commits: it stands or falls with the use case).

    ``payload`` must be JSON-safe; a payload that is not is refused here (TypeError/ValueError), before
    anything is written, rather than at commit.
    """
    if not topic or len(topic) > TOPIC_MAX:
        raise ValueError(f"an outbox topic must have 1 to {TOPIC_MAX} characters: {topic!r}")
    json.dumps(payload, ensure_ascii=False, allow_nan=False)
    (number,) = next_numbers(session, tenant, "outbox")
    message = OutboxMessage(lg_code=tenant.lg_code, message_no=number, topic=topic, payload=payload)
    session.add(message)
    session.flush()
    return message


def read(session: Session, tenant: Tenant, after: int, limit: int) -> list[Change]:
    """The town's messages after ``after``, oldest first, as changes of the ``platform.outbox`` feed."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.lg_code == tenant.lg_code, OutboxMessage.message_no > after)
        .order_by(OutboxMessage.message_no)
        .limit(limit)
    )
    return [Change(position=m.message_no, kind=m.topic, body=dict(m.payload)) for m in rows]


def head(session: Session, tenant: Tenant) -> int:
    """The town's last message number (0 before the first)."""
    last = session.scalar(
        select(func.max(OutboxMessage.message_no)).where(OutboxMessage.lg_code == tenant.lg_code)
    )
    return int(last or 0)


OUTBOX_FEED = FeedSpec(
    name=FEED,
    description=(
        "共通基盤のアウトボックス (業務処理と同じトランザクションで記録されたメッセージ)。kind はトピック"
    ),
    read=read,
    head=head,
)

__all__ = ["FEED", "OUTBOX_FEED", "OutboxMessage", "head", "publish", "read"]
