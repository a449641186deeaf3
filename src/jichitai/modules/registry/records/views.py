"""The counter screens of the register under ``/ui/{lg_code}/registry/…``: start, search, person, household.

Like the JSON API (:mod:`.api`), every page resolves the tenant, reads through :mod:`.queries`, shapes with
:mod:`.responses` and records each person shown through :mod:`.services.reads`; no business logic lives here.
The 異動 forms are in :mod:`.event_views`, certificates in :mod:`..certificates.views`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jichitai.modules.registry import under_support_measure
from jichitai.modules.registry.paths import UI
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.event_views import EVENT_FORMS
from jichitai.modules.registry.records.models import ResidentStatus
from jichitai.modules.registry.records.responses import event_out, record_out
from jichitai.modules.registry.records.services import reads
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork
from jichitai.platform.jp import Era, JpValueError, format_wareki, parse_date
from jichitai.platform.tenancy import Tenant, get_municipality, get_tenant
from jichitai.platform.web.auth import Principal
from jichitai.platform.web.pages import page_access
from jichitai.platform.web.templating import render

router = APIRouter(prefix=UI, include_in_schema=False)

Reader = Annotated[Principal, Depends(page_access(Permission.RESIDENT_READ))]
Signed = Annotated[Principal, Depends(page_access(None))]
PER_PAGE = 20
SearchText = Annotated[str, Query(max_length=100)]


def engine_of(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def town_of(session: Session, tenant: Tenant) -> str:
    """``岩手県大槌町``: what addresses are printed with."""
    municipality = get_municipality(session, tenant.lg_code)
    return f"{municipality.prefecture}{municipality.name}"


def wareki(eras: tuple[Era, ...]) -> Callable[[dt.date | None], str]:
    """A template helper printing a plain date in 和暦 (blank for none)."""
    return lambda value: "" if value is None else format_wareki(value, eras)


def abilities(principal: Principal) -> dict[str, bool]:
    """Which actions the page may offer (the routes check again)."""
    return {
        "can_read": principal.has(Permission.RESIDENT_READ),
        "can_record": principal.has(Permission.EVENT_RECORD),
        "can_issue": principal.has(Permission.CERTIFICATE_ISSUE),
    }


@router.get("/")
def home(request: Request, lg_code: str, principal: Signed) -> Response:
    """The register's start page: the search box first, then the forms that start from no person.

    Staff whose roles read no resident (管理者, 監査) get a page saying where their work is instead of a 403.
    """
    return render(
        request,
        "registry/home.html",
        {"lg": lg_code, "values": {}, "errors": {}, "forms": EVENT_FORMS, **abilities(principal)},
    )


def _criteria(
    values: dict[str, str], status: queries.StatusFilter, match: queries.MatchMode, eras: tuple[Era, ...]
) -> tuple[queries.SearchCriteria | None, dict[str, str]]:
    """The search the counter typed (None when nothing was typed), or the input errors."""
    birth = None
    if values["birth_date"]:
        try:
            birth = parse_date(values["birth_date"], eras)
        except JpValueError as exc:
            return None, {"birth_date": exc.message}
    criteria = queries.SearchCriteria(
        kana=values["kana"] or None,
        name=values["name"] or None,
        birth_date=birth,
        address=values["address"] or None,
        juminhyo_code=values["juminhyo_code"] or None,
        atena_no=values["atena_no"] or None,
        status=status,
        match=match,
    )
    if criteria == queries.SearchCriteria(status=status, match=match):
        return None, {}
    return criteria, {}


@router.get("/search")
def search(
    request: Request,
    lg_code: str,
    principal: Reader,
    kana: SearchText = "",
    name: SearchText = "",
    birth_date: Annotated[str, Query(max_length=30)] = "",
    address: Annotated[str, Query(max_length=200)] = "",
    juminhyo_code: Annotated[str, Query(max_length=11)] = "",
    atena_no: Annotated[str, Query(max_length=10)] = "",
    status: queries.StatusFilter = queries.StatusFilter.RESIDENT,
    match: queries.MatchMode = queries.MatchMode.PREFIX,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
) -> Response:
    """Search by kana, kanji, 生年月日 (和暦 or 西暦), address, 住民票コード or 宛名番号; 除票 on request.

    Every person listed is an audited read, exactly as in the API.
    """
    values = {
        "kana": kana.strip(),
        "name": name.strip(),
        "birth_date": birth_date.strip(),
        "address": address.strip(),
        "juminhyo_code": juminhyo_code.strip(),
        "atena_no": atena_no.strip(),
    }
    context: dict[str, Any] = {
        "lg": lg_code,
        "values": {**values, "status": status.value, "match": match.value},
    }
    with UnitOfWork(engine_of(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        criteria, errors = _criteria(values, status, match, eras)
        context["errors"] = errors
        if criteria is not None:
            town = town_of(session, tenant)
            result = reads.search_residents(
                uow, tenant, criteria, page=page, per_page=PER_PAGE, actor=principal.as_actor()
            )
            reveal = principal.may_see_my_number
            context["results"] = [record_out(r, town, eras, reveal_my_number=reveal) for r in result.items]
            context["page"] = result.page
            context["has_next"] = result.has_next
            query = {**values, "status": status.value, "match": match.value}
            context["page_url"] = lambda n: f"?{urlencode({**query, 'page': n})}"
    return render(request, "registry/search.html", context)


@router.get("/persons/{atena_no}")
def person(
    request: Request, lg_code: str, atena_no: str, principal: Reader, done: int | None = None
) -> Response:
    """One person: the current record in 和暦, the household in certificate order, every 履歴 and 異動."""
    reveal = principal.may_see_my_number
    with UnitOfWork(engine_of(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        town = town_of(session, tenant)
        snapshots = queries.history(session, tenant, atena_no)
        current = queries.current_of(snapshots)
        members = []
        if current.status is ResidentStatus.RESIDENT:
            members = queries.household_members(session, tenant, current.household_no)
        today = today_jst()
        protected = {m.atena_no for m in members if under_support_measure(session, tenant, m.atena_no, today)}
        if under_support_measure(session, tenant, atena_no, today):
            protected.add(atena_no)
        events = [
            event_out(e, eras, reveal_my_number=reveal)
            for e in queries.person_events(session, tenant, atena_no)
        ]
        context = {
            "lg": lg_code,
            "person": record_out(current, town, eras, reveal_my_number=reveal),
            "members": [record_out(m, town, eras, reveal_my_number=reveal) for m in members],
            "history": [record_out(r, town, eras, reveal_my_number=reveal) for r in reversed(snapshots)],
            "history_by_event": {r.event_no: r.history_no for r in snapshots},
            "events": list(reversed(events)),
            "cancelled": {e.cancels_event_no for e in events if e.cancels_event_no},
            "protected": protected,
            "done": next((e for e in events if e.event_no == done), None),
            "wareki": wareki(eras),
            **abilities(principal),
        }
        shown = [atena_no, *(m.atena_no for m in members if m.atena_no != atena_no)]
        reads.note_reads(uow, tenant, shown, actor=principal.as_actor(), details={"via": "person_page"})
    return render(request, "registry/person.html", context)


@router.get("/households/{household_no}")
def household(
    request: Request, lg_code: str, household_no: str, principal: Reader, done: int | None = None
) -> Response:
    """A household's current members in the 世帯連記式 order, with the actions that start from it."""
    reveal = principal.may_see_my_number
    with UnitOfWork(engine_of(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        queries.get_household(session, tenant, household_no)
        eras = load_eras(session)
        town = town_of(session, tenant)
        members = queries.household_members(session, tenant, household_no)
        today = today_jst()
        context = {
            "lg": lg_code,
            "household_no": household_no,
            "members": [record_out(m, town, eras, reveal_my_number=reveal) for m in members],
            "protected": {
                m.atena_no for m in members if under_support_measure(session, tenant, m.atena_no, today)
            },
            "done": done,
            **abilities(principal),
        }
        facts = {"via": "household_page", "household_no": household_no}
        reads.note_reads(
            uow, tenant, [m.atena_no for m in members], actor=principal.as_actor(), details=facts
        )
    return render(request, "registry/household.html", context)
