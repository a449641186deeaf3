"""Tables of the resident registry (住民記録). Every table is keyed ``(lg_code, …)``.

History follows the mandated model (標準仕様 j200): one :class:`PersonRecord` per (宛名番号, 履歴番号) holding
*all* 住民票 items, household items copied per person; the current state is the highest 履歴番号, marked by
``is_current`` so searches touch one row per person. Snapshot contents never change after insert; only the
``is_current`` marker moves to the newest row. 除票 are records whose 住民状態 is not 住民; nothing is
deleted.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from jichitai.platform.db import LG_CODE, SEARCH_KEY, Base, utcnow


class ResidentStatus(enum.StrEnum):
    """住民状態. Values are internal names; the standard layout codes are mapped in layouts."""

    RESIDENT = "resident"  # 住民
    MOVED_OUT = "moved_out"  # 転出者
    DECEASED = "deceased"  # 死亡者
    REMOVED = "removed"  # その他消除者 (職権消除, 取消し of a 記載)


STATUS_LABELS = {
    ResidentStatus.RESIDENT: "住民",
    ResidentStatus.MOVED_OUT: "転出者",
    ResidentStatus.DECEASED: "死亡者",
    ResidentStatus.REMOVED: "消除者",
}


class ResidentKind(enum.StrEnum):
    """住民種別."""

    JAPANESE = "japanese"
    FOREIGN = "foreign"


class Sex(enum.StrEnum):
    """性別 (JIS X 0303 codes 1 and 2 in the standard layouts)."""

    MALE = "male"
    FEMALE = "female"


SEX_LABELS = {Sex.MALE: "男", Sex.FEMALE: "女"}


CURRENT_PG = text("is_current")
CURRENT_SQLITE = text("is_current = 1")
"""Predicates of the partial indexes. They must match, term for term, what :func:`current_only` renders on
each engine (``is_current = true`` / ``is_current = 1``), or the planners will not use the indexes."""


def enum_type(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Household(Base):
    """A 世帯 number. Head, members and address live on the members' records (copied per person)."""

    __tablename__ = "registry_household"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    household_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    created_event_no: Mapped[int] = mapped_column(Integer)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


class Person(Base):
    """A person's identity (宛名番号) and pointer to the current 履歴番号."""

    __tablename__ = "registry_person"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    atena_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    current_history_no: Mapped[int] = mapped_column(Integer)
    created_event_no: Mapped[int] = mapped_column(Integer)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


class Event(Base):
    """An immutable 異動, numbered per municipality."""

    __tablename__ = "registry_event"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    event_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    """異動事由 label of the standard (e.g. 国内転入, 職権消除, 異動の取消し(減))."""
    category: Mapped[str] = mapped_column(String(4))
    """記載 / 消除 / 修正."""
    event_date: Mapped[dt.date] = mapped_column(Date)
    event_date_text: Mapped[str | None] = mapped_column(String(72))
    notified_on: Mapped[dt.date | None] = mapped_column(Date)
    processed_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancels_event_no: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),
        ForeignKeyConstraint(
            ["lg_code", "cancels_event_no"], ["registry_event.lg_code", "registry_event.event_no"]
        ),
        Index("ix_registry_event_type", "lg_code", "event_type", "event_no"),
        Index("ix_registry_event_cancels", "lg_code", "cancels_event_no"),
    )


class EventPerson(Base):
    """A person row an event changed: which 履歴番号 it replaced and which it wrote."""

    __tablename__ = "registry_event_person"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    event_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    atena_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    history_no_before: Mapped[int | None] = mapped_column(Integer)
    history_no_after: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        ForeignKeyConstraint(["lg_code", "event_no"], ["registry_event.lg_code", "registry_event.event_no"]),
        ForeignKeyConstraint(
            ["lg_code", "atena_no"], ["registry_person.lg_code", "registry_person.atena_no"]
        ),
        Index("ix_registry_event_person_atena", "lg_code", "atena_no", "event_no"),
    )


class PersonRecord(Base):
    """One full snapshot of a 住民票 (all statutory items) at one 履歴番号."""

    __tablename__ = "registry_person_record"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    atena_no: Mapped[str] = mapped_column(String(10), primary_key=True)
    history_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    is_current: Mapped[bool] = mapped_column(Boolean)
    event_no: Mapped[int] = mapped_column(Integer)

    status: Mapped[ResidentStatus] = mapped_column(enum_type(ResidentStatus, "resident_status"))
    kind: Mapped[ResidentKind] = mapped_column(enum_type(ResidentKind, "resident_kind"))

    # 世帯 (copied per person, 標準仕様 j200)
    household_no: Mapped[str] = mapped_column(String(10))
    relationship: Mapped[str] = mapped_column(String(20))
    head_name: Mapped[str] = mapped_column(String(100))

    # 氏名
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    family_kana: Mapped[str] = mapped_column(String(100))
    given_kana: Mapped[str] = mapped_column(String(100))
    kana_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    former_surname: Mapped[str | None] = mapped_column(String(50))
    former_surname_kana: Mapped[str | None] = mapped_column(String(100))
    name_roman: Mapped[str | None] = mapped_column(String(200))
    """Foreign residents: the name in the alphabet, the legal name (kanji name optional)."""
    alias_name: Mapped[str | None] = mapped_column(String(100))
    """通称 (foreign residents)."""
    alias_kana: Mapped[str | None] = mapped_column(String(100))

    # search keys (normalised, DESIGN §3.9)
    kana_key: Mapped[str] = mapped_column(SEARCH_KEY)
    given_kana_key: Mapped[str] = mapped_column(SEARCH_KEY)
    name_key: Mapped[str] = mapped_column(SEARCH_KEY)
    address_key: Mapped[str] = mapped_column(SEARCH_KEY)

    # 生年月日・性別
    birth_date: Mapped[dt.date] = mapped_column(Date)
    birth_date_text: Mapped[str | None] = mapped_column(String(72))
    sex: Mapped[Sex] = mapped_column(enum_type(Sex, "sex"))

    # 住所
    address_area: Mapped[str] = mapped_column(String(120))
    """町字 (e.g. 本町一丁目)."""
    address_number: Mapped[str] = mapped_column(String(50))
    """番地号表記 (e.g. 2番3号)."""
    address_building: Mapped[str | None] = mapped_column(String(300))
    """方書."""
    postal_code: Mapped[str | None] = mapped_column(String(7))
    address_set_on: Mapped[dt.date] = mapped_column(Date)
    address_set_on_text: Mapped[str | None] = mapped_column(String(72))
    became_resident_on: Mapped[dt.date] = mapped_column(Date)
    became_resident_on_text: Mapped[str | None] = mapped_column(String(72))
    notified_on: Mapped[dt.date | None] = mapped_column(Date)
    """届出年月日 of the last notification that changed the record."""
    previous_address: Mapped[str | None] = mapped_column(String(400))
    """転入前住所 (may be abroad)."""
    prior_address: Mapped[str | None] = mapped_column(String(400))
    """異動前住所 (the address before the last 転居)."""

    # 本籍・筆頭者 (Japanese residents)
    honseki: Mapped[str | None] = mapped_column(String(200))
    honseki_head: Mapped[str | None] = mapped_column(String(100))

    # 住民票コード・個人番号
    juminhyo_code: Mapped[str] = mapped_column(String(11))
    my_number: Mapped[str | None] = mapped_column(String(12))

    # 外国人住民 (法30条の45)
    nationality: Mapped[str | None] = mapped_column(String(100))
    foreign_category: Mapped[str | None] = mapped_column(String(30))
    """30条の45区分 (中長期在留者, 特別永住者, …)."""
    residence_status: Mapped[str | None] = mapped_column(String(60))
    """在留資格."""
    period_of_stay: Mapped[str | None] = mapped_column(String(30))
    """在留期間 as written (e.g. 3年)."""
    stay_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    """在留期間の満了の日 (printed in 西暦)."""
    residence_card_no: Mapped[str | None] = mapped_column(String(12))
    foreign_resident_since: Mapped[dt.date | None] = mapped_column(Date)

    # 消除 (除票)
    removal_reason: Mapped[str | None] = mapped_column(String(40))
    removed_on: Mapped[dt.date | None] = mapped_column(Date)
    """消除の異動年月日; for 転出, the 転出予定日."""
    move_out_destination: Mapped[str | None] = mapped_column(String(400))

    # 法7条 entitlement items, kept up to date by the business systems (国保, 年金, …) through 職権修正
    elector_registered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """選挙人名簿への登録の有無."""
    nhi_qualified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """国民健康保険の被保険者."""
    nhi_acquired_on: Mapped[dt.date | None] = mapped_column(Date)
    nhi_lost_on: Mapped[dt.date | None] = mapped_column(Date)
    late_elderly_qualified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """後期高齢者医療の被保険者."""
    late_elderly_acquired_on: Mapped[dt.date | None] = mapped_column(Date)
    late_elderly_lost_on: Mapped[dt.date | None] = mapped_column(Date)
    ltc_qualified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """介護保険の被保険者."""
    ltc_acquired_on: Mapped[dt.date | None] = mapped_column(Date)
    ltc_lost_on: Mapped[dt.date | None] = mapped_column(Date)
    pension_qualified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """国民年金の被保険者."""
    basic_pension_no: Mapped[str | None] = mapped_column(String(10))
    """基礎年金番号."""
    pension_category: Mapped[str | None] = mapped_column(String(10))
    """国民年金の種別 (第1号, 第3号, 任意加入 …)."""
    pension_category_changed_on: Mapped[dt.date | None] = mapped_column(Date)
    pension_acquired_on: Mapped[dt.date | None] = mapped_column(Date)
    pension_lost_on: Mapped[dt.date | None] = mapped_column(Date)
    child_allowance_from: Mapped[str | None] = mapped_column(String(7))
    """児童手当の支給開始年月 (YYYY-MM)."""
    child_allowance_to: Mapped[str | None] = mapped_column(String(7))
    """児童手当の支給終了年月 (YYYY-MM)."""

    __table_args__ = (
        ForeignKeyConstraint(
            ["lg_code", "atena_no"], ["registry_person.lg_code", "registry_person.atena_no"]
        ),
        ForeignKeyConstraint(["lg_code", "event_no"], ["registry_event.lg_code", "registry_event.event_no"]),
        ForeignKeyConstraint(
            ["lg_code", "household_no"], ["registry_household.lg_code", "registry_household.household_no"]
        ),
        Index(
            "ix_registry_record_kana",
            "lg_code",
            "kana_key",
            "atena_no",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
        Index(
            "ix_registry_record_given_kana",
            "lg_code",
            "given_kana_key",
            "atena_no",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
        Index(
            "ix_registry_record_name",
            "lg_code",
            "name_key",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
        Index(
            "ix_registry_record_birth",
            "lg_code",
            "birth_date",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
        Index(
            "ix_registry_record_address",
            "lg_code",
            "address_key",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
        Index(
            "ix_registry_record_household",
            "lg_code",
            "household_no",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
        # every record, for "household as of a date" (records.feed.household_as_of)
        Index("ix_registry_record_household_history", "lg_code", "household_no", "atena_no"),
        Index("ix_registry_record_juminhyo", "lg_code", "juminhyo_code"),
        Index(
            "ix_registry_record_my_number",
            "lg_code",
            "my_number",
            postgresql_where=CURRENT_PG,
            sqlite_where=CURRENT_SQLITE,
        ),
    )

    def full_name(self) -> str:
        """氏名 as printed: kanji name, or for foreign residents the alphabet name when no kanji name."""
        if self.family_name or self.given_name:
            return f"{self.family_name}　{self.given_name}".strip("　")
        return self.name_roman or ""

    def full_address(self, town: str) -> str:
        """住所 with 方書, prefixed by the prefecture and town name of the municipality."""
        base = f"{town}{self.address_area}{self.address_number}"
        return f"{base}　{self.address_building}" if self.address_building else base


def current_only() -> ColumnElement[bool]:
    """The filter for current snapshots, in the form the partial indexes are declared with."""
    return PersonRecord.is_current == true()


ENTITLEMENT_COLUMNS: tuple[str, ...] = tuple(
    c.name
    for c in PersonRecord.__table__.columns
    if c.name == "elector_registered"
    or c.name.startswith(("nhi_", "late_elderly_", "ltc_", "pension_"))
    or c.name in {"basic_pension_no", "child_allowance_from", "child_allowance_to"}
)
"""The 法7条 items maintained by other systems; a new snapshot without them means "not qualified"."""

SNAPSHOT_COLUMNS: tuple[str, ...] = tuple(
    c.name
    for c in PersonRecord.__table__.columns
    if c.name not in {"lg_code", "atena_no", "history_no", "is_current", "event_no"}
)
"""The items copied from one snapshot to the next."""


# --- DV等支援措置 and the certificate issuance log (domain.md §3.1, §3.3) ---------------------------------
