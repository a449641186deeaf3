"""Feed delivery as a town's administrator sees it: ``GET …/feeds/stuck`` (``admin:user:manage``).

A consumer whose next change keeps failing holds back every later change of the town for it (delivery is
in order), so the administrator must see it: which consumer, where it stands, how often it failed, the last
error and when it is tried again. Holds no personal data (positions and error texts), so it is not audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from jichitai.platform.db import read_session
from jichitai.platform.feeds import stuck
from jichitai.platform.names import Permission
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix="/api/v1/municipalities/{lg_code}/feeds", tags=["変更フィード"])

Admin = Annotated[Principal, Depends(require(Permission.ADMIN_USER_MANAGE))]


class StuckOut(BaseModel):
    """One consumer held up in the town."""

    consumer: str = Field(description="購読者の名前")
    feed: str = Field(description="購読しているフィード")
    position: int = Field(description="取り込み済みの最終位置 (次の変更で失敗している)")
    attempts: int = Field(description="失敗した回数")
    last_error: str = Field(description="最後の失敗の理由")
    next_attempt_at: dt.datetime | None = Field(description="次に再試行する時刻")


class StuckListOut(BaseModel):
    """The town's held-up consumers (empty when every delivery is going through)."""

    items: list[StuckOut]


@router.get("/stuck", response_model=StuckListOut, summary="配信が止まっている購読者")
def stuck_consumers(lg_code: str, request: Request, _admin: Admin) -> StuckListOut:
    """Consumers whose next change failed, with the error and the time of the next attempt."""
    engine: Engine = request.app.state.engine
    with read_session(engine) as session:
        rows = stuck(session, get_tenant(session, lg_code))
    return StuckListOut(
        items=[
            StuckOut(
                consumer=r.consumer,
                feed=r.feed,
                position=r.position,
                attempts=r.attempts,
                last_error=r.last_error,
                next_attempt_at=r.next_attempt_at,
            )
            for r in rows
        ]
    )
