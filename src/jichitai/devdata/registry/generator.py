"""Playing planned households into rows, in date order, the way the services record each 異動.

An entry (転入, 国外転入, 職権記載) or a birth creates a person and its first 履歴; a 転居, a 転出 or a death
adds a new 履歴番号 to every member it concerns, linked to its event, so that the rows read exactly like a
town whose clerks recorded every change as it happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jichitai.devdata.registry import vocabulary as data
from jichitai.devdata.registry.batch import BATCH_PERSONS, Batch, Row, removal_budget
from jichitai.devdata.registry.households import HEAD, Foreign, Member, Plan
from jichitai.devdata.registry.planning import Planner
from jichitai.devdata.registry.tables import kana_keys
from jichitai.devdata.registry.town import Address, Town
from jichitai.modules.registry.records import rules
from jichitai.modules.registry.records.snapshots import text_key
from jichitai.platform.jp import make_atena_number

__all__ = ["generate"]

_NO_FOREIGN_ITEMS: dict[str, Any] = {  # the 法30条の45 columns of a Japanese resident's record
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
    """Where a household stands while its history is played: its address, 世帯主 name and who is present."""

    plan: Plan
    household_no: str
    address: Address
    head_name: str = ""
    columns: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.head_name = self.plan.members[0].full_name
        self.columns = self.address.columns()

    def move(self, address: Address) -> None:
        """転居: later entries (births) take the new address too."""
        self.address = address
        self.columns = address.columns()

    def present(self) -> list[Member]:
        """Members on the register at this point of the history (entered, not yet removed)."""
        return [m for m in self.plan.members if m.present]


class _Generator(Planner):
    """State of one run: the number counters and the batch being filled, on top of the random stream."""

    def __init__(
        self,
        town: Town,
        seed: int,
        today: dt.date,
        *,
        first_atena_seq: int,
        first_household_seq: int,
        first_event_no: int,
        actor: str,
    ) -> None:
        super().__init__(town, seed, today)
        self.atena_seq = first_atena_seq
        self.household_seq = first_household_seq
        self.event_no = first_event_no
        self.actor = actor
        self.batch = Batch()

    # -- playing the history -------------------------------------------------------------------------------

    def household(self, plan: Plan) -> int:
        """Write the rows of one planned household; returns how many of its members remain residents."""
        household_no = make_atena_number(self.household_seq)
        self.household_seq += 1
        timeline: list[tuple[int, int, int, str, list[Member]]] = []
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

    def event(self, kind: str, date: int, plan: Plan) -> int:
        """The 異動 event row, dated as if processed on the day itself; returns its number."""
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

    def play(self, state: _HouseholdState, kind: str, date: int, event_no: int, who: list[Member]) -> None:
        """Apply one event of the timeline; an empty ``who`` means everyone present."""
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

    def leave(self, state: _HouseholdState, kind: str, date: int, event_no: int, who: list[Member]) -> None:
        """消除 (転出 or 死亡) of ``who``; a member left behind a departing head becomes 世帯主 (j490)."""
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

    def enter(self, state: _HouseholdState, m: Member, kind: str, date: int, event_no: int) -> None:
        """A new person with its first 履歴, every column as the services would write it."""
        m.atena_no = make_atena_number(self.atena_seq)
        self.atena_seq += 1
        m.present = True
        day = dt.date.fromordinal(date)
        plan = state.plan
        kana_key, given_key = kana_keys(m.family_kana, m.given_kana)
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

    def foreign_items(self, foreign: Foreign | None, m: Member, date: int) -> dict[str, Any]:
        """The 法30条の45 columns; a worker's family members hold 家族滞在 rather than the worker's status."""
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

    def snapshot(self, m: Member, event_no: int, **changes: Any) -> None:
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
        """The event ↔ person row that ties each 履歴 to the event that made it."""
        self.batch.event_persons.append(
            {
                "lg_code": self.town.lg_code,
                "event_no": event_no,
                "atena_no": atena_no,
                "history_no_before": before,
                "history_no_after": after,
            }
        )

    def finish(self, members: list[Member]) -> int:
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
    town = Town.make(lg_code, town_name, prefecture)
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
    removed_budget = removal_budget(n)
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


def _clear_changes(plan: Plan) -> None:
    """Make everyone stay: no household 転出, no individual 消除 (a 転居 keeps the count)."""
    plan.household_move_out = None
    for m in plan.members:
        m.removal = None
