"""Reads of the audit trail for auditors: filtered listings, night-time access and mass readers.

Every function takes the :class:`Tenant` and filters on ``lg_code`` like every other tenant read. Times are
instants: ``since``/``until`` are timezone-aware datetimes forming the half-open window ``[since, until)``;
:func:`parse_time_bound` turns what an auditor types (a JST calendar date, or a date-time with or without an
offset, read as JST when it has none) into such a bound. "Night" is judged on the Japanese clock (JST has no
summer time, so it is a fixed set of UTC hours).

"Who read this person?" is :func:`list_entries` with ``subject`` (宛名番号), optionally narrowed to one of
the personal-read actions the modules declare (``ActionSpec.personal_read``).

These functions only read; the caller records the audit entry of the auditor's own access (DESIGN §3.4).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Index, Integer, cast, distinct, extract, func, select
from sqlalchemy.orm import Session

from jichitai.platform.audit import AuditEntry
from jichitai.platform.clock import JST
from jichitai.platform.errors import InvalidInput
from jichitai.platform.modules import catalog
from jichitai.platform.tenancy import Tenant


def read_actions() -> list[str]:
    """The actions a read of a person's record is audited under (what :func:`mass_readers` counts)."""
    return sorted(code for code, spec in catalog().audit_actions.items() if spec.personal_read)


NIGHT_START = 22
NIGHT_END = 6
"""Default night: from 22:00 to 06:00 JST (the end hour is not included)."""

JST_OFFSET_HOURS = 9

EARLIEST, LATEST = 1900, 9998
"""Years a typed time bound may name (the last leaves room to add a day without overflowing)."""

RECORDED_AT_INDEX = Index("ix_audit_entry_recorded_at", AuditEntry.lg_code, AuditEntry.recorded_at)
"""Time windows (``since``/``until``, :func:`mass_readers`) range over this index (migration 0010)."""


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor asks for; every given criterion must match.

    ``action`` is a prefix (``<module>:`` matches every action of a module); the others are exact.
    ``night_only`` keeps entries recorded from ``night_start`` o'clock to before ``night_end`` o'clock JST
    (the window may wrap past midnight).
    """

    subject: str | None = None
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    night_only: bool = False
    night_start: int = NIGHT_START
    night_end: int = NIGHT_END

    def __post_init__(self) -> None:
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput("invalid_range", "開始日時は終了日時より前にしてください。", "since")
        for name, hour in (("night_start", self.night_start), ("night_end", self.night_end)):
            if not 0 <= hour <= 23:
                raise InvalidInput("invalid_range", "時は 0 から 23 で指定してください。", name)
        if self.night_only and self.night_start == self.night_end:
            raise InvalidInput("invalid_range", "夜間の開始時と終了時が同じです。", "night_end")

    def describe(self) -> dict[str, Any]:
        """The criteria that were given, JSON-ready (recorded in the auditor's own audit entry)."""
        described: dict[str, Any] = {}
        for name in ("subject", "actor", "action", "outcome"):
            value = getattr(self, name)
            if value is not None:
                described[name] = value
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                described[name] = value.astimezone(dt.UTC).isoformat()
        if self.night_only:
            described["night"] = [self.night_start, self.night_end]
        return described


@dataclass
class EntryPage:
    """One page of entries, newest first; ``has_next`` avoids counting a chain of millions."""

    items: list[AuditEntry] = field(default_factory=list)
    page: int = 1
    per_page: int = 50
    has_next: bool = False


@dataclass(frozen=True)
class MassReader:
    """An actor who read many records in a window: reads counted, and how many different people."""

    actor: str
    reads: int
    subjects: int


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware instant in UTC, as the column stores it (SQLite keeps the UTC wall clock without offset)."""
    return value.astimezone(dt.UTC)


def recorded_utc(entry: AuditEntry) -> dt.datetime:
    """When the entry was recorded, aware (SQLite reads the stored UTC time back naive)."""
    recorded = entry.recorded_at
    return recorded.replace(tzinfo=dt.UTC) if recorded.tzinfo is None else recorded.astimezone(dt.UTC)


_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_time_bound(value: str, *, end: bool, field_name: str) -> dt.datetime:
    """An instant (in UTC) from a bound an auditor typed.

    ``2026-12-01`` is that JST calendar day: as a start (``since``) its first instant, as an end (``until``)
    the first instant of the next day, so ``since=until=2026-12-01`` covers the whole day. A date-time with
    an offset (``2026-12-01T22:00:00+09:00``, ``…Z``) is taken as given; one without is read as JST.
    """
    text = value.strip()
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day, dt.time(), tzinfo=JST)
            moment += dt.timedelta(days=1) if end else dt.timedelta()
        else:
            moment = dt.datetime.fromisoformat(text)
            moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=JST)
        moment = moment.astimezone(dt.UTC)
    except ValueError as exc:
        raise InvalidInput(
            "invalid_format",
            "日付 (2026-12-01) または日時 (2026-12-01T22:00:00+09:00) で指定してください。",
            field_name,
        ) from exc
    except OverflowError:  # past the year 9999 once the day is added or the offset applied
        moment = dt.datetime.max.replace(tzinfo=dt.UTC)
    if not EARLIEST <= moment.year <= LATEST:
        raise InvalidInput(
            "invalid_range", f"{EARLIEST}年から{LATEST}年の範囲で指定してください。", field_name
        )
    return moment


def _utc_hour(session: Session) -> ColumnElement[int]:
    """The UTC hour of ``recorded_at`` as an integer expression on this engine."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(extract("hour", func.timezone("UTC", AuditEntry.recorded_at)), Integer)
    return cast(func.strftime("%H", AuditEntry.recorded_at), Integer)


def night_utc_hours(start: int, end: int) -> list[int]:
    """The UTC hours that fall in the JST night ``[start, end)`` (wrapping past midnight when start > end)."""
    jst_hours = range(start, end) if start < end else [*range(start, 24), *range(end)]
    return sorted((hour - JST_OFFSET_HOURS) % 24 for hour in jst_hours)


def _conditions(session: Session, tenant: Tenant, criteria: AuditFilter) -> list[ColumnElement[bool]]:
    entry = AuditEntry
    conditions: list[ColumnElement[bool]] = [entry.lg_code == tenant.lg_code]
    if criteria.subject is not None:
        conditions.append(entry.subject == criteria.subject)
    if criteria.actor is not None:
        conditions.append(entry.actor == criteria.actor)
    if criteria.action is not None:
        conditions.append(entry.action.startswith(criteria.action, autoescape=True))
    if criteria.outcome is not None:
        conditions.append(entry.outcome == criteria.outcome)
    if criteria.since is not None:
        conditions.append(entry.recorded_at >= as_utc(criteria.since))
    if criteria.until is not None:
        conditions.append(entry.recorded_at < as_utc(criteria.until))
    if criteria.night_only:
        hours = night_utc_hours(criteria.night_start, criteria.night_end)
        conditions.append(_utc_hour(session).in_(hours))
    return conditions


def list_entries(
    session: Session, tenant: Tenant, criteria: AuditFilter, *, page: int = 1, per_page: int = 50
) -> EntryPage:
    """The tenant's entries matching ``criteria``, newest (highest sequence number) first, one page."""
    rows = list(
        session.scalars(
            select(AuditEntry)
            .where(*_conditions(session, tenant, criteria))
            .order_by(AuditEntry.seq.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return EntryPage(items=rows[:per_page], page=page, per_page=per_page, has_next=len(rows) > per_page)


def mass_readers(
    session: Session, tenant: Tenant, since: dt.datetime, until: dt.datetime, threshold: int
) -> list[MassReader]:
    """Actors with at least ``threshold`` successful record reads in ``[since, until)``, most reads first.

    A read is an entry of one of :func:`read_actions` with outcome ``ok``; ``subjects`` counts the different
    people read, which tells a clerk working a queue (many people, once each) from someone paging through one
    person's history.
    """
    if since >= until:
        raise InvalidInput("invalid_range", "開始日時は終了日時より前にしてください。", "since")
    conditions = [
        AuditEntry.lg_code == tenant.lg_code,
        AuditEntry.action.in_(read_actions()),
        AuditEntry.outcome == "ok",
        AuditEntry.recorded_at >= as_utc(since),
        AuditEntry.recorded_at < as_utc(until),
    ]
    reads = func.count().label("reads")
    rows = session.execute(
        select(AuditEntry.actor, reads, func.count(distinct(AuditEntry.subject)))
        .where(*conditions)
        .group_by(AuditEntry.actor)
        .having(func.count() >= threshold)
        .order_by(reads.desc(), AuditEntry.actor)
    )
    return [MassReader(actor, count, subjects) for actor, count, subjects in rows]
