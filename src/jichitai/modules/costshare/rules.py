"""The cost split (費用負担の按分): pure rules, money in integer yen.

A month's installation cost is divided into three parts by the agreed formula's percentages — 均等割 (equal
per town), 人口割 (by residents) and 利用量割 (by use of the installation) — and each part among the towns.
Every division is by the largest remainder (Hamilton's method): each town first gets the whole yen of its
exact share, and the yen left over go one each to the largest fractional remainders, ties to the lower
town code. So the parts add up exactly to the cost, and the towns' shares exactly to each part; a town
whose weight is larger never gets less of a part than one whose weight is smaller; and two towns with equal
figures differ by at most one yen in each part (when the yen do not divide evenly, someone gets the extra).

The 利用量割 weight of a town is its usage score: for each metric the formula names (with a weight), the
town's fraction of the installation's total of that metric, weighted and summed. A metric nobody used
counts for nobody; if no town used anything (or no town has residents), that part is shared equally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

PARTS = ("equal", "population", "usage")
"""The formula's three parts, in the order they are divided and printed."""


@dataclass(frozen=True)
class Formula:
    """The agreed weights: percentages of the three parts (summing to 100), and the usage metrics' weights."""

    equal: int
    population: int
    usage: int
    usage_weights: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TownFigures:
    """What the split needs of one town: its residents and its usage by metric."""

    lg_code: str
    population: int
    usage: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Share:
    """One town's share of the month's cost, by part (yen)."""

    lg_code: str
    equal: int
    population: int
    usage: int

    @property
    def total(self) -> int:
        """The town's whole share (yen)."""
        return self.equal + self.population + self.usage


def formula_problem(formula: Formula, metrics: Sequence[str]) -> str | None:
    """Why the formula cannot be used (Japanese), or None. ``metrics`` are the usage metrics that exist."""
    parts = (formula.equal, formula.population, formula.usage)
    if any(p < 0 for p in parts) or sum(parts) != 100:
        return "均等割・人口割・利用量割の割合 (%) は 0 以上で、合計を 100 にしてください。"
    unknown = sorted(set(formula.usage_weights) - set(metrics))
    if unknown:
        return f"利用量割に使えない計数です: {', '.join(unknown)}"
    if any(w < 0 for w in formula.usage_weights.values()):
        return "利用量割の計数の重みは 0 以上にしてください。"
    if formula.usage > 0 and sum(formula.usage_weights.values()) <= 0:
        return "利用量割を使うときは、計数の重みを一つ以上指定してください。"
    return None


def apportion(amount: int, weights: Sequence[Fraction | int]) -> list[int]:
    """``amount`` yen divided in proportion to ``weights`` by the largest remainder, adding up exactly.

    Ties of remainder go to the earlier weight. All-zero weights divide equally; no weights, nothing.
    """
    if not weights:
        return []
    if amount < 0:
        raise ValueError("amount must not be negative")
    exact = [Fraction(w) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError("weights must not be negative")
    total = sum(exact)
    if total == 0:
        exact, total = [Fraction(1)] * len(exact), Fraction(len(exact))
    quotas = [amount * w / total for w in exact]
    floors = [q.numerator // q.denominator for q in quotas]
    left = amount - sum(floors)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def usage_scores(towns: Sequence[TownFigures], weights: Mapping[str, int]) -> list[Fraction]:
    """Each town's usage score: Σ weight × (town's figure ÷ every town's figure), over the used metrics."""
    scores = [Fraction(0)] * len(towns)
    for metric, weight in sorted(weights.items()):
        total = sum(max(t.usage.get(metric, 0), 0) for t in towns)
        if weight <= 0 or total <= 0:
            continue
        for i, town in enumerate(towns):
            scores[i] += Fraction(weight * max(town.usage.get(metric, 0), 0), total)
    return scores


def split(cost: int, formula: Formula, towns: Sequence[TownFigures]) -> list[Share]:
    """The month's cost divided among ``towns`` by ``formula`` (shares in town-code order)."""
    ordered = sorted(towns, key=lambda t: t.lg_code)
    if not ordered:
        return []
    equal_pool, population_pool, usage_pool = apportion(
        cost, [formula.equal, formula.population, formula.usage]
    )
    equal = apportion(equal_pool, [1] * len(ordered))
    population = apportion(population_pool, [max(t.population, 0) for t in ordered])
    usage = apportion(usage_pool, usage_scores(ordered, formula.usage_weights))
    return [
        Share(town.lg_code, e, p, u) for town, e, p, u in zip(ordered, equal, population, usage, strict=True)
    ]


__all__ = [
    "PARTS",
    "Formula",
    "Share",
    "TownFigures",
    "apportion",
    "formula_problem",
    "split",
    "usage_scores",
]
