"""Municipalities as tenants, their dated settings, and per-tenant numbering.

A municipality is identified by its 6-digit 全国地方公共団体コード (check digit validated). Every municipal
table puts ``lg_code`` first in its primary key; code reaches tenant rows only through functions that take a
:class:`Tenant`, and a row of another tenant answers exactly like a missing one (:class:`NotFound`).

Per-town differences (名称, 首長名, office address, fees) are rows of :class:`MunicipalitySetting` with an
effective date, never code branches: a new mayor is a new row from the day of taking office.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Connection, ForeignKey, String, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import LG_CODE, TENANT_SETTING, Base, UnitOfWork, bind_tenant, utcnow
from jichitai.platform.errors import Conflict, InvalidInput, NotFound
from jichitai.platform.jp import JpValueError, validate_lg_code
from jichitai.platform.modules import SettingSpec, catalog
from jichitai.platform.names import Action

if TYPE_CHECKING:
    from jichitai.platform.audit import Actor


class Municipality(Base):
    """A tenant: one municipality sharing the installation."""

    __tablename__ = "municipality"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    name_kana: Mapped[str] = mapped_column(String(100))
    prefecture: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MunicipalitySetting(Base):
    """A per-town parameter valid from ``effective_from`` until the next row of the same key."""

    __tablename__ = "municipality_setting"

    lg_code: Mapped[str] = mapped_column(LG_CODE, ForeignKey("municipality.lg_code"), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    effective_from: Mapped[dt.date] = mapped_column(primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class TenantSequence(Base):
    """Per-tenant counters (event numbers, 宛名番号, 世帯番号): gap-free within committed transactions."""

    __tablename__ = "tenant_sequence"

    lg_code: Mapped[str] = mapped_column(LG_CODE, ForeignKey("municipality.lg_code"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


@dataclass(frozen=True)
class Tenant:
    """The municipality a request acts for; obtained only through :func:`get_tenant`."""

    lg_code: str


PHONE_PATTERN = r"0(?=(?:-?[0-9]){9,10}$)[0-9]{1,4}-[0-9]{1,4}-[0-9]{3,4}"
"""A Japanese telephone number as printed: a leading 0, three hyphenated groups, 10 or 11 digits in all."""

PLATFORM_SETTINGS = (
    SettingSpec("mayor_title", "首長の職名 (例: 町長)。証明書に印字", max_length=20),
    SettingSpec("mayor_name", "首長の氏名。証明書に印字", max_length=60),
    SettingSpec("office_name", "役所・役場の名称", max_length=100),
    SettingSpec("office_address", "役所・役場の所在地", max_length=200),
    SettingSpec(
        "office_phone",
        "代表電話番号 (半角数字とハイフン)",
        max_length=20,
        pattern=PHONE_PATTERN,
        pattern_hint="半角数字をハイフンで区切った 10 桁または 11 桁の番号。例: 0193-42-2111",
    ),
)
"""The platform's own per-town settings; modules declare theirs (fees, amounts) in their declarations."""


def check_settings(values: dict[str, Any], field: str = "settings") -> None:
    """Refuse unknown keys and values a setting's spec does not accept, naming each (nothing is written)."""
    specs = catalog().settings
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise InvalidInput("unknown_setting", f"未知の設定項目です: {', '.join(unknown)}", field)
    problems = [p for key, value in values.items() if (p := specs[key].problem(value)) is not None]
    if problems:
        raise InvalidInput("invalid_setting", " ".join(problems), field)


def parse_lg_code(value: str, field: str = "lg_code") -> str:
    """Validate a 全国地方公共団体コード from the outside world."""
    try:
        return validate_lg_code(value)
    except JpValueError as exc:
        raise InvalidInput(exc.code, f"全国地方公共団体コード: {exc.message}", field) from exc


def get_municipality(session: Session, lg_code: str) -> Municipality:
    """The municipality with this code, or NotFound (also for a malformed code: it cannot exist)."""
    municipality = session.get(Municipality, lg_code)
    if municipality is None:
        raise NotFound("市区町村")
    return municipality


def get_tenant(session: Session, lg_code: str) -> Tenant:
    """Resolve a path parameter into a tenant; the only way business code obtains one.

    On PostgreSQL the transaction also declares the tenant, so row-level security (migration 0002) hides
    every other tenant's rows from the rest of this transaction even if a query forgot its filter.
    """
    tenant = Tenant(get_municipality(session, lg_code).lg_code)
    declare(session, tenant.lg_code)
    return tenant


ALL_TOWNS = "*"
"""The declaration of deliberate installation-wide work: jobs over every town, the operator's listings."""


def declare(session: Session | Connection, lg_code: str) -> None:
    """Declare the transaction's tenant for row-level security (PostgreSQL; nothing to do on SQLite).

    The policy (migration 0016) fails closed: a transaction that declared nothing sees and writes no town
    row. ``lg_code`` is one town's code, or :data:`ALL_TOWNS` for work that spans the installation, declared
    where that work begins, so that a forgotten declaration shows as an empty answer, never as a leak.
    """
    if isinstance(session, Connection):
        if session.dialect.name == "postgresql":
            session.execute(select(func.set_config(TENANT_SETTING, lg_code, True)))
        return
    bind_tenant(session, lg_code)


def declare_all_towns(session: Session | Connection) -> None:
    """Declare installation-wide work (see :func:`declare`)."""
    declare(session, ALL_TOWNS)


def town(session: Session, lg_code: str) -> Tenant:
    """The tenant ``lg_code`` declared for this transaction, without looking the town up.

    For code that already knows the town exists (a job going through the town list, a row that names its
    town); request paths use :func:`get_tenant`, which also refuses an unknown code.
    """
    declare(session, lg_code)
    return Tenant(lg_code)


def list_municipalities(session: Session) -> list[Municipality]:
    """All tenants, by code."""
    return list(session.scalars(select(Municipality).order_by(Municipality.lg_code)))


def settings_on(session: Session, tenant: Tenant, on: dt.date) -> dict[str, Any]:
    """Every setting of the tenant in force on ``on`` (latest effective_from not after it), over the national
    defaults of the declared settings."""
    defaults = {key: spec.default for key, spec in catalog().settings.items() if spec.default is not None}
    rows = session.scalars(
        select(MunicipalitySetting)
        .where(MunicipalitySetting.lg_code == tenant.lg_code, MunicipalitySetting.effective_from <= on)
        .order_by(MunicipalitySetting.key, MunicipalitySetting.effective_from)
    )
    return {**defaults, **{row.key: row.value for row in rows}}


def next_numbers(session: Session | Connection, tenant: Tenant, name: str, count: int = 1) -> range:
    """Reserve ``count`` consecutive numbers of a per-tenant counter inside the caller's transaction.

    One upsert both creates the counter on first use and takes its row lock, so concurrent writers of one
    tenant serialise here and numbers never repeat; a rolled-back transaction gives its numbers back. Since
    the lock is held until the commit, numbers taken this way are also committed in number order (what the
    change feeds rely on to be gap-free and in order).
    """
    bind = session if isinstance(session, Connection) else session.get_bind()
    dialect = bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    upsert = (
        insert(TenantSequence)
        .values(lg_code=tenant.lg_code, name=name, last_value=count)
        .on_conflict_do_update(
            index_elements=[TenantSequence.lg_code, TenantSequence.name],
            set_={"last_value": TenantSequence.last_value + count},
        )
        .returning(TenantSequence.last_value)
    )
    last = session.execute(upsert).scalar_one()
    return range(last - count + 1, last + 1)


def create_municipality(
    uow: UnitOfWork,
    *,
    lg_code: str,
    name: str,
    name_kana: str,
    prefecture: str,
    settings: dict[str, Any] | None = None,
    effective_from: dt.date | None = None,
    actor: str,
) -> Municipality:
    """Register a new tenant with its initial settings (one transaction)."""
    code = parse_lg_code(lg_code)
    session = uow.session
    if session.get(Municipality, code) is not None:
        raise Conflict(
            "municipality_exists", "この全国地方公共団体コードの市区町村は既に登録されています。", "lg_code"
        )
    for field, value in (("name", name), ("name_kana", name_kana), ("prefecture", prefecture)):
        if not value or not value.strip():
            raise InvalidInput("required", "必須項目です。", field)
    check_settings(settings or {})
    municipality = Municipality(
        lg_code=code, name=name.strip(), name_kana=name_kana.strip(), prefecture=prefecture
    )
    session.add(municipality)
    session.flush()
    declare(session, code)  # the new town's own rows follow in this transaction
    start = effective_from or dt.date(1900, 1, 1)
    for key, value in (settings or {}).items():
        session.add(MunicipalitySetting(lg_code=code, key=key, effective_from=start, value=value))
    session.flush()
    # The chain of a new town starts with its own creation, and the town starts with the standard roles.
    # (Imported here: audit and auth build on this module.)
    from jichitai.platform.audit import append_entry
    from jichitai.platform.auth.services import seed_standard_roles

    seed_standard_roles(session, Tenant(code))

    append_entry(
        session, Tenant(code), actor=actor, action=Action.PLATFORM_MUNICIPALITY_CREATE, details=settings or {}
    )
    uow.commit()
    return municipality


def set_setting(
    uow: UnitOfWork,
    tenant: Tenant,
    key: str,
    value: Any,
    effective_from: dt.date,
    *,
    actor: str | Actor,
) -> MunicipalitySetting:
    """Record a town's value of ``key`` from ``effective_from`` on (a new row; earlier values stay in force
    for their days). An undated setting takes effect from the start of time. Audited with before/after."""
    from jichitai.platform.audit import append_entries, as_actor

    check_settings({key: value}, field="value")
    spec = catalog().settings[key]
    start = effective_from if spec.dated else dt.date(1900, 1, 1)
    session = uow.session
    before = settings_on(session, tenant, start).get(key)
    row = session.get(MunicipalitySetting, (tenant.lg_code, key, start))
    if row is None:
        row = MunicipalitySetting(lg_code=tenant.lg_code, key=key, effective_from=start, value=value)
        session.add(row)
    else:
        row.value = value
    who = as_actor(actor)
    details = {"key": key, "effective_from": start.isoformat(), "before": before, "after": value}
    append_entries(session, tenant, [who.entry(Action.PLATFORM_SETTING_UPDATE, details=details)])
    uow.commit()
    return row
