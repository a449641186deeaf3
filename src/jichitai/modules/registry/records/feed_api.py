"""The register's PULL change feed: ``GET /api/v1/municipalities/{lg_code}/registry/changes``.

Outside systems of the town (and modules that prefer to poll) read "the changes after N", page by page:
each answer gives ``next_after`` for the next call and the feed's ``head``, so a client knows when it has
caught up. Every person shown is audited (``registry:changes:read``); 個人番号 is never included.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from jichitai.modules.registry.paths import API
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.records.services.changes import read_changes
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix=API, tags=["住民記録"])

MAX_INT = 2**31 - 1
MAX_LIMIT = 500

Reader = Annotated[Principal, Depends(require(Permission.RESIDENT_READ))]


class ChangeOut(BaseModel):
    """One 異動 as a change of the feed."""

    position: int = Field(description="異動番号 (団体ごとに欠番なし)")
    kind: str = Field(description="異動の種類 (event_type)")
    body: dict[str, Any] = Field(description="異動の内容、変更された住民の異動後の記録、世帯の出入り")


class ChangesOut(BaseModel):
    """A page of changes."""

    items: list[ChangeOut]
    next_after: int = Field(description="次の要求の after に指定する値")
    head: int = Field(description="この団体の最新の異動番号")


@router.get("/changes", response_model=ChangesOut, summary="住民記録の変更フィード (PULL)")
def registry_changes(
    lg_code: str,
    request: Request,
    principal: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_INT, description="この異動番号より後の変更を返す")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="最大件数")] = 100,
) -> ChangesOut:
    """The changes after ``after``, oldest first; each person shown is one audit entry."""
    engine: Engine = request.app.state.engine
    with UnitOfWork(engine) as uow:
        tenant = get_tenant(uow.session, lg_code)
        page = read_changes(uow, tenant, after, limit, actor=principal.as_actor())
    return ChangesOut(
        items=[ChangeOut(position=c.position, kind=c.kind, body=c.body) for c in page.items],
        next_after=page.next_after,
        head=page.head,
    )
