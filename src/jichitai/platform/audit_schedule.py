"""Periodic signing of the audit chains' heads, so a rewrite can only hide the last few entries.

A signed head protects every entry up to it (:mod:`jichitai.platform.audit_heads`); what was written after
the last head is protected only by the chain and its counter. :func:`sign_due_heads` therefore signs a new
head for each town whose chain has advanced by ``every_entries`` since its last head, or at all when that
head is older than ``max_age`` (so a quiet town is still signed regularly). The server runs it as the
periodic job ``audit.sign`` (:mod:`jichitai.platform.periodic`; settings ``audit_sign_interval`` and
``audit_sign_every``); ``jichitai audit sign --every N`` runs it once from cron.

The job's lease keeps server workers from signing at the same time; a cron run may still race one: then the
loser's insert fails on the primary key and is skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jichitai.platform.audit import AuditEntry
from jichitai.platform.audit_heads import AuditChainHead, load_or_create_key, sign_head
from jichitai.platform.db import UnitOfWork, read_session, utcnow
from jichitai.platform.tenancy import Tenant, get_tenant, list_municipalities

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


def chain_position(session: Session, tenant: Tenant) -> ChainPosition:
    """The town's last entry number and last signed head (two primary-key lookups)."""
    last = session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.lg_code == tenant.lg_code))
    head = session.scalars(
        select(AuditChainHead)
        .where(AuditChainHead.lg_code == tenant.lg_code)
        .order_by(AuditChainHead.seq.desc())
        .limit(1)
    ).first()
    if head is None:
        return ChainPosition(last or 0, 0, None)
    signed_at = head.signed_at if head.signed_at.tzinfo else head.signed_at.replace(tzinfo=dt.UTC)
    return ChainPosition(last or 0, head.seq, signed_at)


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


def sign_due_heads(
    engine: Engine,
    key_dir: Path,
    *,
    every_entries: int,
    max_age: dt.timedelta | None = DEFAULT_MAX_AGE,
    lg_codes: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> list[AuditChainHead]:
    """Sign a head for every town (or those of ``lg_codes``) that is due; one transaction per town.

    ``max_age=None`` signs on the entry count alone. Returns the heads signed, in town order.
    """
    if every_entries < 1:
        raise ValueError("every_entries must be at least 1")
    moment = now or utcnow()
    with read_session(engine) as session:
        codes = list(lg_codes) if lg_codes else [m.lg_code for m in list_municipalities(session)]
        due = [
            code
            for code in codes
            if is_due(chain_position(session, get_tenant(session, code)), every_entries, max_age, moment)
        ]
    signed = []
    for code in due:
        try:
            with UnitOfWork(engine) as uow:
                tenant = get_tenant(uow.session, code)
                head = sign_head(uow.session, tenant, load_or_create_key(key_dir, code))
                uow.commit()
        except IntegrityError:
            log.info("audit head of %s already signed by another process", code)
            continue
        if head is not None:
            log.info("audit head signed", extra={"lg_code": code, "seq": head.seq})
            signed.append(head)
    return signed
