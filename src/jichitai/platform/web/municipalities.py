"""JSON API for tenants: list, get and register municipalities."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.jp.text import StoredText
from jichitai.platform.tenancy import (
    ALL_TOWNS,
    Municipality,
    Tenant,
    create_municipality,
    get_municipality,
    get_tenant,
    list_municipalities,
    settings_on,
)
from jichitai.platform.web.auth import Identity, operator

router = APIRouter(prefix="/api/v1/municipalities", tags=["市区町村"])


class MunicipalityIn(BaseModel):
    """A municipality to register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lg_code: str = Field(description="全国地方公共団体コード (6桁、検査数字付き)")
    name: StoredText = Field(min_length=1, max_length=50, description="名称 (例: 大槌町)")
    name_kana: StoredText = Field(min_length=1, max_length=100)
    prefecture: StoredText = Field(min_length=2, max_length=10, description="都道府県名 (例: 岩手県)")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="市区町村ごとの設定 (首長名、手数料など)"
    )
    effective_from: dt.date | None = Field(default=None, description="設定の適用開始日")


class MunicipalityOut(BaseModel):
    """A municipality with the settings in force today."""

    lg_code: str
    name: str
    name_kana: str
    prefecture: str
    settings: dict[str, Any]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _out(m: Municipality, settings: dict[str, Any]) -> MunicipalityOut:
    return MunicipalityOut(
        lg_code=m.lg_code, name=m.name, name_kana=m.name_kana, prefecture=m.prefecture, settings=settings
    )


@router.get("", response_model=list[MunicipalityOut], summary="市区町村の一覧")
def list_all(request: Request) -> list[MunicipalityOut]:
    """Every municipality sharing the installation."""
    # The public settings of every town (names, fees): installation-wide by design.
    with read_session(_engine(request), tenant=ALL_TOWNS) as session:
        today = today_jst()
        return [_out(m, settings_on(session, Tenant(m.lg_code), today)) for m in list_municipalities(session)]


@router.get("/{lg_code}", response_model=MunicipalityOut, summary="市区町村の照会")
def get_one(lg_code: str, request: Request) -> MunicipalityOut:
    """One municipality with its settings in force today."""
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return _out(get_municipality(session, lg_code), settings_on(session, tenant, today_jst()))


@router.post("", response_model=MunicipalityOut, status_code=201, summary="市区町村の登録")
def create(
    request: Request,
    body: Annotated[MunicipalityIn, Body()],
    identity: Annotated[Identity, Depends(operator)],
) -> MunicipalityOut:
    """Register a municipality as a new tenant (operators of the installation only)."""
    with UnitOfWork(_engine(request)) as uow:
        municipality = create_municipality(
            uow,
            lg_code=body.lg_code,
            name=body.name,
            name_kana=body.name_kana,
            prefecture=body.prefecture,
            settings=body.settings,
            effective_from=body.effective_from,
            actor=identity.actor,
        )
    with read_session(_engine(request), tenant=municipality.lg_code) as session:
        return _out(municipality, settings_on(session, Tenant(municipality.lg_code), today_jst()))
