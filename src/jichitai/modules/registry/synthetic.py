"""A deterministic synthetic population for the resident registry (test towns, demos and benchmarks).

Pure generation, no database: :func:`generate` yields batches of plain row dicts, one list per table, with
the same columns, codes and search keys the services would write, so that certificates, searches, statistics
and exchanges can be exercised on a realistic town of any size. Everything follows from ``(lg_code, seed)``
through one :class:`random.Random`; the clock is never read (``today`` is an argument), so the same call
always yields the same rows.

A household is planned first (members, ages, names, address, and what will happen to it), then its history
is *played* in date order as the services would record it: an entry event (転入, 国外転入 or 職権記載),
births in town, sometimes a 転居 (every present member gets a new 履歴番号 with 異動前住所), and some 除票:
転出 of the whole household or of an adult child, or a death. A departing 世帯主 leaves either nobody or
exactly one member, who becomes 世帯主 in the same event (j490), so every household stays valid for the
real services afterwards.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jichitai.modules.registry import rules
from jichitai.modules.registry import synthetic_data as data
from jichitai.modules.registry.snapshots import text_key
from jichitai.platform.jp import (
    juminhyo_code_check_digit,
    make_atena_number,
    my_number_check_digit,
    name_search_keys,
)

__all__ = ["BATCH_PERSONS", "Batch", "Capacity", "capacity", "generate"]

Row = dict[str, Any]
_T = TypeVar("_T")

BATCH_PERSONS = 5000
"""Persons per batch: large enough for fast bulk writes, small enough to keep memory flat at a million."""

HEAD = rules.HEAD
_YEAR = 365.2425
_REGISTRY_START = dt.date(1970, 1, 1).toordinal()
"""Japanese entries are dated from here on: earlier arrivals appear as entered when records went digital."""
_FOREIGN_START = dt.date(2012, 7, 9).toordinal()
"""Foreign residents joined the 住民基本台帳 on 2012-07-09 (改正住基法施行), by 職権記載 if already here."""


@dataclass
class Batch:
    """Rows of complete households, per table; every foreign key points inside this or an earlier batch."""

    events: list[Row] = field(default_factory=list)
    households: list[Row] = field(default_factory=list)
    persons: list[Row] = field(default_factory=list)
    records: list[Row] = field(default_factory=list)
    event_persons: list[Row] = field(default_factory=list)
    residents: int = 0
    """Persons of this batch whose current record is a resident's (not a 除票)."""

    def tables(self) -> list[tuple[str, list[Row]]]:
        """(table name, rows) in an order that satisfies the foreign keys."""
        return [
            ("registry_event", self.events),
            ("registry_household", self.households),
            ("registry_person", self.persons),
            ("registry_person_record", self.records),
            ("registry_event_person", self.event_persons),
        ]


@dataclass(frozen=True)
class Capacity:
    """Upper bounds of the numbers a run of :func:`generate` consumes, to reserve them once up front."""

    atena: int
    households: int
    events: int


def _removal_budget(n: int) -> int:
    return n // 8 + 8


def capacity(n: int) -> Capacity:
    """Numbers needed for ``n`` residents: 除票 persons are capped, households ≤ persons, events ≤ 3/person.

    Events per household are at most 1 entry + births + 1 転居 + one 消除 per member: ≤ 2·size + 1 ≤ 3·size.
    """
    persons = n + _removal_budget(n)
    return Capacity(atena=persons, households=persons, events=3 * persons)


# --- static tables prepared once --------------------------------------------------------------------------


def _single_year_pyramid() -> list[float]:
    """Share of each single year of age 0–104, spreading each 5-year band evenly."""
    return [data.AGE_PYRAMID[min(age // 5, len(data.AGE_PYRAMID) - 1)] / 5 for age in range(105)]


_PYRAMID = _single_year_pyramid()


@dataclass(frozen=True)
class _AgeTable:
    """Ages lo..hi weighted by the pyramid times a propensity (e.g. of living alone at that age)."""

    ages: tuple[int, ...]
    cum: tuple[float, ...]

    @classmethod
    def make(cls, lo: int, hi: int, propensity: Callable[[int], float] = lambda _a: 1.0) -> _AgeTable:
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


_AGES = {
    "single": _AgeTable.make(18, 100, _alone),
    "couple": _AgeTable.make(22, 95, _couple_only),
    "parents": _AgeTable.make(28, 64, lambda a: 0.6 if a < 35 else 1.0),
    "single_parent": _AgeTable.make(24, 80, lambda a: 1.0 if a < 55 else 0.5),
    "middle": _AgeTable.make(30, 68),
    "senior": _AgeTable.make(55, 85),
    "any_adult": _AgeTable.make(20, 85),
    "worker": _AgeTable.make(19, 36),
    "foreign_family": _AgeTable.make(25, 55),
    "special": _AgeTable.make(40, 95),
}


def _cum(weights: list[int] | tuple[int, ...]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(float(w) for w in weights))


_FAMILY_CUM = _cum([f.weight for f in data.FAMILY_NAMES])
_NATIONALITY_CUM = _cum([n.weight for n in data.NATIONALITIES])
_SIZE_CUM = _cum(data.HOUSEHOLD_SIZES)
_FIRST_NAME_YEAR = 1910
_LAST_NAME_YEAR = 2025


def _names_by_year(names: tuple[data.GivenName, ...]) -> list[tuple[list[data.GivenName], tuple[float, ...]]]:
    """For each birth year, the names then in use with cumulative weights (so a draw is one bisect)."""
    table = []
    for year in range(_FIRST_NAME_YEAR, _LAST_NAME_YEAR + 1):
        usable = [g for g in names if g.first_year <= year <= g.last_year]
        table.append((usable, _cum([g.weight for g in usable])))
    return table


_GIVEN = {"male": _names_by_year(data.MALE_GIVEN_NAMES), "female": _names_by_year(data.FEMALE_GIVEN_NAMES)}

_KEYS_CACHE: dict[tuple[str, str], tuple[str, str]] = {}


def _kana_keys(family_kana: str, given_kana: str) -> tuple[str, str]:
    """(full kana key, given kana key) exactly as ``snapshots.refresh_keys``; cached per distinct reading."""
    pair = (family_kana, given_kana)
    keys = _KEYS_CACHE.get(pair)
    if keys is None:
        _family, given, full = name_search_keys(family_kana, given_kana)
        keys = _KEYS_CACHE[pair] = (full, given)
    return keys


def _pick(rng: random.Random, items: Sequence[_T], cum: tuple[float, ...]) -> _T:
    return items[min(bisect.bisect(cum, rng.random() * cum[-1]), len(items) - 1)]


# --- the town ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Area:
    name: str
    postal_code: str


@dataclass(frozen=True)
class _Town:
    """The town's 町丁目 and names, fixed by the lg_code alone (a town keeps its streets for any seed)."""

    lg_code: str
    prefecture: str
    name: str
    areas: tuple[_Area, ...]

    @property
    def prefix(self) -> str:
        """都道府県 + 市区町村, the part of an address the record does not store."""
        return f"{self.prefecture}{self.name}"

    @classmethod
    def make(cls, lg_code: str, town_name: str, prefecture: str) -> _Town:
        """10–20 町丁目 from the stems, deterministically from the lg_code."""
        rng = random.Random(f"jichitai-synthetic-town:{lg_code}")
        stems = list(data.AREA_STEMS)
        rng.shuffle(stems)
        wanted = rng.randint(10, 20)
        names: list[str] = []
        for stem, chome in stems:
            names.extend(
                [stem] if chome == 0 else [f"{stem}{data.KANJI_NUMERALS[i]}丁目" for i in range(1, chome + 1)]
            )
            if len(names) >= wanted:
                break
        base = f"{rng.randint(20, 99):02d}{rng.randint(0, 9)}"
        areas = tuple(
            _Area(nm, f"{base}{rng.randint(0, 9)}{i:03d}") for i, nm in enumerate(names[:wanted], 1)
        )
        if not prefecture and lg_code[:2].isdigit() and 0 < int(lg_code[:2]) < len(data.PREFECTURES):
            prefecture = data.PREFECTURES[int(lg_code[:2])]
        return cls(lg_code, prefecture, town_name, areas)


@dataclass(frozen=True)
class _Address:
    area: _Area
    number: str
    building: str | None

    def columns(self) -> dict[str, Any]:
        return {
            "address_area": self.area.name,
            "address_number": self.number,
            "address_building": self.building,
            "postal_code": self.area.postal_code,
            "address_key": text_key(f"{self.area.name}{self.number}{self.building or ''}"),
        }

    def full(self, town: _Town) -> str:
        base = f"{town.prefix}{self.area.name}{self.number}"
        return f"{base}　{self.building}" if self.building else base


# --- planning a household ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Member:
    """A planned member; ``record`` is the newest snapshot once the member has entered the register."""

    relationship: str
    sex: str
    age: float
    birth: int = 0
    family: str = ""
    given: str = ""
    family_kana: str = ""
    given_kana: str = ""
    name_roman: str | None = None
    honseki_head: str | None = None
    removal: tuple[int, str] | None = None
    """(ordinal date, "move_out"/"death") of this member's own 消除, when planned."""
    record: Row | None = None
    atena_no: str = ""
    present: bool = False

    @property
    def full_name(self) -> str:
        if self.family or self.given:
            return f"{self.family}　{self.given}".strip("　")
        return self.name_roman or ""


def _spouse_age(rng: random.Random, head_age: float, head_sex: str) -> float:
    gap = rng.gauss(2.0, 2.5)
    return max(18.5, head_age - gap if head_sex == "male" else head_age + gap)


def _children(rng: random.Random, mother_age: float, count: int, label: str = "子") -> list[_Member]:
    """Children 20–45 years younger than their mother, a few years apart, youngest first."""
    oldest_possible = max(0.2, mother_age - 20.0)
    # Skewed to older children: many adult children still live with their parents in Japan.
    age = 0.05 + (min(oldest_possible, 33.0) - 0.05) * rng.random() ** 0.7
    kids = []
    for _ in range(count):
        kids.append(_Member(label, "male" if rng.random() < 0.512 else "female", min(age, oldest_possible)))
        age += rng.uniform(1.2, 4.5)
    return kids


def _couple(rng: random.Random, table: str) -> tuple[_Member, _Member]:
    head_sex = "male" if rng.random() < 0.92 else "female"
    head = _Member(HEAD, head_sex, _AGES[table].draw(rng))
    spouse_sex = "female" if head_sex == "male" else "male"
    spouse = _Member(
        "妻" if spouse_sex == "female" else "夫", spouse_sex, _spouse_age(rng, head.age, head_sex)
    )
    return head, spouse


def _mother_age(members: list[_Member]) -> float:
    return next(m.age for m in members if m.relationship in (HEAD, "妻", "夫") and m.sex == "female")


def _parents(rng: random.Random, head: _Member, count: int) -> list[_Member]:
    father_age = min(101.0, head.age + rng.uniform(24.0, 38.0))
    pair = [
        _Member("父", "male", father_age),
        _Member("母", "female", max(head.age + 19, father_age - rng.uniform(0, 5))),
    ]
    return pair if count == 2 else [pair[0] if rng.random() < 0.25 else pair[1]]


def _sibling(rng: random.Random, head: _Member) -> _Member:
    sex = "male" if rng.random() < 0.5 else "female"
    age = max(18.5, head.age + rng.uniform(-8, 8))
    older = age > head.age
    label = ("兄" if older else "弟") if sex == "male" else ("姉" if older else "妹")
    return _Member(label, sex, age)


def _nuclear(rng: random.Random, kids: int, parents: int = 0) -> list[_Member]:
    head, spouse = _couple(rng, "middle" if parents else "parents")
    members = [head, spouse]
    members += _children(rng, _mother_age(members), kids)
    if parents:
        members += _parents(rng, head, parents)
    return members


def _three_generations(rng: random.Random, grandchildren: int) -> list[_Member]:
    """Senior couple, their son and his wife (子の妻), and the son's children (子の子)."""
    head, spouse = _couple(rng, "senior")
    son = _Member("子", "male", max(22.5, _mother_age([head, spouse]) - rng.uniform(24, 34)))
    wife = _Member("子の妻", "female", max(20.5, son.age - rng.gauss(2, 2)))
    return [head, spouse, son, wife, *_children(rng, wife.age, grandchildren, "子の子")]


def _single_parent(rng: random.Random, kids: int) -> list[_Member]:
    head = _Member(HEAD, "female" if rng.random() < 0.85 else "male", _AGES["single_parent"].draw(rng))
    mother_age = head.age if head.sex == "female" else head.age - 2
    return [head, *_children(rng, mother_age, kids)]


def _shape(rng: random.Random, size: int) -> list[_Member]:
    """Members of a Japanese household of ``size``, shaped like census household types."""
    r = rng.random()
    if size == 1:
        return [_Member(HEAD, "female" if rng.random() < 0.5 else "male", _AGES["single"].draw(rng))]
    if size == 2:
        if r < 0.62:
            return list(_couple(rng, "couple"))
        if r < 0.84:
            return _single_parent(rng, 1)
        head = _Member(HEAD, "male" if rng.random() < 0.5 else "female", _AGES["middle"].draw(rng))
        return [head, _parents(rng, head, 1)[0] if r < 0.95 else _sibling(rng, head)]
    if size == 3:
        if r < 0.65:
            return _nuclear(rng, 1)
        if r < 0.82:
            return _single_parent(rng, 2)
        if r < 0.94:
            return _nuclear(rng, 0, parents=1)
        head = _Member(HEAD, "female", _AGES["senior"].draw(rng))
        child = _Member("子", "female", max(20.5, head.age - rng.uniform(24, 34)))
        return [head, child, *_children(rng, child.age, 1, "子の子")]
    if size == 4:
        if r < 0.76:
            return _nuclear(rng, 2)
        if r < 0.89:
            return _nuclear(rng, 1, parents=1)
        return _single_parent(rng, 3) if r < 0.94 else _three_generations(rng, 0)
    extra = size - 5
    if r < 0.40:
        return _nuclear(rng, 3 + extra)
    if r < 0.75:
        return _nuclear(rng, 2 + max(0, extra - 1), parents=1 + min(extra, 1))
    return _three_generations(rng, 1 + extra)


@dataclass(slots=True)
class _Foreign:
    """The 法30条の45 items shared by a foreign household."""

    nationality: data.Nationality
    status: data.StayStatus


@dataclass
class _Plan:
    members: list[_Member]
    foreign: _Foreign | None
    entry: int
    entry_type: str
    previous_address: str | None
    address: _Address
    honseki: str | None
    relocation: tuple[int, _Address] | None = None
    household_move_out: int | None = None


# --- the generator ----------------------------------------------------------------------------------------


class _Generator:
    """State of one run: the random stream, the number counters and the uniqueness sets."""

    def __init__(
        self,
        town: _Town,
        seed: int,
        today: dt.date,
        *,
        first_atena_seq: int,
        first_household_seq: int,
        first_event_no: int,
        actor: str,
    ) -> None:
        self.town = town
        self.rng = random.Random(f"jichitai-synthetic:{town.lg_code}:{seed}")
        self.today = today.toordinal()
        self.atena_seq = first_atena_seq
        self.household_seq = first_household_seq
        self.event_no = first_event_no
        self.actor = actor
        self.juminhyo_codes: set[str] = set()
        self.my_numbers: set[str] = set()
        self.batch = Batch()

    # -- identifiers ---------------------------------------------------------------------------------------

    def juminhyo_code(self) -> str:
        """A unique 住民票コード of the shape ``issue_juminhyo_code`` makes (first digit non-zero).

        One ``randrange`` instead of its ten ``randint`` calls: the same distribution, a tenth of the time,
        which matters at a million persons; the check digit comes from the same function.
        """
        while True:
            body = str(self.rng.randrange(10**9, 10**10))
            code = body + str(juminhyo_code_check_digit(body))
            if code not in self.juminhyo_codes:
                self.juminhyo_codes.add(code)
                return code

    def my_number(self) -> str | None:
        """A valid, unique 個人番号 for about 70% of persons (the rest have not had one recorded)."""
        rng = self.rng
        if rng.random() >= 0.7:
            return None
        while True:
            body = f"{rng.randrange(10**11):011d}"
            number = body + str(my_number_check_digit(body))
            if number not in self.my_numbers and len(set(number)) > 1:
                self.my_numbers.add(number)
                return number

    def residence_card_no(self) -> str:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        pick = self.rng.choice
        return f"{pick(letters)}{pick(letters)}{self.rng.randrange(10**8):08d}{pick(letters)}{pick(letters)}"

    # -- places --------------------------------------------------------------------------------------------

    def address(self) -> _Address:
        rng = self.rng
        area = rng.choice(self.town.areas)
        number = f"{rng.randint(1, 40)}番{rng.randint(1, 30)}号"
        building = None
        if rng.random() < 0.25:
            building = f"{rng.choice(data.BUILDINGS)} {rng.randint(1, 5)}{rng.randint(1, 12):02d}号"
        return _Address(area, number, building)

    def elsewhere(self) -> str:
        """An address in another municipality (転入前住所, 転出先)."""
        rng = self.rng
        stem = rng.choice(data.AREA_STEMS)[0]
        place = f"{rng.choice(data.OTHER_TOWNS)}{stem}{rng.randint(1, 5)}丁目"
        return f"{place}{rng.randint(1, 30)}番{rng.randint(1, 20)}号"

    def honseki(self) -> str:
        rng = self.rng
        if rng.random() < 0.55:
            return f"{self.town.prefix}{rng.choice(self.town.areas).name}{rng.randint(1, 300)}番地"
        return f"{rng.choice(data.OTHER_TOWNS)}{rng.choice(data.AREA_STEMS)[0]}{rng.randint(1, 300)}番地"

    # -- people --------------------------------------------------------------------------------------------

    def given_name(self, sex: str, birth: int) -> data.GivenName:
        year = min(max(dt.date.fromordinal(birth).year, _FIRST_NAME_YEAR), _LAST_NAME_YEAR)
        names, cum = _GIVEN[sex][year - _FIRST_NAME_YEAR]
        return _pick(self.rng, names, cum)

    def name_japanese(self, members: list[_Member]) -> None:
        family = _pick(self.rng, data.FAMILY_NAMES, _FAMILY_CUM)
        for m in members:
            given = self.given_name(m.sex, m.birth)
            m.family, m.family_kana, m.given, m.given_kana = (
                family.kanji,
                family.kana,
                given.kanji,
                given.kana,
            )
        self.honseki_heads(members, family.kanji)

    def honseki_heads(self, members: list[_Member], family: str) -> None:
        """筆頭者: the husband of a couple, the father for the head's parents, the son for his own family."""
        head = members[0]
        by_label = {m.relationship: m for m in members}
        husband = head if head.sex == "male" else by_label.get("夫")
        family_head = husband.full_name if husband else self.someone_else(family, head)
        for m in members:
            if m.relationship in ("父", "母"):
                father = by_label.get("父")
                m.honseki_head = father.full_name if father else self.someone_else(family, m, older=3)
            elif m.relationship in ("子の妻", "子の子"):
                son = by_label.get("子")
                m.honseki_head = son.full_name if son else family_head
            else:
                m.honseki_head = family_head

    def someone_else(self, family: str, member: _Member, older: float = 28) -> str:
        """Name of a 筆頭者 not in the household: a late husband, or the father of a young single."""
        if member.sex == "female" and member.age >= 50:
            older = 2
        elif member.age >= 35:
            return member.full_name
        birth = max(1, member.birth - int(older * _YEAR))
        return f"{family}　{self.given_name('male', birth).kanji}"

    def name_foreign(self, members: list[_Member], nat: data.Nationality) -> None:
        rng = self.rng
        family = rng.choice(nat.families)
        for m in members:
            given = rng.choice(nat.male if m.sex == "male" else nat.female)
            middle = nat.male_middle if m.sex == "male" else nat.female_middle
            roman_given = f"{middle.roman} {given.roman}" if middle else given.roman
            kana_given = f"{middle.kana}　{given.kana}" if middle else given.kana
            m.name_roman = f"{family.roman} {roman_given}"
            m.family_kana, m.given_kana = family.kana, kana_given
            if family.kanji and given.kanji:
                m.family, m.given = family.kanji, given.kanji

    # -- planning ------------------------------------------------------------------------------------------

    def plan(self, remaining: int) -> _Plan:
        """A household of at most ``remaining`` members, foreign for about 2.4% of households."""
        rng = self.rng
        if rng.random() < 0.024:
            plan = self.plan_foreign(remaining)
        else:
            size = min(remaining, 1 + bisect.bisect(_SIZE_CUM, rng.random() * _SIZE_CUM[-1]))
            members = _shape(rng, min(size, 7))[:size]
            self.set_births(members)
            self.name_japanese(members)
            entry = self.entry_date(members, _REGISTRY_START)
            r = rng.random()
            entry_type = (
                "domestic_move_in" if r < 0.93 else "ex_officio_entry" if r < 0.97 else "overseas_move_in"
            )
            previous = None if entry_type == "ex_officio_entry" else self.elsewhere()
            if entry_type == "overseas_move_in":
                previous = rng.choice(data.NATIONALITIES).origin
            plan = _Plan(members, None, entry, entry_type, previous, self.address(), self.honseki())
        self.plan_changes(plan)
        return plan

    def set_births(self, members: list[_Member]) -> None:
        for m in members:
            m.birth = self.today - max(1, int(m.age * _YEAR))

    def entry_date(self, members: list[_Member], earliest: int, *, skew: bool = True) -> int:
        """The household's entry: after the head came of age and after every adult member was born."""
        lower = max(earliest, members[0].birth + int(18 * _YEAR))
        for m in members:
            if m.relationship not in ("子", "子の子"):
                lower = max(lower, m.birth + 1)
        lower = min(lower, self.today)
        if not skew:
            return lower
        # Skewed towards the past: most households have lived in town for years.
        return lower + int((self.today - lower) * self.rng.random() ** 1.3)

    def plan_foreign(self, remaining: int) -> _Plan:
        rng = self.rng
        nat = _pick(rng, data.NATIONALITIES, _NATIONALITY_CUM)
        status = rng.choice(nat.statuses)
        if status.group == "single":
            members = [_Member(HEAD, "male" if rng.random() < 0.55 else "female", _AGES["worker"].draw(rng))]
        elif status.group == "special":
            members = _shape(rng, rng.choice((1, 1, 2, 2, 3)))
        else:
            head, spouse = _couple(rng, "foreign_family")
            members = [
                head,
                spouse,
                *_children(rng, _mother_age([head, spouse]), rng.choice((0, 1, 1, 2, 2, 3))),
            ]
        members = members[: max(1, remaining)]
        self.set_births(members)
        self.name_foreign(members, nat)
        if status.group == "single":
            entry = self.entry_date(members, self.today - int(rng.uniform(0.5, 3.0) * _YEAR))
        elif rng.random() < (0.8 if status.group == "special" else 0.35):
            # Already living here in 2012: entered ex officio when foreign residents joined the register.
            entry = self.entry_date(members, _FOREIGN_START, skew=False)
        else:
            entry = self.entry_date(members, _FOREIGN_START)
        if entry == _FOREIGN_START or status.group == "special":
            entry_type, previous = "ex_officio_entry", None
        elif rng.random() < 0.8:
            entry_type, previous = "overseas_move_in", nat.origin
        else:
            entry_type, previous = "domestic_move_in", self.elsewhere()
        return _Plan(members, _Foreign(nat, status), entry, entry_type, previous, self.address(), None)

    def plan_changes(self, plan: _Plan) -> None:
        """Decide the later 転居 and 除票 of a household (dates after everything they depend on)."""
        rng = self.rng
        members = plan.members
        settled = max([plan.entry, *(m.birth for m in members)])
        move_out_rate = 0.12 if plan.foreign and plan.foreign.status.group == "single" else 0.035
        if settled + 1 < self.today and rng.random() < move_out_rate:
            plan.household_move_out = rng.randint(settled + 1, self.today)
        else:
            self.plan_individual_removals(plan)
        last = plan.household_move_out or self.today
        if plan.entry + 1 < last and rng.random() < 0.15:
            plan.relocation = (rng.randint(plan.entry + 1, last), self.address())

    def plan_individual_removals(self, plan: _Plan) -> None:
        """Adult children moving out and deaths of the old; a head dies only where one adult stays (j490)."""
        rng = self.rng
        members = plan.members
        for m in members:
            start = max(plan.entry, m.birth) + 1
            if m.relationship == "子" and m.age >= 20 and rng.random() < 0.09:
                start = max(start, m.birth + int(18 * _YEAR))
                if start < self.today:
                    m.removal = (rng.randint(start, self.today), "move_out")
            elif m.age >= 65 and rng.random() < (0.04 if m.age < 80 else 0.10):
                if m.relationship == HEAD:
                    if len(members) > 2:
                        continue
                    # The member left behind becomes 世帯主: only once they are an adult.
                    start = max([start, *(o.birth + int(18 * _YEAR) for o in members if o is not m)])
                if start < self.today:
                    m.removal = (rng.randint(start, self.today), "death")
        heads_leaving = any(m.removal for m in members if m.relationship == HEAD)
        if heads_leaving and any(m.removal for m in members if m.relationship != HEAD):
            members[0].removal = None  # keep the j490 rule simple: at most one member stays behind a head

    # -- playing the history -------------------------------------------------------------------------------

    def household(self, plan: _Plan) -> int:
        """Write the rows of one planned household; returns how many of its members remain residents."""
        household_no = make_atena_number(self.household_seq)
        self.household_seq += 1
        timeline: list[tuple[int, int, int, str, list[_Member]]] = []
        initial = [m for m in plan.members if m.birth <= plan.entry]
        timeline.append((plan.entry, 0, 0, plan.entry_type, initial))
        for i, m in enumerate(plan.members):
            if m.birth > plan.entry:
                timeline.append((m.birth, 1, i, "birth", [m]))
            if m.removal:
                timeline.append((m.removal[0], 3, i, m.removal[1], [m]))
        if plan.relocation:
            timeline.append((plan.relocation[0], 2, 0, "relocation", []))
        if plan.household_move_out:
            timeline.append((plan.household_move_out, 3, 0, "move_out", []))
        timeline.sort(key=lambda t: t[:3])
        state = _HouseholdState(plan, household_no, plan.address)
        self.batch.households.append(
            {"lg_code": self.town.lg_code, "household_no": household_no, "created_event_no": self.event_no}
        )
        for date, _order, _i, kind, who in timeline:
            self.play(state, kind, date, self.event(kind, date, plan), who)
        return self.finish(plan.members)

    def event(self, kind: str, date: int, plan: _Plan) -> int:
        event_no = self.event_no
        self.event_no += 1
        spec = rules.EVENT_KINDS[kind]
        day = dt.date.fromordinal(date)
        abroad = kind == "move_out" and plan.foreign is not None and plan.foreign.status.group == "single"
        self.batch.events.append(
            {
                "lg_code": self.town.lg_code,
                "event_no": event_no,
                "event_type": kind,
                "reason": "国外転出" if abroad else spec.reason,
                "category": spec.category,
                "event_date": day,
                "event_date_text": None,
                "notified_on": day if spec.notification else None,
                "processed_on": day,
                "recorded_at": dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC),
                "cancels_event_no": None,
                "details": {"synthetic": True},
                "actor": self.actor,
                "request_id": None,
            }
        )
        return event_no

    def play(self, state: _HouseholdState, kind: str, date: int, event_no: int, who: list[_Member]) -> None:
        if kind in ("domestic_move_in", "overseas_move_in", "ex_officio_entry", "birth"):
            for m in who:
                self.enter(state, m, kind, date, event_no)
        elif kind == "relocation":
            assert state.plan.relocation is not None
            new = state.plan.relocation[1]
            old_full = state.address.full(self.town)
            day = dt.date.fromordinal(date)
            state.move(new)
            for m in state.present():
                self.snapshot(
                    m, event_no, **state.columns, address_set_on=day, prior_address=old_full, notified_on=day
                )
        else:
            self.leave(state, kind, date, event_no, who or state.present())

    def leave(self, state: _HouseholdState, kind: str, date: int, event_no: int, who: list[_Member]) -> None:
        day = dt.date.fromordinal(date)
        remaining = [m for m in state.present() if m not in who]
        head_leaves = any(m.relationship == HEAD for m in who)
        for m in who:
            m.present = False
            if kind == "death":
                self.snapshot(m, event_no, status="deceased", removal_reason="死亡", removed_on=day)
                continue
            foreign = state.plan.foreign
            abroad = foreign is not None and foreign.status.group == "single"
            self.snapshot(
                m,
                event_no,
                status="moved_out",
                removal_reason="国外転出" if abroad else "国内転出",
                removed_on=day,
                move_out_destination=foreign.nationality.origin if abroad and foreign else self.elsewhere(),
                notified_on=day,
            )
        if head_leaves and remaining:
            assert len(remaining) == 1, "a departing head leaves at most one member (j490)"
            heir = remaining[0]
            heir.relationship = HEAD
            state.head_name = heir.full_name
            self.snapshot(heir, event_no, relationship=HEAD, head_name=heir.full_name)

    def enter(self, state: _HouseholdState, m: _Member, kind: str, date: int, event_no: int) -> None:
        m.atena_no = make_atena_number(self.atena_seq)
        self.atena_seq += 1
        m.present = True
        day = dt.date.fromordinal(date)
        plan = state.plan
        kana_key, given_key = _kana_keys(m.family_kana, m.given_kana)
        record: Row = {
            "lg_code": self.town.lg_code,
            "atena_no": m.atena_no,
            "history_no": 1,
            "is_current": False,
            "event_no": event_no,
            "status": "resident",
            "kind": "foreign" if plan.foreign else "japanese",
            "household_no": state.household_no,
            "relationship": m.relationship,
            "head_name": state.head_name,
            "family_name": m.family,
            "given_name": m.given,
            "family_kana": m.family_kana,
            "given_kana": m.given_kana,
            "kana_confirmed": self.rng.random() < (0.97 if plan.foreign is None else 0.8),
            "former_surname": None,
            "former_surname_kana": None,
            "name_roman": m.name_roman,
            "alias_name": None,
            "alias_kana": None,
            "kana_key": kana_key,
            "given_kana_key": given_key,
            "name_key": text_key(f"{m.family}{m.given}" or (m.name_roman or "")),
            "birth_date": dt.date.fromordinal(m.birth),
            "birth_date_text": None,
            "sex": m.sex,
            **state.columns,
            "address_set_on": day,
            "address_set_on_text": None,
            "became_resident_on": day,
            "became_resident_on_text": None,
            "notified_on": day if rules.EVENT_KINDS[kind].notification else None,
            "previous_address": plan.previous_address if kind != "birth" else None,
            "prior_address": None,
            "honseki": plan.honseki,
            "honseki_head": m.honseki_head,
            "juminhyo_code": self.juminhyo_code(),
            "my_number": self.my_number(),
            **self.foreign_items(plan.foreign, m, date),
            "removal_reason": None,
            "removed_on": None,
            "move_out_destination": None,
        }
        m.record = record
        self.batch.records.append(record)
        self.link(event_no, m.atena_no, None, 1)
        self.batch.persons.append(
            {
                "lg_code": self.town.lg_code,
                "atena_no": m.atena_no,
                "current_history_no": 1,
                "created_event_no": event_no,
            }
        )

    def foreign_items(self, foreign: _Foreign | None, m: _Member, date: int) -> dict[str, Any]:
        if foreign is None:
            return _NO_FOREIGN_ITEMS
        status = foreign.status
        if status.residence_status == "技術・人文知識・国際業務" and m.relationship != HEAD:
            status = data.DEPENDANT_STATUS
        expires = None
        if status.months:
            expires = dt.date.fromordinal(self.today + self.rng.randint(30, max(31, status.months * 30)))
        return {
            "nationality": foreign.nationality.name,
            "foreign_category": status.category,
            "residence_status": status.residence_status,
            "period_of_stay": status.period,
            "stay_expires_on": expires,
            "residence_card_no": self.residence_card_no(),
            "foreign_resident_since": dt.date.fromordinal(date),
        }

    def snapshot(self, m: _Member, event_no: int, **changes: Any) -> None:
        """The member's next 履歴番号: every item copied, ``changes`` applied (j200)."""
        assert m.record is not None
        record = dict(m.record)
        record.update(changes)
        record["history_no"] = m.record["history_no"] + 1
        record["event_no"] = event_no
        self.link(event_no, m.atena_no, m.record["history_no"], record["history_no"])
        m.record = record
        self.batch.records.append(record)

    def link(self, event_no: int, atena_no: str, before: int | None, after: int) -> None:
        self.batch.event_persons.append(
            {
                "lg_code": self.town.lg_code,
                "event_no": event_no,
                "atena_no": atena_no,
                "history_no_before": before,
                "history_no_after": after,
            }
        )

    def finish(self, members: list[_Member]) -> int:
        """Mark the newest snapshot current and point the person row at it."""
        persons = self.batch.persons[-len(members) :]
        by_atena = {p["atena_no"]: p for p in persons}
        residents = 0
        for m in members:
            assert m.record is not None
            m.record["is_current"] = True
            by_atena[m.atena_no]["current_history_no"] = m.record["history_no"]
            residents += m.record["status"] == "resident"
        return residents


_NO_FOREIGN_ITEMS: dict[str, Any] = {
    "nationality": None,
    "foreign_category": None,
    "residence_status": None,
    "period_of_stay": None,
    "stay_expires_on": None,
    "residence_card_no": None,
    "foreign_resident_since": None,
}


@dataclass
class _HouseholdState:
    plan: _Plan
    household_no: str
    address: _Address
    head_name: str = ""
    columns: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.head_name = self.plan.members[0].full_name
        self.columns = self.address.columns()

    def move(self, address: _Address) -> None:
        """転居: later entries (births) take the new address too."""
        self.address = address
        self.columns = address.columns()

    def present(self) -> list[_Member]:
        return [m for m in self.plan.members if m.present]


def generate(
    lg_code: str,
    n: int,
    seed: int,
    *,
    first_atena_seq: int,
    first_household_seq: int,
    first_event_no: int,
    today: dt.date,
    town_name: str = "",
    prefecture: str = "",
    actor: str = "synthetic",
    batch_persons: int = BATCH_PERSONS,
) -> Iterator[Batch]:
    """Yield batches of rows for a town of exactly ``n`` current residents plus its 除票 persons.

    Numbers are taken consecutively from the ``first_*`` values and never exceed :func:`capacity` (n).
    ``town_name`` and ``prefecture`` only shape addresses (異動前住所, 本籍); the prefecture defaults to the
    one named by the lg_code.
    """
    town = _Town.make(lg_code, town_name, prefecture)
    gen = _Generator(
        town,
        seed,
        today,
        first_atena_seq=first_atena_seq,
        first_household_seq=first_household_seq,
        first_event_no=first_event_no,
        actor=actor,
    )
    residents = 0
    removed_budget = _removal_budget(n)
    in_batch = 0
    while residents < n:
        remaining = n - residents
        plan = gen.plan(remaining)
        size = len(plan.members)
        if size >= remaining or size > removed_budget:
            # The last household must land exactly on n; the cap keeps the numbers within capacity(n).
            _clear_changes(plan)
        stayed = gen.household(plan)
        removed_budget -= size - stayed
        residents += stayed
        gen.batch.residents += stayed
        in_batch += size
        if in_batch >= batch_persons:
            yield gen.batch
            gen.batch = Batch()
            in_batch = 0
    if gen.batch.records:
        yield gen.batch


def _clear_changes(plan: _Plan) -> None:
    plan.household_move_out = None
    for m in plan.members:
        m.removal = None
