"""JSON API of the register under ``/api/v1/municipalities/{lg_code}/…``. No business logic lives here."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jichitai.modules.registry.paths import API
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.records import queries, schemas
from jichitai.modules.registry.records.responses import (
    EventListOut,
    EventOut,
    HouseholdOut,
    ResidentOut,
    SearchOut,
    event_out,
    record_out,
)
from jichitai.modules.registry.records.services import reads
from jichitai.modules.registry.records.services.record import record_event
from jichitai.platform.calendar import load_eras
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import InvalidInput
from jichitai.platform.jp import Era, JpValueError, parse_date
from jichitai.platform.tenancy import Tenant, get_municipality, get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix=API, tags=["住民記録"])

MAX_INT = 2**31 - 1
"""Largest number a stored counter can hold on both engines."""

Reader = Annotated[Principal, Depends(require(Permission.RESIDENT_READ))]
Recorder = Annotated[Principal, Depends(require(Permission.EVENT_RECORD))]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _town(session: Session, tenant: Tenant) -> str:
    municipality = get_municipality(session, tenant.lg_code)
    return f"{municipality.prefecture}{municipality.name}"


def _birth_date(value: str | None, eras: tuple[Era, ...]) -> dt.date | None:
    if not value:
        return None
    try:
        return parse_date(value, eras)
    except JpValueError as exc:
        raise InvalidInput(exc.code, exc.message, "birth_date") from exc


@router.get("/residents", response_model=SearchOut, summary="住民の検索")
def search_residents(
    lg_code: str,
    request: Request,
    principal: Reader,
    kana: Annotated[
        str | None, Query(max_length=100, description="フリガナ (清濁・小書き・長音を区別しない)")
    ] = None,
    name: Annotated[str | None, Query(max_length=100, description="漢字氏名")] = None,
    birth_date: Annotated[str | None, Query(max_length=30, description="生年月日 (西暦または和暦)")] = None,
    address: Annotated[str | None, Query(max_length=200, description="住所 (町字から)")] = None,
    juminhyo_code: Annotated[str | None, Query(pattern=r"^[0-9]{11}$")] = None,
    atena_no: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    status: queries.StatusFilter = queries.StatusFilter.RESIDENT,
    match: queries.MatchMode = queries.MatchMode.PREFIX,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchOut:
    """Search by kana, kanji name, birth date, address, 住民票コード or 宛名番号; 除票 with ``status``.

    Every person shown counts as read: one audit entry each, plus one for the search itself.
    """
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        criteria = queries.SearchCriteria(
            kana=kana or None,
            name=name or None,
            birth_date=_birth_date(birth_date, eras),
            address=address or None,
            juminhyo_code=juminhyo_code,
            atena_no=atena_no,
            status=status,
            match=match,
        )
        if criteria == queries.SearchCriteria(status=status, match=match):
            raise InvalidInput("no_criteria", "検索条件を1つ以上指定してください。")
        town = _town(session, tenant)
        result = reads.search_residents(
            uow, tenant, criteria, page=page, per_page=per_page, actor=principal.as_actor()
        )
        return SearchOut(
            items=[
                record_out(r, town, eras, reveal_my_number=principal.may_see_my_number) for r in result.items
            ],
            page=result.page,
            per_page=result.per_page,
            has_next=result.has_next,
        )


@router.get("/residents/{atena_no}", response_model=ResidentOut, summary="住民の照会 (全履歴)")
def get_resident(lg_code: str, atena_no: str, request: Request, principal: Reader) -> ResidentOut:
    """The person with the current record, every 履歴 snapshot and the events that changed them."""
    reveal = principal.may_see_my_number
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        town = _town(session, tenant)
        records = queries.history(session, tenant, atena_no)
        history = [record_out(r, town, eras, reveal_my_number=reveal) for r in records]
        out = ResidentOut(
            atena_no=atena_no,
            current=history[records.index(queries.current_of(records))],
            history=history,
            events=[
                event_out(e, eras, reveal_my_number=reveal)
                for e in queries.person_events(session, tenant, atena_no)
            ],
        )
        reads.note_reads(uow, tenant, [atena_no], actor=principal.as_actor(), details={"via": "detail"})
        return out


@router.get("/households/{household_no}", response_model=HouseholdOut, summary="世帯の照会")
def get_household(lg_code: str, household_no: str, request: Request, principal: Reader) -> HouseholdOut:
    """Current members in the 世帯連記式 certificate order."""
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        queries.get_household(session, tenant, household_no)
        eras = load_eras(session)
        town = _town(session, tenant)
        members = queries.household_members(session, tenant, household_no)
        out = HouseholdOut(
            household_no=household_no,
            head_name=members[0].head_name if members else None,
            address=members[0].full_address(town) if members else None,
            members=[
                record_out(m, town, eras, reveal_my_number=principal.may_see_my_number) for m in members
            ],
        )
        facts = {"via": "household", "household_no": household_no}
        reads.note_reads(
            uow, tenant, [m.atena_no for m in members], actor=principal.as_actor(), details=facts
        )
        return out


@router.post("/events", response_model=EventOut, status_code=201, summary="異動の記録")
def post_event(
    lg_code: str,
    request: Request,
    body: Annotated[schemas.EventBody, Body(discriminator="type")],
    principal: Recorder,
) -> EventOut:
    """Record one 異動; the body's ``type`` selects its shape. Refusals write nothing."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        recorded = record_event(uow, tenant, body, actor=principal.as_actor())
        return event_out(
            recorded.event,
            load_eras(uow.session),
            recorded.persons,
            reveal_my_number=principal.may_see_my_number,
        )


@router.get("/events", response_model=EventListOut, summary="異動の一覧")
def list_events(
    lg_code: str,
    request: Request,
    principal: Reader,
    event_type: Annotated[str | None, Query(max_length=40)] = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EventListOut:
    """Events newest first, filtered by type and 処理日 (the listing is audited with the events shown)."""
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        events, has_next = queries.list_events(
            session, tenant, event_type=event_type, since=since, until=until, page=page, per_page=per_page
        )
        out = EventListOut(
            items=[event_out(e, eras, reveal_my_number=principal.may_see_my_number) for e in events],
            page=page,
            per_page=per_page,
            has_next=has_next,
        )
        reads.note_event_listing(uow, tenant, [e.event_no for e in events], actor=principal.as_actor())
        return out


@router.get("/events/{event_no}", response_model=EventOut, summary="異動の照会")
def get_event(
    lg_code: str, event_no: Annotated[int, Path(ge=1, le=MAX_INT)], request: Request, principal: Reader
) -> EventOut:
    """One event with the person rows it changed (a read of each of those persons)."""
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        event = queries.get_event(session, tenant, event_no)
        persons = queries.event_persons(session, tenant, event_no)
        out = event_out(event, load_eras(session), persons, reveal_my_number=principal.may_see_my_number)
        facts = {"via": "event", "event_no": event_no}
        reads.note_reads(
            uow, tenant, [p.atena_no for p in persons], actor=principal.as_actor(), details=facts
        )
        return out
