"""What a run of the generator hands out: batches of rows, and the numbers it will need reserved up front."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BATCH_PERSONS", "Batch", "Capacity", "Row", "capacity", "removal_budget"]

Row = dict[str, Any]

BATCH_PERSONS = 5000
"""Persons per batch: large enough for fast bulk writes, small enough to keep memory flat at a million."""


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


def removal_budget(n: int) -> int:
    """The most 除票 persons a town of ``n`` residents may carry, keeping :func:`capacity` an upper bound."""
    return n // 8 + 8


def capacity(n: int) -> Capacity:
    """Numbers needed for ``n`` residents: 除票 persons are capped, households ≤ persons, events ≤ 3/person.

    Events per household are at most 1 entry + births + 1 転居 + one 消除 per member: ≤ 2·size + 1 ≤ 3·size.
    """
    persons = n + removal_budget(n)
    return Capacity(atena=persons, households=persons, events=3 * persons)
