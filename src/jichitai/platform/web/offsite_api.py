"""The off-site copy as a town's administrator sees it: ``GET …/offsite/status`` (``admin:user:manage``).

Lists the town's custodians, how many journal entries each lacks, whether the unreachable-custodian
alert is raised (``JICHITAI_OFFSITE_ALERT_AFTER``) and whether restore drills from it are current
(``JICHITAI_OFFSITE_DRILL_MAX_AGE``). Holds no personal data, so reading it is not audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from jichitai.platform.clock import JST
from jichitai.platform.db import read_session
from jichitai.platform.names import Permission
from jichitai.platform.offsite.shipper import status
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix="/api/v1/municipalities/{lg_code}/offsite", tags=["副本"])

Admin = Annotated[Principal, Depends(require(Permission.ADMIN_USER_MANAGE))]


class CustodianOut(BaseModel):
    """One custodian of the town's off-site copy."""

    location: str
    journal_seq: int = Field(description="この団体のジャーナルの最終番号")
    shipped_seq: int = Field(description="保管先に届いた最終番号")
    unshipped: int = Field(description="未送付の件数 (RPO)")
    shipped_at: dt.datetime | None
    last_error: str | None
    alert: bool = Field(description="保管先が閾値を超えて到達不能")
    last_drill_at: dt.datetime | None = Field(description="最後の復元訓練")
    last_good_drill_at: dt.datetime | None = Field(description="最後に成功した復元訓練")
    drill_error: str | None = Field(description="最後の復元訓練が失敗した理由")
    drill_alert: bool = Field(description="復元訓練が期限切れまたは失敗")


class OffsiteStatusOut(BaseModel):
    """The town's custodians; ``alert`` when any of them is unreachable or its drills are overdue/failed."""

    alert: bool
    custodians: list[CustodianOut]


@router.get("/status", response_model=OffsiteStatusOut, summary="副本の送付状況")
def offsite_status(lg_code: str, request: Request, _admin: Admin) -> OffsiteStatusOut:
    """Each custodian's lag and the unreachable-custodian alert."""
    engine: Engine = request.app.state.engine
    with read_session(engine) as session:
        tenant = get_tenant(session, lg_code)
    after = dt.timedelta(seconds=request.app.state.offsite_alert_after)
    max_age = dt.timedelta(seconds=request.app.state.offsite_drill_max_age)
    rows = status(engine, alert_after=after, lg_code=tenant.lg_code, drill_max_age=max_age)
    items = [
        CustodianOut(
            location=r.location,
            journal_seq=r.journal_seq,
            shipped_seq=r.shipped_seq,
            unshipped=r.unshipped,
            shipped_at=r.shipped_at,
            last_error=r.last_error,
            alert=r.alert,
            last_drill_at=r.drill.last_at if r.drill else None,
            last_good_drill_at=r.drill.last_ok_at if r.drill else None,
            drill_error=r.drill.last_error if r.drill else None,
            drill_alert=r.drill_alert,
        )
        for r in rows
    ]
    return OffsiteStatusOut(alert=any(i.alert or i.drill_alert for i in items), custodians=items)


def alert_messages(request: Request, lg_code: str) -> list[str]:
    """What the town's administrator should be told on the home screen (Japanese, one line each)."""
    engine: Engine = request.app.state.engine
    rows = status(
        engine,
        alert_after=dt.timedelta(seconds=request.app.state.offsite_alert_after),
        lg_code=lg_code,
        drill_max_age=dt.timedelta(seconds=request.app.state.offsite_drill_max_age),
    )
    if not rows:
        return ["副本の保管先が登録されていません。運用担当に登録を依頼してください。"]
    messages = []
    for row in rows:
        if row.alert:
            since = row.shipped_at.astimezone(JST).strftime("%Y-%m-%d %H:%M") if row.shipped_at else "未送付"
            messages.append(
                f"保管先 {row.location} に {row.unshipped} 件の変更が届いていません (最終送付 {since})。"
            )
        if row.drill_alert:
            reason = (
                f"直近の訓練が失敗: {row.drill.last_error}"
                if row.drill and row.drill.last_error
                else "期限切れ"
            )
            messages.append(f"保管先 {row.location} からの復元訓練が必要です ({reason})。")
    return messages
