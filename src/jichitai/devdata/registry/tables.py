"""Static tables prepared once at import, so that every draw in the generator is a single bisect.

Age tables weight the population pyramid by how likely each age is to head a given household type; the
name tables hold, per birth year, the given names then in use.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from jichitai.devdata.registry import vocabulary as data
from jichitai.platform.jp import name_search_keys

__all__ = [
    "AGES",
    "FAMILY_CUM",
    "FIRST_NAME_YEAR",
    "GIVEN",
    "LAST_NAME_YEAR",
    "NATIONALITY_CUM",
    "SIZE_CUM",
    "YEAR",
    "AgeTable",
    "kana_keys",
    "pick",
]

_T = TypeVar("_T")

YEAR = 365.2425
"""Days per (Gregorian) year, to turn ages into ordinal dates."""


def _single_year_pyramid() -> list[float]:
    """Share of each single year of age 0–104, spreading each 5-year band evenly."""
    return [data.AGE_PYRAMID[min(age // 5, len(data.AGE_PYRAMID) - 1)] / 5 for age in range(105)]


_PYRAMID = _single_year_pyramid()


@dataclass(frozen=True)
class AgeTable:
    """Ages lo..hi weighted by the pyramid times a propensity (e.g. of living alone at that age)."""

    ages: tuple[int, ...]
    cum: tuple[float, ...]

    @classmethod
    def make(cls, lo: int, hi: int, propensity: Callable[[int], float] = lambda _a: 1.0) -> AgeTable:
        """Build the cumulative table once, so a draw is one bisect."""
        ages = tuple(range(lo, hi + 1))
        return cls(ages, tuple(itertools.accumulate(_PYRAMID[a] * propensity(a) for a in ages)))

    def draw(self, rng: random.Random) -> float:
        """An age in years with a random fraction."""
        i = bisect.bisect(self.cum, rng.random() * self.cum[-1])
        return self.ages[min(i, len(self.ages) - 1)] + rng.random()


def _alone(age: int) -> float:
    # Living alone peaks among students/young workers and among the very old (census 単独世帯 by age).
    if age < 25:
        return 1.0
    if age < 35:
        return 0.65
    if age < 60:
        return 0.3
    if age < 75:
        return 0.8
    return 1.7


def _couple_only(age: int) -> float:
    if age < 35:
        return 0.2
    if age < 55:
        return 0.08
    if age < 65:
        return 0.5
    if age < 75:
        return 1.6
    return 1.5 if age < 85 else 1.0


AGES = {
    "single": AgeTable.make(18, 100, _alone),
    "couple": AgeTable.make(22, 95, _couple_only),
    "parents": AgeTable.make(28, 64, lambda a: 0.6 if a < 35 else 1.0),
    "single_parent": AgeTable.make(24, 80, lambda a: 1.0 if a < 55 else 0.5),
    "middle": AgeTable.make(30, 68),
    "senior": AgeTable.make(55, 85),
    "any_adult": AgeTable.make(20, 85),
    "worker": AgeTable.make(19, 36),
    "foreign_family": AgeTable.make(25, 55),
    "special": AgeTable.make(40, 95),
}
"""Age of a household's first member, per household type."""


def _cum(weights: list[int] | tuple[int, ...]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(float(w) for w in weights))


FAMILY_CUM = _cum([f.weight for f in data.FAMILY_NAMES])
NATIONALITY_CUM = _cum([n.weight for n in data.NATIONALITIES])
SIZE_CUM = _cum(data.HOUSEHOLD_SIZES)
FIRST_NAME_YEAR = 1910
LAST_NAME_YEAR = 2025


def _names_by_year(names: tuple[data.GivenName, ...]) -> list[tuple[list[data.GivenName], tuple[float, ...]]]:
    """For each birth year, the names then in use with cumulative weights (so a draw is one bisect)."""
    table = []
    for year in range(FIRST_NAME_YEAR, LAST_NAME_YEAR + 1):
        usable = [g for g in names if g.first_year <= year <= g.last_year]
        table.append((usable, _cum([g.weight for g in usable])))
    return table


GIVEN = {"male": _names_by_year(data.MALE_GIVEN_NAMES), "female": _names_by_year(data.FEMALE_GIVEN_NAMES)}
"""Per sex, indexed by ``birth year - FIRST_NAME_YEAR``."""

_KEYS_CACHE: dict[tuple[str, str], tuple[str, str]] = {}


def kana_keys(family_kana: str, given_kana: str) -> tuple[str, str]:
    """(full kana key, given kana key) exactly as ``snapshots.refresh_keys``; cached per distinct reading."""
    pair = (family_kana, given_kana)
    keys = _KEYS_CACHE.get(pair)
    if keys is None:
        _family, given, full = name_search_keys(family_kana, given_kana)
        keys = _KEYS_CACHE[pair] = (full, given)
    return keys


def pick(rng: random.Random, items: Sequence[_T], cum: tuple[float, ...]) -> _T:
    """One item drawn by its weight, ``cum`` being the items' cumulative weights."""
    return items[min(bisect.bisect(cum, rng.random() * cum[-1]), len(items) - 1)]
