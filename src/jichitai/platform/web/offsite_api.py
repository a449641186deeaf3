"""The off-site copy as a town's administrator sees it: ``GET …/offsite/status`` (``admin:user:manage``).

Lists the town's custodians, how many journal entries each lacks and whether the unreachable-custodian
alert is raised (``JICHITAI_OFFSITE_ALERT_AFTER``). Holds no personal data, so reading it is not audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from jichitai.platform.db import read_session
from jichitai.platform.offsite.shipper import status
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix="/api/v1/municipalities/{lg_code}/offsite", tags=["副本"])

Admin = Annotated[Principal, Depends(require("admin:user:manage"))]


class CustodianOut(BaseModel):
    """One custodian of the town's off-site copy."""

    location: str
    journal_seq: int = Field(description="この団体のジャーナルの最終番号")
    shipped_seq: int = Field(description="保管先に届いた最終番号")
    unshipped: int = Field(description="未送付の件数 (RPO)")
    shipped_at: dt.datetime | None
    last_error: str | None
    alert: bool = Field(description="保管先が閾値を超えて到達不能")


class OffsiteStatusOut(BaseModel):
    """The town's custodians; ``alert`` when any of them raises it."""

    alert: bool
    custodians: list[CustodianOut]


@router.get("/status", response_model=OffsiteStatusOut, summary="副本の送付状況")
def offsite_status(lg_code: str, request: Request, _admin: Admin) -> OffsiteStatusOut:
    """Each custodian's lag and the unreachable-custodian alert."""
    engine: Engine = request.app.state.engine
    with read_session(engine) as session:
        tenant = get_tenant(session, lg_code)
    after = dt.timedelta(seconds=request.app.state.offsite_alert_after)
    rows = status(engine, alert_after=after, lg_code=tenant.lg_code)
    items = [
        CustodianOut(
            location=r.location,
            journal_seq=r.journal_seq,
            shipped_seq=r.shipped_seq,
            unshipped=r.unshipped,
            shipped_at=r.shipped_at,
            last_error=r.last_error,
            alert=r.alert,
        )
        for r in rows
    ]
    return OffsiteStatusOut(alert=any(i.alert for i in items), custodians=items)
