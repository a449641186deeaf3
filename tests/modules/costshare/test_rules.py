"""The cost split: shares add up to the cost exactly, more use never pays less, equal towns pay alike."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jichitai.modules.costshare.rules import Formula, TownFigures, apportion, formula_problem, split

METRICS = ("cpu_ms", "db_bytes", "requests")

costs = st.integers(min_value=0, max_value=10**10)
figures = st.integers(min_value=0, max_value=10**9)


@st.composite
def formulas(draw: st.DrawFn) -> Formula:
    equal = draw(st.integers(0, 100))
    population = draw(st.integers(0, 100 - equal))
    weights = {m: draw(st.integers(0, 100)) for m in METRICS}
    return Formula(equal, population, 100 - equal - population, weights)


def town(number: int, population: int, usage: dict[str, int]) -> TownFigures:
    return TownFigures(f"{number:06d}", population, usage)


@st.composite
def towns(draw: st.DrawFn) -> list[TownFigures]:
    count = draw(st.integers(1, 12))
    return [town(n, draw(figures), {m: draw(figures) for m in METRICS}) for n in range(1, count + 1)]


@settings(deadline=None)  # exact fractions; the machine may be busy
@given(costs, formulas(), towns())
def test_shares_add_up_to_the_cost(cost: int, formula: Formula, figures_: list[TownFigures]) -> None:
    shares = split(cost, formula, figures_)
    assert sum(s.total for s in shares) == cost
    assert all(s.equal >= 0 and s.population >= 0 and s.usage >= 0 for s in shares)


@settings(deadline=None)  # exact fractions; the machine may be busy
@given(costs, formulas(), towns(), st.integers(1, 10**6), st.sampled_from(METRICS))
def test_more_usage_never_pays_less_usage_share(
    cost: int, formula: Formula, figures_: list[TownFigures], extra: int, metric: str
) -> None:
    assume(formula.usage_weights[metric] > 0)  # a metric the formula ignores is no usage
    base = figures_[0]
    bigger = TownFigures("999999", base.population, {**base.usage, metric: base.usage.get(metric, 0) + extra})
    shares = {s.lg_code: s for s in split(cost, formula, [*figures_, bigger])}
    assert shares["999999"].usage >= shares[base.lg_code].usage


@settings(deadline=None)  # exact fractions; the machine may be busy
@given(costs, formulas(), towns())
def test_equal_towns_pay_alike(cost: int, formula: Formula, figures_: list[TownFigures]) -> None:
    twin = TownFigures("999999", figures_[0].population, dict(figures_[0].usage))
    shares = {s.lg_code: s for s in split(cost, formula, [*figures_, twin])}
    first, second = shares[figures_[0].lg_code], shares["999999"]
    for part in ("equal", "population", "usage"):  # at most the one leftover yen of each part
        assert abs(getattr(first, part) - getattr(second, part)) <= 1


@settings(deadline=None)  # exact fractions; the machine may be busy
@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_apportion_is_exact_and_within_a_yen_of_the_exact_share(amount: int, weights: list[int]) -> None:
    parts = apportion(amount, weights)
    assert sum(parts) == amount
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(amount * weight, total) if total else Fraction(amount, len(weights))
        assert abs(part - exact) < 1


def test_an_example_the_guide_shows() -> None:
    """docs/cost-sharing.md: 1,000,000 yen, 30 / 50 / 20, three towns."""
    formula = Formula(30, 50, 20, {"cpu_ms": 50, "db_bytes": 50})
    shares = split(
        1_000_000,
        formula,
        [
            town(34614, 10_000, {"cpu_ms": 600, "db_bytes": 500}),
            town(32107, 18_000, {"cpu_ms": 300, "db_bytes": 300}),
            town(46060, 12_000, {"cpu_ms": 100, "db_bytes": 200}),
        ],
    )
    assert [(s.lg_code, s.equal, s.population, s.usage, s.total) for s in shares] == [
        ("032107", 100_000, 225_000, 60_000, 385_000),
        ("034614", 100_000, 125_000, 110_000, 335_000),
        ("046060", 100_000, 150_000, 30_000, 280_000),
    ]
    assert sum(s.total for s in shares) == 1_000_000


def test_one_yen_left_over_goes_to_the_largest_remainder_then_the_lower_code() -> None:
    assert apportion(100, [1, 1, 1]) == [34, 33, 33]
    assert apportion(10, [1, 2]) == [3, 7]
    assert apportion(5, [0, 0]) == [3, 2]  # nobody used anything: equal


def test_a_formula_must_add_up_to_100_and_name_known_metrics() -> None:
    assert formula_problem(Formula(30, 50, 20, {"cpu_ms": 1}), METRICS) is None
    assert formula_problem(Formula(30, 50, 30, {"cpu_ms": 1}), METRICS) is not None
    assert formula_problem(Formula(30, 50, 20, {"made_up": 1}), METRICS) is not None
    assert formula_problem(Formula(30, 50, 20, {}), METRICS) is not None
    assert formula_problem(Formula(50, 50, 0, {}), METRICS) is None
