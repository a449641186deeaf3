"""The random stream of one run and the things drawn from it: unique identifiers, places and names.

Every value of a run comes from one :class:`random.Random` seeded by ``(lg_code, seed)``, in a fixed order;
the planner and the generator build on this class so that they all share that single stream.
"""

from __future__ import annotations

import datetime as dt
import random

from jichitai.devdata.registry import vocabulary as data
from jichitai.devdata.registry.households import Member
from jichitai.devdata.registry.tables import FAMILY_CUM, FIRST_NAME_YEAR, GIVEN, LAST_NAME_YEAR, YEAR, pick
from jichitai.devdata.registry.town import Address, Town
from jichitai.platform.jp import juminhyo_code_check_digit, my_number_check_digit

__all__ = ["Draws"]


class Draws:
    """The random stream, the town, the fixed ``today`` and the sets that keep identifiers unique."""

    def __init__(self, town: Town, seed: int, today: dt.date) -> None:
        self.town = town
        self.rng = random.Random(f"jichitai-synthetic:{town.lg_code}:{seed}")
        self.today = today.toordinal()
        self.juminhyo_codes: set[str] = set()
        self.my_numbers: set[str] = set()

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
        """A 在留カード番号 of the real shape (2 letters, 8 digits, 2 letters); not kept unique."""
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        choose = self.rng.choice
        prefix = choose(letters) + choose(letters)
        return f"{prefix}{self.rng.randrange(10**8):08d}{choose(letters)}{choose(letters)}"

    # -- places --------------------------------------------------------------------------------------------

    def address(self) -> Address:
        """An address in town; a quarter of them in a named building, with a room number."""
        rng = self.rng
        area = rng.choice(self.town.areas)
        number = f"{rng.randint(1, 40)}番{rng.randint(1, 30)}号"
        building = None
        if rng.random() < 0.25:
            building = f"{rng.choice(data.BUILDINGS)} {rng.randint(1, 5)}{rng.randint(1, 12):02d}号"
        return Address(area, number, building)

    def elsewhere(self) -> str:
        """An address in another municipality (転入前住所, 転出先)."""
        rng = self.rng
        stem = rng.choice(data.AREA_STEMS)[0]
        place = f"{rng.choice(data.OTHER_TOWNS)}{stem}{rng.randint(1, 5)}丁目"
        return f"{place}{rng.randint(1, 30)}番{rng.randint(1, 20)}号"

    def honseki(self) -> str:
        """本籍: in this town for about half the households (families often keep it where they live)."""
        rng = self.rng
        if rng.random() < 0.55:
            return f"{self.town.prefix}{rng.choice(self.town.areas).name}{rng.randint(1, 300)}番地"
        return f"{rng.choice(data.OTHER_TOWNS)}{rng.choice(data.AREA_STEMS)[0]}{rng.randint(1, 300)}番地"

    # -- people --------------------------------------------------------------------------------------------

    def given_name(self, sex: str, birth: int) -> data.GivenName:
        """A given name in fashion in the birth year, so that names match ages."""
        year = min(max(dt.date.fromordinal(birth).year, FIRST_NAME_YEAR), LAST_NAME_YEAR)
        names, cum = GIVEN[sex][year - FIRST_NAME_YEAR]
        return pick(self.rng, names, cum)

    def name_japanese(self, members: list[Member]) -> None:
        """One family name for the household, given names in fashion at each birth, then each 筆頭者."""
        family = pick(self.rng, data.FAMILY_NAMES, FAMILY_CUM)
        for m in members:
            given = self.given_name(m.sex, m.birth)
            m.family, m.family_kana, m.given, m.given_kana = (
                family.kanji,
                family.kana,
                given.kanji,
                given.kana,
            )
        self.honseki_heads(members, family.kanji)

    def honseki_heads(self, members: list[Member], family: str) -> None:
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

    def someone_else(self, family: str, member: Member, older: float = 28) -> str:
        """Name of a 筆頭者 not in the household: a late husband, or the father of a young single."""
        if member.sex == "female" and member.age >= 50:
            older = 2
        elif member.age >= 35:
            return member.full_name
        birth = max(1, member.birth - int(older * YEAR))
        return f"{family}　{self.given_name('male', birth).kanji}"

    def name_foreign(self, members: list[Member], nat: data.Nationality) -> None:
        """Roman and kana names of the nationality; kanji only where the nationality writes names in kanji."""
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
