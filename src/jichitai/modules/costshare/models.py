"""The installation's monthly cost and the agreed formula of the split, both installation-wide data.

Neither row belongs to one town (no ``lg_code``): they are the joint operation's own figures, recorded by
the installation's operators and the same for every town, so they are no part of any town's off-site copy.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.db import Base, utcnow


class MonthlyCost(Base):
    """What the installation cost in one month (yen), to be shared among the towns."""

    __tablename__ = "costshare_cost"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    """``YYYY-MM``."""
    amount_yen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SplitFormula(Base):
    """The agreed formula from ``effective_from`` on (it applies to the months that start on or after it,
    until the next row): percentages of 均等割・人口割・利用量割, and the weights of the usage metrics."""

    __tablename__ = "costshare_formula"

    effective_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    equal_pct: Mapped[int] = mapped_column(Integer)
    population_pct: Mapped[int] = mapped_column(Integer)
    usage_pct: Mapped[int] = mapped_column(Integer)
    usage_weights: Mapped[dict[str, int]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
