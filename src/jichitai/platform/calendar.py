"""Japanese eras (元号) as parameter rows.

The pure conversion rules in :mod:`jichitai.platform.jp.era` take the era list as an argument; this module
keeps that list in the database so that a new 元号 is a row, not a code change (標準仕様 j280).
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import Engine, String, select
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


CACHE_SECONDS = 60.0
"""How long a process keeps the era table: a new 元号 is announced weeks ahead, so a minute is plenty."""

_cache: dict[str, tuple[float, tuple[Era, ...]]] = {}


def load_eras(session: Session) -> tuple[Era, ...]:
    """The era table in start order, as the value objects the pure rules take.

    Every request needs it and it changes once in decades, so it is cached per database for
    :data:`CACHE_SECONDS` instead of being read on every request.
    """
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    key = engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = session.scalars(select(EraRow).order_by(EraRow.start))
    eras = tuple(Era(code=r.code, name=r.name, abbr=r.abbr, start=r.start, last_day=r.last_day) for r in rows)
    _cache[key] = (now + CACHE_SECONDS, eras)
    return eras
