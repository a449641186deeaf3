"""Japanese eras (元号) as parameter rows.

The pure conversion rules in :mod:`jichitai.platform.jp.era` take the era list as an argument; this module
keeps that list in the database so that a new 元号 is a row, not a code change (標準仕様 j280).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import Base
from jichitai.platform.jp import Era


class EraRow(Base):
    """One 元号: its code (年号コード), name, one-letter abbreviation, first day and overlapping last day."""

    __tablename__ = "jp_era"

    code: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(10), unique=True)
    abbr: Mapped[str] = mapped_column(String(1), unique=True)
    start: Mapped[dt.date] = mapped_column(unique=True)
    last_day: Mapped[dt.date | None] = mapped_column()
    """Last day the name may be written when it overlaps the next era (明治45年7月30日, 大正15年12月25日)."""


def load_eras(session: Session) -> tuple[Era, ...]:
    """The era table in start order, as the value objects the pure rules take."""
    rows = session.scalars(select(EraRow).order_by(EraRow.start))
    return tuple(Era(code=r.code, name=r.name, abbr=r.abbr, start=r.start, last_day=r.last_day) for r in rows)
