"""Restore drills on a schedule, and the alert when one is missed or fails (reliability R21).

A backup that was never restored is a hope, not a backup: every custodian of every town gets a full
restore into a scratch database at least every ``offsite_drill_interval`` seconds, run by the server's
periodic job ``offsite.drills`` (or ``jichitai offsite drill`` from a timer). A drill also compares the
restored town with the live one, table by table. Each drill is recorded; a custodian
whose last successful drill is older than ``offsite_drill_max_age`` raises the alert in
``jichitai offsite status`` and the town administrator's status page.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Boolean, Float, ForeignKeyConstraint, Integer, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import LG_CODE, Base, UnitOfWork, as_utc, utcnow
from jichitai.platform.offsite.custodian import Custodian
from jichitai.platform.offsite.envelope import ChunkCorrupt
from jichitai.platform.offsite.keys import KeyMissing, KeyStore
from jichitai.platform.offsite.restore import CopyIncomplete, DrillReport, RestoreRefused, drill
from jichitai.platform.tenancy import Tenant, next_numbers

log = logging.getLogger(__name__)


class OffsiteDrill(Base):
    """One restore drill of one town from one custodian."""

    __tablename__ = "offsite_drill"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    drill_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    location: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[dt.datetime] = mapped_column()
    ok: Mapped[bool] = mapped_column(Boolean)
    restored_seq: Mapped[int | None] = mapped_column(Integer)
    rpo_entries: Mapped[int | None] = mapped_column(Integer)
    rpo_seconds: Mapped[float | None] = mapped_column(Float)
    rto_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


def record(
    engine: Engine,
    lg_code: str,
    location: str,
    started_at: dt.datetime,
    result: DrillReport | None,
    error: str | None,
) -> OffsiteDrill:
    """Keep a drill's outcome (a failed drill has ``error`` and no figures)."""
    with UnitOfWork(engine, tenant=lg_code) as uow:
        tenant = Tenant(lg_code)
        row = OffsiteDrill(
            lg_code=lg_code,
            drill_no=next_numbers(uow.session, tenant, "offsite_drill")[0],
            location=location,
            started_at=started_at,
            ok=result is not None and error is None,
            error=error[:500] if error else None,
        )
        if result is not None:
            row.restored_seq = result.restore.journal_seq
            row.rpo_entries = result.rpo_entries
            row.rpo_seconds = result.rpo_seconds
            row.rto_seconds = result.rto_seconds
        uow.session.add(row)
        uow.commit()
        uow.session.expunge(row)  # handed back after the session ends: keep its loaded values
        return row


def run_drill(
    engine: Engine, keys: KeyStore, lg_code: str, location: str, custodian: Custodian
) -> OffsiteDrill:
    """Restore the town from ``custodian`` into a scratch database and record how it went."""
    started = utcnow()
    try:
        result = drill(engine, custodian, lg_code, dict([keys.town(lg_code)]))
    except (ChunkCorrupt, RestoreRefused, CopyIncomplete, KeyMissing, OSError) as exc:
        log.error("offsite restore drill failed", extra={"lg_code": lg_code, "error": str(exc)})
        return record(engine, lg_code, location, started, None, f"{type(exc).__name__}: {exc}")
    audit = result.restore.audit
    problem = None
    if audit is None or not audit.ok:
        problem = f"audit chain does not verify after restore ({audit.reason if audit else 'no verdict'})"
    elif not result.restore.heads_match:
        problem = "restored audit head differs from the head the custodian recorded"
    return record(engine, lg_code, location, started, result, problem)


def last_drills(
    session: Session, lg_code: str, location: str
) -> tuple[OffsiteDrill | None, OffsiteDrill | None]:
    """The newest drill and the newest successful drill of a town from one custodian."""
    query = (
        select(OffsiteDrill)
        .where(OffsiteDrill.lg_code == lg_code, OffsiteDrill.location == location)
        .order_by(OffsiteDrill.drill_no.desc())
        .limit(1)
    )
    newest = session.scalars(query).first()
    good = session.scalars(query.where(OffsiteDrill.ok.is_(True))).first()
    return newest, good


@dataclass(frozen=True)
class DrillState:
    """Whether a custodian's drills are current."""

    last_at: dt.datetime | None
    last_ok_at: dt.datetime | None
    last_error: str | None
    overdue: bool


def drill_state(
    session: Session, lg_code: str, location: str, since: dt.datetime, max_age: dt.timedelta
) -> DrillState:
    """Overdue when no drill succeeded within ``max_age`` (counted from ``since`` — the custodian's
    registration — for a custodian that never had one)."""
    newest, good = last_drills(session, lg_code, location)
    last_ok = as_utc(good.started_at) if good else None
    reference = last_ok or as_utc(since) or utcnow()
    return DrillState(
        as_utc(newest.started_at) if newest else None,
        last_ok,
        newest.error if newest is not None and not newest.ok else None,
        utcnow() - reference > max_age or (newest is not None and not newest.ok),
    )


def due(session: Session, lg_code: str, location: str, interval: dt.timedelta) -> bool:
    """True when the custodian's last drill (successful or not) is older than ``interval``."""
    newest, _ = last_drills(session, lg_code, location)
    started = as_utc(newest.started_at) if newest else None
    return started is None or utcnow() - started >= interval


def drills(session: Session, lg_code: str, limit: int = 20) -> list[OffsiteDrill]:
    """The town's latest drills, newest first (detached, so they outlive the read session)."""
    rows = list(
        session.scalars(
            select(OffsiteDrill)
            .where(OffsiteDrill.lg_code == lg_code)
            .order_by(OffsiteDrill.drill_no.desc())
            .limit(limit)
        )
    )
    for row in rows:
        session.expunge(row)
    return rows


__all__ = ["DrillState", "OffsiteDrill", "drill_state", "drills", "due", "run_drill"]
