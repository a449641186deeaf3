"""A test-only module that plugs into the platform through its declaration alone (no platform edit).

It brings a table, a route, a permission and a role fragment, a per-town setting, a consumer of the
registry's change feed and a periodic job: the worked example of docs/modules/adding-a-module.md. It keeps its
table on a metadata of its own, so the product's migrations never see it; tests create it.
"""

from __future__ import annotations

import enum
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Engine, Integer, MetaData, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from jichitai.platform.clock import today_jst
from jichitai.platform.db import LG_CODE, NAMING_CONVENTION, UnitOfWork, read_session
from jichitai.platform.modules import (
    Change,
    ConsumerSpec,
    JobContext,
    JobSpec,
    ModuleDeclaration,
    RoleFragment,
    SettingSpec,
    actions,
    described,
)
from jichitai.platform.tenancy import Tenant, get_tenant, next_numbers, settings_on
from jichitai.platform.web.auth import Principal, require


class ProbeBase(DeclarativeBase):
    """The probe's own metadata: not part of the product's migration history."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Seen(ProbeBase):
    """One registry change as the probe took it in (one row per delivery, so a repeat would show)."""

    __tablename__ = "probe_seen"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    seen_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))


class Permission(enum.StrEnum):
    """The probe's permission."""

    SEEN_READ = "probe:seen:read"


class Action(enum.StrEnum):
    """The probe's audit action."""

    SEEN_READ = "probe:seen:read"


def take_in(uow: UnitOfWork, tenant: Tenant, change: Change) -> None:
    """Consumer: remember the change (runs in the transaction that moves the cursor)."""
    number = next_numbers(uow.session, tenant, "probe_seen")[0]
    uow.session.add(Seen(lg_code=tenant.lg_code, seen_no=number, position=change.position, kind=change.kind))


TICKS: list[str] = []


def tick(context: JobContext) -> None:
    """Job: note that it ran (the scheduler decides when)."""
    TICKS.append(context.engine.url.drivername)


router = APIRouter(prefix="/api/v1/municipalities/{lg_code}/probe", tags=["probe"])


@router.get("/seen")
def seen(
    lg_code: str, request: Request, principal: Annotated[Principal, Depends(require(Permission.SEEN_READ))]
) -> dict[str, object]:
    """What the probe has taken in, and its setting in force today."""
    engine: Engine = request.app.state.engine
    with read_session(engine) as session:
        tenant = get_tenant(session, lg_code)
        count = session.scalar(select(func.count()).select_from(Seen).where(Seen.lg_code == tenant.lg_code))
        threshold = settings_on(session, tenant, today_jst())["probe_threshold"]
    return {"seen": count, "threshold": threshold, "by": principal.login_name}


MODULE = ModuleDeclaration(
    name="probe",
    title="試験用モジュール",
    tables=(Seen.__table__,),  # type: ignore[arg-type]
    routers=(router,),
    permissions=described(Permission, {Permission.SEEN_READ: "試験用の受信記録の閲覧"}),
    audit_actions=actions(Action, {Action.SEEN_READ: "試験用の受信記録の閲覧"}),
    roles=(RoleFragment("probe_reader", "試験閲覧", ("audit",), (Permission.SEEN_READ,)),),
    settings=(SettingSpec("probe_threshold", "試験用のしきい値 (0 以上)", kind=int, minimum=0, default=5),),
    consumers=(ConsumerSpec("probe.registry", "registry.changes", take_in),),
    jobs=(JobSpec("probe.tick", "試験用の定期処理", lambda settings: 0.05, tick),),
)
