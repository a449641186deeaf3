"""Planning a household before it is written: its members' relationships, sexes and ages, shaped like census
household types, and the plan of what will happen to it (entry, 転居, 除票).

Only relationships and ages are drawn here; births, names and dates are filled in by the planner, which owns
the rest of the random stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from jichitai.devdata.registry import vocabulary as data
from jichitai.devdata.registry.batch import Row
from jichitai.devdata.registry.tables import AGES
from jichitai.devdata.registry.town import Address
from jichitai.modules.registry.records import rules

__all__ = ["HEAD", "Foreign", "Member", "Plan", "age_of_mother", "children", "couple", "shape"]

HEAD = rules.HEAD


@dataclass(slots=True)
class Member:
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
        """氏名 as the record shows it: kanji family and given name, or the roman name when there is none."""
        if self.family or self.given:
            return f"{self.family}　{self.given}".strip("　")
        return self.name_roman or ""


def _spouse_age(rng: random.Random, head_age: float, head_sex: str) -> float:
    gap = rng.gauss(2.0, 2.5)
    return max(18.5, head_age - gap if head_sex == "male" else head_age + gap)


def children(rng: random.Random, mother_age: float, count: int, label: str = "子") -> list[Member]:
    """Children 20–45 years younger than their mother, a few years apart, youngest first."""
    oldest_possible = max(0.2, mother_age - 20.0)
    # Skewed to older children: many adult children still live with their parents in Japan.
    age = 0.05 + (min(oldest_possible, 33.0) - 0.05) * rng.random() ** 0.7
    kids = []
    for _ in range(count):
        kids.append(Member(label, "male" if rng.random() < 0.512 else "female", min(age, oldest_possible)))
        age += rng.uniform(1.2, 4.5)
    return kids


def couple(rng: random.Random, table: str) -> tuple[Member, Member]:
    """A head of age drawn from ``table`` and a spouse of about the same age; mostly a husband as head."""
    head_sex = "male" if rng.random() < 0.92 else "female"
    head = Member(HEAD, head_sex, AGES[table].draw(rng))
    spouse_sex = "female" if head_sex == "male" else "male"
    spouse = Member(
        "妻" if spouse_sex == "female" else "夫", spouse_sex, _spouse_age(rng, head.age, head_sex)
    )
    return head, spouse


def age_of_mother(members: list[Member]) -> float:
    """Age of the woman of the head couple, whom the children's ages are drawn against."""
    return next(m.age for m in members if m.relationship in (HEAD, "妻", "夫") and m.sex == "female")


def _parents(rng: random.Random, head: Member, count: int) -> list[Member]:
    father_age = min(101.0, head.age + rng.uniform(24.0, 38.0))
    pair = [
        Member("父", "male", father_age),
        Member("母", "female", max(head.age + 19, father_age - rng.uniform(0, 5))),
    ]
    return pair if count == 2 else [pair[0] if rng.random() < 0.25 else pair[1]]


def _sibling(rng: random.Random, head: Member) -> Member:
    sex = "male" if rng.random() < 0.5 else "female"
    age = max(18.5, head.age + rng.uniform(-8, 8))
    older = age > head.age
    label = ("兄" if older else "弟") if sex == "male" else ("姉" if older else "妹")
    return Member(label, sex, age)


def _nuclear(rng: random.Random, kids: int, parents: int = 0) -> list[Member]:
    head, spouse = couple(rng, "middle" if parents else "parents")
    members = [head, spouse]
    members += children(rng, age_of_mother(members), kids)
    if parents:
        members += _parents(rng, head, parents)
    return members


def _three_generations(rng: random.Random, grandchildren: int) -> list[Member]:
    """Senior couple, their son and his wife (子の妻), and the son's children (子の子)."""
    head, spouse = couple(rng, "senior")
    son = Member("子", "male", max(22.5, age_of_mother([head, spouse]) - rng.uniform(24, 34)))
    wife = Member("子の妻", "female", max(20.5, son.age - rng.gauss(2, 2)))
    return [head, spouse, son, wife, *children(rng, wife.age, grandchildren, "子の子")]


def _single_parent(rng: random.Random, kids: int) -> list[Member]:
    head = Member(HEAD, "female" if rng.random() < 0.85 else "male", AGES["single_parent"].draw(rng))
    mother_age = head.age if head.sex == "female" else head.age - 2
    return [head, *children(rng, mother_age, kids)]


def shape(rng: random.Random, size: int) -> list[Member]:
    """Members of a Japanese household of ``size``, shaped like census household types."""
    r = rng.random()
    if size == 1:
        return [Member(HEAD, "female" if rng.random() < 0.5 else "male", AGES["single"].draw(rng))]
    if size == 2:
        if r < 0.62:
            return list(couple(rng, "couple"))
        if r < 0.84:
            return _single_parent(rng, 1)
        head = Member(HEAD, "male" if rng.random() < 0.5 else "female", AGES["middle"].draw(rng))
        return [head, _parents(rng, head, 1)[0] if r < 0.95 else _sibling(rng, head)]
    if size == 3:
        if r < 0.65:
            return _nuclear(rng, 1)
        if r < 0.82:
            return _single_parent(rng, 2)
        if r < 0.94:
            return _nuclear(rng, 0, parents=1)
        head = Member(HEAD, "female", AGES["senior"].draw(rng))
        child = Member("子", "female", max(20.5, head.age - rng.uniform(24, 34)))
        return [head, child, *children(rng, child.age, 1, "子の子")]
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
class Foreign:
    """The 法30条の45 items shared by a foreign household."""

    nationality: data.Nationality
    status: data.StayStatus


@dataclass
class Plan:
    """Everything decided about a household before its history is played: who, where, and what happens when.

    Dates are ordinals; ``relocation`` and ``household_move_out`` are the later 転居 and 転出 of everyone.
    """

    members: list[Member]
    foreign: Foreign | None
    entry: int
    entry_type: str
    previous_address: str | None
    address: Address
    honseki: str | None
    relocation: tuple[int, Address] | None = None
    household_move_out: int | None = None
