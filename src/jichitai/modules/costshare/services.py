"""Use cases and reads of the cost split: record a month's cost or a formula; build a month's report.

The figures come from the platform's metering (:func:`jichitai.platform.metering.usage_in`); this module
reads no other module's tables. Writes are the operators' (installation-wide rows, no town's audit chain):
each row names who recorded it and when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.modules.costshare.models import MonthlyCost, SplitFormula
from jichitai.modules.costshare.rules import Formula, Share, TownFigures, formula_problem, split
from jichitai.platform import metering
from jichitai.platform.clock import JST
from jichitai.platform.db import UnitOfWork, as_utc, utcnow
from jichitai.platform.errors import InvalidInput
from jichitai.platform.modules import MeterSpec
from jichitai.platform.tenancy import Municipality


def usage_metrics() -> list[MeterSpec]:
    """The declared figures that may weigh in the 利用量割."""
    return [spec for spec in metering.meters() if spec.usage and not spec.population]


def population_metric() -> MeterSpec | None:
    """The declared figure that is a town's population (人口割), if a module declares one."""
    return next((spec for spec in metering.meters() if spec.population), None)


def set_cost(uow: UnitOfWork, month: str, amount_yen: int, note: str | None, *, actor: str) -> MonthlyCost:
    """Record (or correct) the installation's cost of ``month``."""
    session = uow.session
    row = session.get(MonthlyCost, month)
    if row is None:
        row = MonthlyCost(month=month, amount_yen=amount_yen, note=note, recorded_by=actor)
        session.add(row)
    else:
        row.amount_yen, row.note, row.recorded_by, row.recorded_at = amount_yen, note, actor, utcnow()
    uow.commit()
    return row


def add_formula(
    uow: UnitOfWork, effective_from: dt.date, formula: Formula, note: str | None, *, actor: str
) -> SplitFormula:
    """Record the agreed formula from ``effective_from`` on (replacing one recorded for the same date)."""
    problem = formula_problem(formula, [spec.code for spec in usage_metrics()])
    if problem:
        raise InvalidInput("invalid_formula", problem, "formula")
    session = uow.session
    row = session.get(SplitFormula, effective_from)
    if row is None:
        row = SplitFormula(effective_from=effective_from)
        session.add(row)
    row.equal_pct, row.population_pct, row.usage_pct = formula.equal, formula.population, formula.usage
    row.usage_weights = dict(formula.usage_weights)
    row.note, row.recorded_by, row.recorded_at = note, actor, utcnow()
    uow.commit()
    return row


def costs(session: Session) -> list[MonthlyCost]:
    """Every recorded monthly cost, newest first."""
    return list(session.scalars(select(MonthlyCost).order_by(MonthlyCost.month.desc())))


def formulas(session: Session) -> list[SplitFormula]:
    """Every recorded formula, newest first."""
    return list(session.scalars(select(SplitFormula).order_by(SplitFormula.effective_from.desc())))


def formula_for(session: Session, month: str) -> SplitFormula | None:
    """The formula in force on the first day of ``month``."""
    return session.scalars(
        select(SplitFormula)
        .where(SplitFormula.effective_from <= metering.first_day(month))
        .order_by(SplitFormula.effective_from.desc())
        .limit(1)
    ).first()


def as_formula(row: SplitFormula) -> Formula:
    """The rules' view of a recorded formula."""
    return Formula(row.equal_pct, row.population_pct, row.usage_pct, dict(row.usage_weights))


@dataclass(frozen=True)
class TownLine:
    """One town in a month's report: its figures and, when the cost and a formula are set, its share."""

    lg_code: str
    name: str
    figures: dict[str, int]
    share: Share | None


@dataclass(frozen=True)
class MonthReport:
    """A month's figures and split."""

    month: str
    cost: MonthlyCost | None
    formula: SplitFormula | None
    meters: list[MeterSpec]
    towns: list[TownLine]

    def line_of(self, lg_code: str) -> TownLine | None:
        """The line of one town."""
        return next((line for line in self.towns if line.lg_code == lg_code), None)


def _towns_of(session: Session, month: str) -> list[Municipality]:
    """The towns sharing the installation in ``month``: those registered before it ended."""
    first = metering.first_day(month)
    after = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    end = dt.datetime.combine(after, dt.time(), JST)
    towns = session.scalars(select(Municipality).order_by(Municipality.lg_code))
    return [t for t in towns if as_utc(t.created_at) < end]


def month_report(session: Session, month: str) -> MonthReport:
    """The figures of every town in ``month`` and its share of the cost (the session declared ``'*'``)."""
    cost = session.get(MonthlyCost, month)
    formula = formula_for(session, month)
    usage = metering.usage_in(session, month)
    population = population_metric()
    towns = _towns_of(session, month)
    shares: dict[str, Share] = {}
    if cost is not None and formula is not None:
        figures = [
            TownFigures(
                t.lg_code,
                usage.get(t.lg_code, {}).get(population.code, 0) if population else 0,
                usage.get(t.lg_code, {}),
            )
            for t in towns
        ]
        shares = {s.lg_code: s for s in split(cost.amount_yen, as_formula(formula), figures)}
    lines = [
        TownLine(t.lg_code, f"{t.prefecture}{t.name}", usage.get(t.lg_code, {}), shares.get(t.lg_code))
        for t in towns
    ]
    return MonthReport(month, cost, formula, metering.meters(), lines)
