"""Tenants, dated settings and per-tenant numbering on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import Conflict, InvalidInput, NotFound
from jichitai.platform.tenancy import (
    MunicipalitySetting,
    Tenant,
    create_municipality,
    get_tenant,
    next_numbers,
    settings_on,
)


def add(engine: Engine, code: str, **extra: object) -> None:
    with UnitOfWork(engine) as uow:
        create_municipality(
            uow,
            lg_code=code,
            name="大槌町",
            name_kana="オオツチチョウ",
            prefecture="岩手県",
            actor="test",
            **extra,
        )  # type: ignore[arg-type]


def test_check_digit_is_validated(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as info:
        add(engine, "034615")
    assert (info.value.code, info.value.field) == ("invalid_check_digit", "lg_code")
    with pytest.raises(InvalidInput):
        add(engine, "03461")
    with read_session(engine) as session, pytest.raises(NotFound):
        get_tenant(session, "034615")


def test_duplicate_and_unknown_settings_are_refused(engine: Engine) -> None:
    add(engine, "034614")
    with pytest.raises(Conflict):
        add(engine, "034614")
    with pytest.raises(InvalidInput) as info:
        add(engine, "032107", settings={"colour": "blue"})
    assert info.value.code == "unknown_setting"


def test_settings_take_effect_on_their_date(engine: Engine) -> None:
    add(engine, "034614", settings={"mayor_name": "旧町長"}, effective_from=dt.date(2020, 4, 1))
    with UnitOfWork(engine) as uow:
        uow.session.add(
            MunicipalitySetting(
                lg_code="034614", key="mayor_name", effective_from=dt.date(2024, 5, 1), value="新町長"
            )
        )
        uow.commit()
    with read_session(engine) as session:
        tenant = Tenant("034614")
        assert settings_on(session, tenant, dt.date(2019, 1, 1)) == {}
        assert settings_on(session, tenant, dt.date(2024, 4, 30)) == {"mayor_name": "旧町長"}
        assert settings_on(session, tenant, dt.date(2024, 5, 1)) == {"mayor_name": "新町長"}


def test_numbers_are_per_tenant_and_rolled_back_with_the_transaction(engine: Engine) -> None:
    add(engine, "034614")
    add(engine, "032107")
    a, b = Tenant("034614"), Tenant("032107")
    with UnitOfWork(engine) as uow:
        assert list(next_numbers(uow.session, a, "event", 3)) == [1, 2, 3]
        assert list(next_numbers(uow.session, b, "event")) == [1]
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert list(next_numbers(uow.session, a, "event")) == [4]
        # no commit: rolled back
    with UnitOfWork(engine) as uow:
        assert list(next_numbers(uow.session, a, "event")) == [4]
