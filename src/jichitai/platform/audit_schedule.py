"""Periodic signing of the audit chains' heads, so a rewrite can only hide the last few entries.

A signed head protects every entry up to it (:mod:`jichitai.platform.audit_heads`); what was written after
the last head is protected only by the chain and its counter. :func:`sign_due_heads` therefore signs a new
head for each town whose chain has advanced by ``every_entries`` since its last head, or at all when that
head is older than ``max_age`` (so a quiet town is still signed regularly). The server runs it as the
periodic job ``audit.sign`` (:mod:`jichitai.platform.periodic`; settings ``audit_sign_interval`` and
``audit_sign_every``); ``jichitai audit sign --every N`` runs it once from cron.

The job's lease keeps server workers from signing at the same time; a cron run may still race one: then the
loser's insert fails on the primary key and is skipped.

A pass costs the same few statements however many towns are idle: one installation-wide query
(:func:`chain_positions`) finds every town's last entry and newest head at once, and only the due towns are
then worked on, each in its own transaction declared for that town.

The schedule is also what verification holds a chain to (:func:`first_overdue`): an entry left unsigned
for longer than the schedule allows means the signer stopped, or newer heads were deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from jichitai.platform.audit import AuditEntry
from jichitai.platform.audit_heads import AuditChainHead, SigningRefused, sign_town
from jichitai.platform.db import as_utc, read_session, utcnow
from jichitai.platform.tenancy import ALL_TOWNS, Municipality, Tenant

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = dt.timedelta(hours=1)
"""A chain that has advanced at all gets a new head once its last one is this old."""


@dataclass(frozen=True)
class ChainPosition:
    """Where a town's chain stands: its last entry, and its last signed head (seq and time) if any."""

    last_seq: int
    head_seq: int
    head_signed_at: dt.datetime | None

    @property
    def unsigned(self) -> int:
        """Entries written since the last signed head."""
        return self.last_seq - self.head_seq


def is_due(
    position: ChainPosition, every_entries: int, max_age: dt.timedelta | None, now: dt.datetime
) -> bool:
    """Whether a new head should be signed: enough new entries, or any new entry and an old (or no) head."""
    if position.unsigned <= 0:
        return False
    if position.unsigned >= every_entries:
        return True
    if max_age is None:
        return False
    return position.head_signed_at is None or now - position.head_signed_at >= max_age


def chain_positions(session: Session, lg_codes: Sequence[str] | None = None) -> dict[str, ChainPosition]:
    """Every town's (or those of ``lg_codes``) chain position, in ONE statement whatever the number of towns.

    Per town, correlated subqueries take the last entry and the newest head by their primary keys (an index
    probe each, never a scan of the chain). The caller declares the transaction installation-wide
    (:data:`~jichitai.platform.tenancy.ALL_TOWNS`), or for the one town it names.
    """
    entry = aliased(AuditEntry)
    head = aliased(AuditChainHead)
    town = Municipality.lg_code
    last = select(entry.seq).where(entry.lg_code == town).order_by(entry.seq.desc()).limit(1)
    newest = select(head.seq, head.signed_at).where(head.lg_code == town).order_by(head.seq.desc()).limit(1)
    query = select(
        town,
        last.scalar_subquery(),
        newest.with_only_columns(head.seq).scalar_subquery(),
        newest.with_only_columns(head.signed_at).scalar_subquery(),
    ).order_by(town)
    if lg_codes is not None:
        query = query.where(town.in_(list(lg_codes)))
    return {
        code: ChainPosition(last_seq or 0, head_seq or 0, as_utc(signed_at) if head_seq else None)
        for code, last_seq, head_seq, signed_at in session.execute(query)
    }


def sign_due_heads(
    engine: Engine,
    key_dir: Path,
    *,
    every_entries: int,
    max_age: dt.timedelta | None = DEFAULT_MAX_AGE,
    lg_codes: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> list[AuditChainHead]:
    """Sign a head for every town (or those of ``lg_codes``) that is due; one transaction per due town.

    ``max_age=None`` signs on the entry count alone. Returns the heads signed, in town order. A town whose
    evidence is damaged is not signed (:func:`~jichitai.platform.audit_heads.signing_refusal`); the others
    are, and then :class:`SigningIncomplete` is raised, so that the job fails visibly until someone looks.
    Which towns are due is one installation-wide query (:func:`chain_positions`): an idle pass costs the
    same whatever the number of towns.
    """
    if every_entries < 1:
        raise ValueError("every_entries must be at least 1")
    moment = now or utcnow()
    with read_session(engine, tenant=ALL_TOWNS) as session:
        positions = chain_positions(session, lg_codes or None)
    due = [code for code, position in positions.items() if is_due(position, every_entries, max_age, moment)]
    signed = []
    refused = []
    for code in due:
        try:
            head = sign_town(engine, code, key_dir)
        except IntegrityError:
            log.info("audit head of %s already signed by another process", code)
            continue
        except SigningRefused as exc:
            refused.append(exc)
            continue
        if head is not None:
            log.info("audit head signed", extra={"lg_code": code, "seq": head.seq})
            signed.append(head)
    if refused:
        raise SigningIncomplete(signed, refused)
    return signed


class SigningIncomplete(Exception):
    """Some towns were not signed because their evidence is damaged; ``signed`` holds the heads that were."""

    def __init__(self, signed: list[AuditChainHead], refused: list[SigningRefused]) -> None:
        super().__init__("audit heads not signed: " + "; ".join(str(r) for r in refused))
        self.signed = signed
        self.refused = refused


STALE_GRACE = dt.timedelta(minutes=10)
"""Slack beyond two signing intervals before an unsigned entry counts as overdue (a slow pass, a restart)."""


@dataclass(frozen=True)
class Schedule:
    """How often heads are signed: the server's pass ``interval``, ``every_entries`` and ``max_age``."""

    interval: dt.timedelta
    every_entries: int
    max_age: dt.timedelta = DEFAULT_MAX_AGE


def _recorded_at(session: Session, tenant: Tenant, seq: int) -> dt.datetime | None:
    return as_utc(
        session.scalar(
            select(AuditEntry.recorded_at).where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.seq == seq)
        )
    )


def first_overdue(
    session: Session, tenant: Tenant, head_seq: int, schedule: Schedule, now: dt.datetime
) -> int | None:
    """The first entry after the head at ``head_seq`` when the schedule would have signed past it by now.

    A pass signs once ``every_entries`` are unsigned, or any once the head is ``max_age`` old, so an entry
    stays unsigned at most ``max_age`` plus a pass; the entry that completed ``every_entries`` at most a
    pass. Two passes and :data:`STALE_GRACE` are allowed on top. Two primary-key lookups, no walk.
    """
    slack = 2 * schedule.interval + STALE_GRACE
    first = _recorded_at(session, tenant, head_seq + 1)
    if first is None:
        return None
    if now - first > schedule.max_age + slack:
        return head_seq + 1
    completing = _recorded_at(session, tenant, head_seq + schedule.every_entries)
    if completing is not None and now - completing > slack:
        return head_seq + 1
    return None
