"""JSON API of DV等支援措置 under ``/api/v1/municipalities/{lg_code}/…`` (certificates: certificate_api.py).

No business logic lives here: each route resolves the tenant and calls one service with the caller's
audit identity and rights.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import Engine

from jichitai.modules.registry.paths import API
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.support import services
from jichitai.modules.registry.support.responses import (
    SupportMeasureListOut,
    SupportMeasureOut,
    measure_out,
    page_out,
)
from jichitai.modules.registry.support.schemas import ATENA, ConfirmIn, EndIn, ExtendIn, SupportMeasureIn
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix=API)

MAX_INT = 2**31 - 1
SUPPORT: list[str | Enum] = ["支援措置"]

Manager = Annotated[Principal, Depends(require(Permission.SUPPORT_MANAGE))]
MeasureNo = Annotated[int, Path(ge=1, le=MAX_INT, description="支援措置の番号")]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


@router.post(
    "/support-measures",
    response_model=SupportMeasureOut,
    status_code=201,
    tags=SUPPORT,
    summary="支援措置の登録 (仮支援措置・支援措置)",
)
def post_support_measure(
    lg_code: str, request: Request, body: SupportMeasureIn, principal: Manager
) -> SupportMeasureOut:
    """Record a 支援措置の申出 for a person (a 除票 person too); the block applies from ``starts_on``."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        measure = services.start_support_measure(uow, tenant, body, actor=principal.as_actor())
        return measure_out(measure, today_jst())


@router.get("/support-measures", response_model=SupportMeasureListOut, tags=SUPPORT, summary="支援措置の一覧")
def list_support_measures(
    lg_code: str,
    request: Request,
    principal: Manager,
    atena_no: Annotated[str | None, Query(pattern=ATENA, description="支援対象者の宛名番号")] = None,
    alerts: Annotated[
        bool, Query(description="期間終了の1か月前から期間満了後1か月までの措置 (アラート) だけ")
    ] = False,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SupportMeasureListOut:
    """Measures by number, or the alerts by end date; every measure shown is an audited read."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        result = services.list_support_measures(
            uow,
            tenant,
            actor=principal.as_actor(),
            atena_no=atena_no,
            alerts=alerts,
            page=page,
            per_page=per_page,
        )
        return page_out(result, today_jst())


@router.get(
    "/support-measures/{measure_no}", response_model=SupportMeasureOut, tags=SUPPORT, summary="支援措置の照会"
)
def get_support_measure(
    lg_code: str, measure_no: MeasureNo, request: Request, principal: Manager
) -> SupportMeasureOut:
    """One measure with its state today."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        measure = services.get_support_measure(uow, tenant, measure_no, actor=principal.as_actor())
        return measure_out(measure, today_jst())


@router.post(
    "/support-measures/{measure_no}/confirm",
    response_model=SupportMeasureOut,
    tags=SUPPORT,
    summary="仮支援措置の確認 (本措置へ)",
)
def confirm_support_measure(
    lg_code: str, measure_no: MeasureNo, request: Request, body: ConfirmIn, principal: Manager
) -> SupportMeasureOut:
    """The need is confirmed and the applicant told: the one-year term counts from ``confirmed_on``."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        measure = services.confirm_support_measure(uow, tenant, measure_no, body, actor=principal.as_actor())
        return measure_out(measure, today_jst())


@router.post(
    "/support-measures/{measure_no}/extend",
    response_model=SupportMeasureOut,
    tags=SUPPORT,
    summary="支援措置の延長",
)
def extend_support_measure(
    lg_code: str, measure_no: MeasureNo, request: Request, body: ExtendIn, principal: Manager
) -> SupportMeasureOut:
    """Extend from one month before the end; after a lapse the new year starts today."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        measure = services.extend_support_measure(uow, tenant, measure_no, body, actor=principal.as_actor())
        return measure_out(measure, today_jst())


@router.post(
    "/support-measures/{measure_no}/end",
    response_model=SupportMeasureOut,
    tags=SUPPORT,
    summary="支援措置の終了",
)
def end_support_measure(
    lg_code: str, measure_no: MeasureNo, request: Request, body: EndIn, principal: Manager
) -> SupportMeasureOut:
    """End a measure; from ``ended_on`` requests are no longer blocked."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        measure = services.end_support_measure(uow, tenant, measure_no, body, actor=principal.as_actor())
        return measure_out(measure, today_jst())
