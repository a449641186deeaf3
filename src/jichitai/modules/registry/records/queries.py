"""Reads of the register: tenant-scoped lookups, search, history, household members, events.

Every function takes the :class:`Tenant` and filters on ``lg_code``; a row of another municipality is
reported exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, func, literal, not_, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from jichitai.modules.registry.records.models import (
    Event,
    EventPerson,
    Household,
    Person,
    PersonRecord,
    ResidentStatus,
    current_only,
)
from jichitai.modules.registry.records.rules import Member, certificate_order
from jichitai.modules.registry.records.snapshots import text_key
from jichitai.platform.errors import NotFound
from jichitai.platform.jp import search_key
from jichitai.platform.tenancy import Tenant

_TOP = chr(0x10FFFF)


class StatusFilter(enum.StrEnum):
    """Which records a search covers: current residents (default), 除票 only, or both."""

    RESIDENT = "resident"
    REMOVED = "removed"
    ALL = "all"


class MatchMode(enum.StrEnum):
    """完全一致, 前方一致 (default) or 部分一致."""

    EXACT = "exact"
    PREFIX = "prefix"
    PARTIAL = "partial"


@dataclass(frozen=True)
class SearchCriteria:
    """What the counter typed; every given criterion must match."""

    kana: str | None = None
    name: str | None = None
    birth_date: dt.date | None = None
    address: str | None = None
    juminhyo_code: str | None = None
    atena_no: str | None = None
    status: StatusFilter = StatusFilter.RESIDENT
    match: MatchMode = MatchMode.PREFIX


@dataclass
class Page:
    """One page of results; ``has_next`` avoids counting millions of rows."""

    items: list[PersonRecord] = field(default_factory=list)
    page: int = 1
    per_page: int = 20
    has_next: bool = False


def _match(column: InstrumentedAttribute[str], key: str, mode: MatchMode) -> ColumnElement[bool]:
    if mode is MatchMode.EXACT:
        return column == key
    if mode is MatchMode.PREFIX:
        # A range instead of LIKE: code-point order on both engines, so the b-tree index serves it.
        return and_(column >= key, column < key + _TOP)
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def _filters(tenant: Tenant, criteria: SearchCriteria) -> list[ColumnElement[bool]]:
    """Every criterion except kana, as conditions on the current snapshots."""
    rec = PersonRecord
    filters = [rec.lg_code == tenant.lg_code, current_only()]
    if criteria.status is StatusFilter.RESIDENT:
        filters.append(rec.status == ResidentStatus.RESIDENT)
    elif criteria.status is StatusFilter.REMOVED:
        filters.append(rec.status != ResidentStatus.RESIDENT)
    if criteria.name:
        filters.append(_match(rec.name_key, text_key(criteria.name), criteria.match))
    if criteria.address:
        mode = MatchMode.PARTIAL if criteria.match is MatchMode.PARTIAL else MatchMode.PREFIX
        filters.append(_match(rec.address_key, text_key(criteria.address), mode))
    if criteria.birth_date:
        filters.append(rec.birth_date == criteria.birth_date)
    if criteria.juminhyo_code:
        filters.append(rec.juminhyo_code == criteria.juminhyo_code)
    if criteria.atena_no:
        filters.append(rec.atena_no == criteria.atena_no)
    return filters


def search_statement(
    tenant: Tenant, criteria: SearchCriteria, *, offset: int, limit: int
) -> Select[PersonRecord]:
    """The search as one statement, shaped so that each branch is read in the order of its own index.

    Kana matches the full-name key (the 氏/名 gap ignored) first, then — 名-only search (j330) — the
    given-name key of people not already matched. An ``OR`` of the two would defeat both indexes, so they are
    two branches, each cut to the rows the page can need, joined with ``UNION ALL``; results list full-name
    matches before given-name matches, each by key and 宛名番号 as its index stores them.
    """
    rec = PersonRecord
    filters = _filters(tenant, criteria)
    if not criteria.kana:
        return select(rec).where(*filters).order_by(rec.atena_no).offset(offset).limit(limit)
    key = search_key(criteria.kana)
    family = _match(rec.kana_key, key, criteria.match)
    given = _match(rec.given_kana_key, key, criteria.match)
    bound = offset + limit
    first = (
        select(rec, literal(0).label("branch"), rec.kana_key.label("sort_key"))
        .where(*filters, family)
        .order_by(rec.kana_key, rec.atena_no)
        .limit(bound)
        .subquery()
    )
    second = (
        select(rec, literal(1).label("branch"), rec.given_kana_key.label("sort_key"))
        .where(*filters, given, not_(family))
        .order_by(rec.given_kana_key, rec.atena_no)
        .limit(bound)
        .subquery()
    )
    both = union_all(select(first), select(second)).subquery()
    hit = aliased(PersonRecord, both)
    return select(hit).order_by(both.c.branch, both.c.sort_key, both.c.atena_no).offset(offset).limit(limit)


def search_residents(
    session: Session, tenant: Tenant, criteria: SearchCriteria, *, page: int = 1, per_page: int = 20
) -> Page:
    """Search current records (除票 on request), paged."""
    stmt = search_statement(tenant, criteria, offset=(page - 1) * per_page, limit=per_page + 1)
    rows = list(session.scalars(stmt))
    return Page(items=rows[:per_page], page=page, per_page=per_page, has_next=len(rows) > per_page)


def get_person(session: Session, tenant: Tenant, atena_no: str) -> Person:
    """The person with this 宛名番号 in this municipality, or NotFound."""
    person = session.get(Person, (tenant.lg_code, atena_no))
    if person is None:
        raise NotFound("住民")
    return person


def current_record(session: Session, tenant: Tenant, atena_no: str) -> PersonRecord:
    """The newest snapshot of the person."""
    person = get_person(session, tenant, atena_no)
    record = session.get(PersonRecord, (tenant.lg_code, atena_no, person.current_history_no))
    if record is None:  # pragma: no cover - guarded by the foreign keys
        raise NotFound("住民")
    return record


def history(session: Session, tenant: Tenant, atena_no: str) -> list[PersonRecord]:
    """Every snapshot of the person, oldest first."""
    get_person(session, tenant, atena_no)
    stmt = (
        select(PersonRecord)
        .where(PersonRecord.lg_code == tenant.lg_code, PersonRecord.atena_no == atena_no)
        .order_by(PersonRecord.history_no)
    )
    return list(session.scalars(stmt))


def get_household(session: Session, tenant: Tenant, household_no: str) -> Household:
    """The household with this 世帯番号, or NotFound."""
    household = session.get(Household, (tenant.lg_code, household_no))
    if household is None:
        raise NotFound("世帯")
    return household


def household_members(session: Session, tenant: Tenant, household_no: str) -> list[PersonRecord]:
    """Current resident members in the 世帯連記式 certificate order (j1010)."""
    stmt = select(PersonRecord).where(
        PersonRecord.lg_code == tenant.lg_code,
        PersonRecord.household_no == household_no,
        current_only(),
        PersonRecord.status == ResidentStatus.RESIDENT,
    )
    records = {r.atena_no: r for r in session.scalars(stmt)}
    ordered = certificate_order(Member(r.atena_no, r.relationship, r.birth_date) for r in records.values())
    return [records[m.atena_no] for m in ordered]


def get_event(session: Session, tenant: Tenant, event_no: int) -> Event:
    """The event with this number, or NotFound."""
    event = session.get(Event, (tenant.lg_code, event_no))
    if event is None:
        raise NotFound("異動")
    return event


def event_persons(session: Session, tenant: Tenant, event_no: int) -> list[EventPerson]:
    """The person rows an event changed."""
    stmt = (
        select(EventPerson)
        .where(EventPerson.lg_code == tenant.lg_code, EventPerson.event_no == event_no)
        .order_by(EventPerson.atena_no)
    )
    return list(session.scalars(stmt))


def person_events(session: Session, tenant: Tenant, atena_no: str) -> list[Event]:
    """Events that changed the person, oldest first."""
    stmt = (
        select(Event)
        .join(EventPerson, and_(EventPerson.lg_code == Event.lg_code, EventPerson.event_no == Event.event_no))
        .where(Event.lg_code == tenant.lg_code, EventPerson.atena_no == atena_no)
        .order_by(Event.event_no)
    )
    return list(session.scalars(stmt))


def cancelling_event(session: Session, tenant: Tenant, event_no: int) -> Event | None:
    """The 取消し of an event, if it was cancelled."""
    stmt = select(Event).where(Event.lg_code == tenant.lg_code, Event.cancels_event_no == event_no)
    return session.scalars(stmt).first()


def list_events(
    session: Session,
    tenant: Tenant,
    *,
    event_type: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Sequence[Event], bool]:
    """Events newest first, optionally filtered by type and 処理日; returns (events, has_next)."""
    stmt = select(Event).where(Event.lg_code == tenant.lg_code)
    if event_type:
        stmt = stmt.where(Event.event_type == event_type)
    if since:
        stmt = stmt.where(Event.processed_on >= since)
    if until:
        stmt = stmt.where(Event.processed_on <= until)
    stmt = stmt.order_by(Event.event_no.desc()).offset((page - 1) * per_page).limit(per_page + 1)
    rows = list(session.scalars(stmt))
    return rows[:per_page], len(rows) > per_page


def count_residents(session: Session, tenant: Tenant) -> int:
    """Current residents of the municipality."""
    stmt = select(func.count()).where(
        PersonRecord.lg_code == tenant.lg_code,
        current_only(),
        PersonRecord.status == ResidentStatus.RESIDENT,
    )
    return int(session.scalar(stmt) or 0)


def persons_of_events(session: Session, tenant: Tenant, event_nos: Sequence[int]) -> list[str]:
    """The 宛名番号 of every person the events changed, each once, in number order."""
    return list(
        session.scalars(
            select(EventPerson.atena_no)
            .where(EventPerson.lg_code == tenant.lg_code, EventPerson.event_no.in_(list(event_nos)))
            .distinct()
            .order_by(EventPerson.atena_no)
        )
    )
