"""Tenants, dated settings and per-tenant numbering on both engines."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select

from jichitai.platform.audit import AuditEntry
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import Conflict, InvalidInput, NotFound
from jichitai.platform.modules import catalog
from jichitai.platform.tenancy import (
    MunicipalitySetting,
    Tenant,
    create_municipality,
    get_tenant,
    next_numbers,
    set_setting,
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
        set_setting(uow, Tenant("034614"), "mayor_name", "新町長", dt.date(2024, 5, 1), actor="test")
    defaults = {k: s.default for k, s in catalog().settings.items() if s.default is not None}
    with read_session(engine) as session:
        tenant = Tenant("034614")
        assert settings_on(session, tenant, dt.date(2019, 1, 1)) == defaults
        assert settings_on(session, tenant, dt.date(2024, 4, 30)) == {**defaults, "mayor_name": "旧町長"}
        assert settings_on(session, tenant, dt.date(2024, 5, 1)) == {**defaults, "mayor_name": "新町長"}


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("fee_juminhyo", -1, "invalid_setting"),
        ("fee_juminhyo", "300", "invalid_setting"),
        ("fee_juminhyo", 300.5, "invalid_setting"),
        ("fee_juminhyo", True, "invalid_setting"),
        ("fee_joshuhyo", 100_001, "invalid_setting"),
        ("mayor_name", "", "invalid_setting"),
        ("mayor_name", "　" * 3 + " ", "invalid_setting"),
        ("mayor_name", 5, "invalid_setting"),
        ("mayor_title", "長" * 21, "invalid_setting"),
        ("colour", "blue", "unknown_setting"),
    ],
)
def test_a_setting_its_spec_refuses_changes_nothing(
    engine: Engine, key: str, value: object, code: str
) -> None:
    add(engine, "034614")
    with UnitOfWork(engine) as uow, pytest.raises(InvalidInput) as info:
        set_setting(uow, Tenant("034614"), key, value, dt.date(2025, 4, 1), actor="test")
    assert info.value.code == code
    with pytest.raises(InvalidInput):
        add(engine, "032107", settings={key: value})
    with read_session(engine) as session:
        assert session.scalars(select(MunicipalitySetting)).all() == []
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1  # the creation only


def test_a_valid_setting_is_dated_and_audited(engine: Engine) -> None:
    add(engine, "034614")
    with UnitOfWork(engine) as uow:
        set_setting(uow, Tenant("034614"), "fee_juminhyo", 0, dt.date(2025, 4, 1), actor="test")
    with UnitOfWork(engine) as uow:
        set_setting(uow, Tenant("034614"), "fee_juminhyo", 350, dt.date(2026, 4, 1), actor="test")
    with read_session(engine) as session:
        assert settings_on(session, Tenant("034614"), dt.date(2026, 3, 31))["fee_juminhyo"] == 0
        assert settings_on(session, Tenant("034614"), dt.date(2026, 4, 1))["fee_juminhyo"] == 350
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "platform:setting:update").order_by(AuditEntry.seq)
        ).all()
        assert [(e.details["before"], e.details["after"]) for e in entries] == [(None, 0), (0, 350)]


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
