"""The table of DV等支援措置 (住民基本台帳事務処理要領 第6-10): one row per measure and period."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.modules.registry.records.models import enum_type
from jichitai.platform.db import LG_CODE, Base, utcnow


class SupportKind(enum.StrEnum):
    """Why a person is protected (the 申出 form's 類型)."""

    SPOUSAL_VIOLENCE = "spousal_violence"  # 配偶者からの暴力 (DV防止法)
    STALKING = "stalking"  # ストーカー行為等
    CHILD_ABUSE = "child_abuse"  # 児童虐待
    OTHER = "other"  # その他 (これらに準ずる行為の被害者)


SUPPORT_KIND_LABELS = {
    SupportKind.SPOUSAL_VIOLENCE: "配偶者暴力",
    SupportKind.STALKING: "ストーカー",
    SupportKind.CHILD_ABUSE: "児童虐待",
    SupportKind.OTHER: "その他",
}


class SupportStatus(enum.StrEnum):
    """The stored state of a measure; whether it is in force on a given day also depends on its dates."""

    PROVISIONAL = "provisional"  # 仮支援措置: in force while the application is being checked
    ACTIVE = "active"  # 支援措置 (確認済み)
    ENDED = "ended"  # 終了 (申出の取下げ、支援の必要がなくなった等)


class SupportMeasure(Base):
    """A DV等支援措置 protecting one person (宛名番号) from the named 相手方, whatever the person's 住民状態.

    ``starts_on`` is the first day of the current uninterrupted protection (the 仮支援措置 included);
    ``ends_on`` is the last day of the current period, moved on by each 延長 (``period_no`` counts them).
    The row is changed in place by the services; every change is in the audit trail with before and after.
    """

    __tablename__ = "registry_support_measure"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    measure_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    atena_no: Mapped[str] = mapped_column(String(10))
    """The protected person (支援対象者)."""
    kind: Mapped[SupportKind] = mapped_column(enum_type(SupportKind, "support_kind"))
    status: Mapped[SupportStatus] = mapped_column(enum_type(SupportStatus, "support_status"))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    """The day the need was confirmed and the applicant told (本支援措置); the 1-year term counts from it."""
    ends_on: Mapped[dt.date] = mapped_column(Date)
    period_no: Mapped[int] = mapped_column(Integer, default=1)
    related_measure_no: Mapped[int | None] = mapped_column(Integer)
    """The victim's measure this one was added to (a co-resident, 併せて支援を求める者)."""

    # 相手方 (加害者): free text as the applicant states it, plus the 宛名番号 when registered in the town
    counterparty_name: Mapped[str] = mapped_column(String(100))
    counterparty_kana: Mapped[str | None] = mapped_column(String(100))
    counterparty_atena_no: Mapped[str | None] = mapped_column(String(10))
    counterparty_birth_date: Mapped[dt.date | None] = mapped_column(Date)
    counterparty_address: Mapped[str | None] = mapped_column(String(400))

    reason: Mapped[str] = mapped_column(String(400))
    """申出の理由 and the basis of the confirmation (警察・相談機関の意見 etc.)."""
    notes: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    """First day without the block, when ended."""
    end_reason: Mapped[str | None] = mapped_column(String(400))

    __table_args__ = (
        ForeignKeyConstraint(
            ["lg_code", "atena_no"], ["registry_person.lg_code", "registry_person.atena_no"]
        ),
        ForeignKeyConstraint(
            ["lg_code", "related_measure_no"],
            ["registry_support_measure.lg_code", "registry_support_measure.measure_no"],
            name="fk_registry_support_measure_related",  # the conventional name exceeds 63 characters
        ),
        Index("ix_registry_support_measure_atena", "lg_code", "atena_no", "measure_no"),
        Index("ix_registry_support_measure_ends", "lg_code", "ends_on"),
    )
