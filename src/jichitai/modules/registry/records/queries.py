"""Reads of the register: tenant-scoped lookups, search, history, household members, events.

Every function takes the :class:`Tenant` and filters on ``lg_code``; a row of another municipality is
reported exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, literal, not_, select, union_all
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


def _match(column: InstrumentedAttribute[str], name: str, mode: MatchMode) -> ColumnElement[bool]:
    """``column`` against the bound parameter ``name`` (see :func:`_match_values` for its values)."""
    if mode is MatchMode.EXACT:
        return column == bindparam(name)
    if mode is MatchMode.PREFIX:
        # A range instead of LIKE: code-point order on both engines, so the b-tree index serves it.
        return and_(column >= bindparam(name), column < bindparam(f"{name}_top"))
    return column.like(bindparam(name), escape="\\")


def _match_values(name: str, key: str, mode: MatchMode) -> dict[str, str]:
    """The parameter values :func:`_match` binds for ``key``."""
    if mode is MatchMode.EXACT:
        return {name: key}
    if mode is MatchMode.PREFIX:
        return {name: key, f"{name}_top": key + _TOP}
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {name: f"%{escaped}%"}


@dataclass(frozen=True)
class _Shape:
    """What decides a search statement's SQL: which criteria are given and how they match, not their values.

    A counter's searches come in a handful of shapes, so each shape's statement is built once per process and
    executed with bound values; building the ``UNION ALL`` of two ORM subqueries anew was about half of a
    search request's CPU time.
    """

    status: StatusFilter
    name: MatchMode | None
    address: MatchMode | None
    birth_date: bool
    juminhyo_code: bool
    atena_no: bool
    kana: MatchMode | None


def _shape(criteria: SearchCriteria) -> _Shape:
    address = MatchMode.PARTIAL if criteria.match is MatchMode.PARTIAL else MatchMode.PREFIX
    return _Shape(
        status=criteria.status,
        name=criteria.match if criteria.name else None,
        address=address if criteria.address else None,
        birth_date=criteria.birth_date is not None,
        juminhyo_code=bool(criteria.juminhyo_code),
        atena_no=bool(criteria.atena_no),
        kana=criteria.match if criteria.kana else None,
    )


def _values(
    tenant: Tenant, criteria: SearchCriteria, shape: _Shape, offset: int, limit: int
) -> dict[str, Any]:
    """The bound values of one search, for its shape's statement."""
    values: dict[str, Any] = {"lg_code": tenant.lg_code, "offset": offset, "limit": limit}
    values["bound"] = offset + limit
    if shape.name is not None and criteria.name:
        values |= _match_values("name", text_key(criteria.name), shape.name)
    if shape.address is not None and criteria.address:
        values |= _match_values("address", text_key(criteria.address), shape.address)
    if shape.birth_date:
        values["birth_date"] = criteria.birth_date
    if shape.juminhyo_code:
        values["juminhyo_code"] = criteria.juminhyo_code
    if shape.atena_no:
        values["atena_no"] = criteria.atena_no
    if shape.kana is not None and criteria.kana:
        values |= _match_values("kana", search_key(criteria.kana), shape.kana)
    return values


def _filters(shape: _Shape) -> list[ColumnElement[bool]]:
    """Every criterion except kana, as conditions on the current snapshots."""
    rec = PersonRecord
    filters = [rec.lg_code == bindparam("lg_code"), current_only()]
    if shape.status is StatusFilter.RESIDENT:
        filters.append(rec.status == ResidentStatus.RESIDENT)
    elif shape.status is StatusFilter.REMOVED:
        filters.append(rec.status != ResidentStatus.RESIDENT)
    if shape.name is not None:
        filters.append(_match(rec.name_key, "name", shape.name))
    if shape.address is not None:
        filters.append(_match(rec.address_key, "address", shape.address))
    if shape.birth_date:
        filters.append(rec.birth_date == bindparam("birth_date"))
    if shape.juminhyo_code:
        filters.append(rec.juminhyo_code == bindparam("juminhyo_code"))
    if shape.atena_no:
        filters.append(rec.atena_no == bindparam("atena_no"))
    return filters


@functools.lru_cache(maxsize=256)
def _statement(shape: _Shape) -> Select[PersonRecord]:
    """The search as one statement, shaped so that each branch is read in the order of its own index.

    Kana matches the full-name key (the 氏/名 gap ignored) first, then — 名-only search (j330) — the
    given-name key of people not already matched. An ``OR`` of the two would defeat both indexes, so they are
    two branches, each cut to the rows the page can need, joined with ``UNION ALL``; results list full-name
    matches before given-name matches, each by key and 宛名番号 as its index stores them.
    """
    rec = PersonRecord
    filters = _filters(shape)
    offset, limit = bindparam("offset", type_=Integer), bindparam("limit", type_=Integer)
    if shape.kana is None:
        return select(rec).where(*filters).order_by(rec.atena_no).offset(offset).limit(limit)
    family = _match(rec.kana_key, "kana", shape.kana)
    given = _match(rec.given_kana_key, "kana", shape.kana)
    bound = bindparam("bound", type_=Integer)
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


def search_statement(
    tenant: Tenant, criteria: SearchCriteria, *, offset: int, limit: int
) -> tuple[Select[PersonRecord], dict[str, Any]]:
    """The statement for the criteria' shape (built once) and the values to execute it with."""
    shape = _shape(criteria)
    return _statement(shape), _values(tenant, criteria, shape, offset, limit)


def search_residents(
    session: Session, tenant: Tenant, criteria: SearchCriteria, *, page: int = 1, per_page: int = 20
) -> Page:
    """Search current records (除票 on request), paged."""
    stmt, values = search_statement(tenant, criteria, offset=(page - 1) * per_page, limit=per_page + 1)
    rows = list(session.scalars(stmt, values))
    return Page(items=rows[:per_page], page=page, per_page=per_page, has_next=len(rows) > per_page)


def get_person(session: Session, tenant: Tenant, atena_no: str) -> Person:
    """The person with this 宛名番号 in this municipality, or NotFound."""
    person = session.get(Person, (tenant.lg_code, atena_no))
    if person is None:
        raise NotFound("住民")
    return person


def current_record(session: Session, tenant: Tenant, atena_no: str) -> PersonRecord:
    """The newest snapshot of the person, in one read (the current-record index), or NotFound."""
    stmt = select(PersonRecord).where(
        PersonRecord.lg_code == tenant.lg_code, PersonRecord.atena_no == atena_no, current_only()
    )
    record = session.scalars(stmt).one_or_none()
    if record is None:
        raise NotFound("住民")
    return record


def history(session: Session, tenant: Tenant, atena_no: str) -> list[PersonRecord]:
    """Every snapshot of the person, oldest first (the current one has ``is_current``), or NotFound: a
    person has at least the snapshot that created them, so no separate read of the person is needed."""
    stmt = (
        select(PersonRecord)
        .where(PersonRecord.lg_code == tenant.lg_code, PersonRecord.atena_no == atena_no)
        .order_by(PersonRecord.history_no)
    )
    records = list(session.scalars(stmt))
    if not records:
        raise NotFound("住民")
    return records


def current_of(records: Sequence[PersonRecord]) -> PersonRecord:
    """The current snapshot among a person's :func:`history`."""
    return next(r for r in reversed(records) if r.is_current)


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
