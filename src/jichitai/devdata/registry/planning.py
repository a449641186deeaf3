"""Planning households: who lives in one, when they entered the register, and what will happen to them later.

A plan is complete before any row is written, so that the history can then be played in date order; the
dates respect what the services check (a head is an adult, nobody enters before birth, j490 for heads).
"""

from __future__ import annotations

import bisect
import datetime as dt

from jichitai.devdata.registry import vocabulary as data
from jichitai.devdata.registry.draws import Draws
from jichitai.devdata.registry.households import (
    HEAD,
    Foreign,
    Member,
    Plan,
    age_of_mother,
    children,
    couple,
    shape,
)
from jichitai.devdata.registry.tables import AGES, NATIONALITY_CUM, SIZE_CUM, YEAR, pick

__all__ = ["Planner"]

_REGISTRY_START = dt.date(1970, 1, 1).toordinal()
"""Japanese entries are dated from here on: earlier arrivals appear as entered when records went digital."""
_FOREIGN_START = dt.date(2012, 7, 9).toordinal()
"""Foreign residents joined the 住民基本台帳 on 2012-07-09 (改正住基法施行), by 職権記載 if already here."""


class Planner(Draws):
    """Draws complete household plans from the run's random stream."""

    def plan(self, remaining: int) -> Plan:
        """A household of at most ``remaining`` members, foreign for about 2.4% of households."""
        rng = self.rng
        if rng.random() < 0.024:
            plan = self.plan_foreign(remaining)
        else:
            size = min(remaining, 1 + bisect.bisect(SIZE_CUM, rng.random() * SIZE_CUM[-1]))
            members = shape(rng, min(size, 7))[:size]
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
            plan = Plan(members, None, entry, entry_type, previous, self.address(), self.honseki())
        self.plan_changes(plan)
        return plan

    def set_births(self, members: list[Member]) -> None:
        """Birth dates from the planned ages, counted back from ``today`` (never today itself)."""
        for m in members:
            m.birth = self.today - max(1, int(m.age * YEAR))

    def entry_date(self, members: list[Member], earliest: int, *, skew: bool = True) -> int:
        """The household's entry: after the head came of age and after every adult member was born."""
        lower = max(earliest, members[0].birth + int(18 * YEAR))
        for m in members:
            if m.relationship not in ("子", "子の子"):
                lower = max(lower, m.birth + 1)
        lower = min(lower, self.today)
        if not skew:
            return lower
        # Skewed towards the past: most households have lived in town for years.
        return lower + int((self.today - lower) * self.rng.random() ** 1.3)

    def plan_foreign(self, remaining: int) -> Plan:
        """A foreign household: workers alone, families, or 特別永住者 who were here before 2012."""
        rng = self.rng
        nat = pick(rng, data.NATIONALITIES, NATIONALITY_CUM)
        status = rng.choice(nat.statuses)
        if status.group == "single":
            members = [Member(HEAD, "male" if rng.random() < 0.55 else "female", AGES["worker"].draw(rng))]
        elif status.group == "special":
            members = shape(rng, rng.choice((1, 1, 2, 2, 3)))
        else:
            head, spouse = couple(rng, "foreign_family")
            members = [
                head,
                spouse,
                *children(rng, age_of_mother([head, spouse]), rng.choice((0, 1, 1, 2, 2, 3))),
            ]
        members = members[: max(1, remaining)]
        self.set_births(members)
        self.name_foreign(members, nat)
        if status.group == "single":
            entry = self.entry_date(members, self.today - int(rng.uniform(0.5, 3.0) * YEAR))
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
        return Plan(members, Foreign(nat, status), entry, entry_type, previous, self.address(), None)

    def plan_changes(self, plan: Plan) -> None:
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

    def plan_individual_removals(self, plan: Plan) -> None:
        """Adult children moving out and deaths of the old; a head dies only where one adult stays (j490)."""
        rng = self.rng
        members = plan.members
        for m in members:
            start = max(plan.entry, m.birth) + 1
            if m.relationship == "子" and m.age >= 20 and rng.random() < 0.09:
                start = max(start, m.birth + int(18 * YEAR))
                if start < self.today:
                    m.removal = (rng.randint(start, self.today), "move_out")
            elif m.age >= 65 and rng.random() < (0.04 if m.age < 80 else 0.10):
                if m.relationship == HEAD:
                    if len(members) > 2:
                        continue
                    # The member left behind becomes 世帯主: only once they are an adult.
                    start = max([start, *(o.birth + int(18 * YEAR) for o in members if o is not m)])
                if start < self.today:
                    m.removal = (rng.randint(start, self.today), "death")
        heads_leaving = any(m.removal for m in members if m.relationship == HEAD)
        if heads_leaving and any(m.removal for m in members if m.relationship != HEAD):
            members[0].removal = None  # keep the j490 rule simple: at most one member stays behind a head
