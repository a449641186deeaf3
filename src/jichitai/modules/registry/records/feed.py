"""The register's change feed, and persons and households as they stood on a given day.

庁内連携 (DESIGN §6): other modules and outside systems keep the copies of registry data they need by
reading "the changes since position N". A change is one 異動: its position is the event number, which is
gap-free per town and taken under the counter's row lock, so events commit in number order and a reader
that has seen N has seen everything before it. Each change carries every person the event wrote, as their
snapshot right after it, and the households whose membership it touched.

個人番号 never leaves through the feed: a consumer allowed to hold it receives it through its own linkage.
The normalised search keys are internal and are left out too.

:func:`person_as_of` and :func:`household_as_of` answer "as registered on that day": a snapshot is in force
from its event's 異動日 (``event_date``), the newest such snapshot wins, and snapshots written by an event
that was later cancelled (取消し) never count, since the cancelled 異動 is held never to have happened.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, not_, select, tuple_
from sqlalchemy.orm import Session

from jichitai.modules.registry.records.models import (
    SNAPSHOT_COLUMNS,
    Event,
    EventPerson,
    Household,
    PersonRecord,
    ResidentStatus,
)
from jichitai.modules.registry.records.queries import get_household, get_person
from jichitai.modules.registry.records.rules import Member, certificate_order
from jichitai.platform.modules import Change, FeedSpec
from jichitai.platform.tenancy import Tenant

FEED = "registry.changes"
HIDDEN = frozenset({"my_number", "kana_key", "given_kana_key", "name_key", "address_key"})
PERSON_ITEMS: tuple[str, ...] = tuple(c for c in SNAPSHOT_COLUMNS if c not in HIDDEN)
"""The snapshot items a change or an as-of answer carries: every 住民票 item but 個人番号 and search keys."""


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def snapshot(record: PersonRecord) -> dict[str, Any]:
    """A person's snapshot as the feed shows it (JSON-safe, without 個人番号)."""
    return {
        "atena_no": record.atena_no,
        "history_no": record.history_no,
        "event_no": record.event_no,
        **{name: _json(getattr(record, name)) for name in PERSON_ITEMS},
    }


def _member(record: PersonRecord | None, household_no: str) -> bool:
    return (
        record is not None
        and record.household_no == household_no
        and record.status is ResidentStatus.RESIDENT
    )


def _households(
    links: list[EventPerson], records: dict[tuple[str, int], PersonRecord], created: set[str]
) -> list[dict[str, Any]]:
    """The households the event touched: who joined, who left, and whether the event created it."""
    pairs = [
        (
            records.get((link.atena_no, link.history_no_before)) if link.history_no_before else None,
            records[(link.atena_no, link.history_no_after)],
        )
        for link in links
    ]
    numbers = sorted({r.household_no for pair in pairs for r in pair if r is not None})
    out = []
    for number in numbers:
        heads = [after.head_name for _, after in pairs if after.household_no == number]
        out.append(
            {
                "household_no": number,
                "created": number in created,
                "head_name": heads[0] if heads else None,
                "joined": sorted(
                    a.atena_no for b, a in pairs if _member(a, number) and not _member(b, number)
                ),
                "left": sorted(a.atena_no for b, a in pairs if _member(b, number) and not _member(a, number)),
            }
        )
    return out


def changes_since(session: Session, tenant: Tenant, after: int, limit: int) -> list[Change]:
    """The town's 異動 after event number ``after``, oldest first, at most ``limit`` (gap-free, in order)."""
    events = list(
        session.scalars(
            select(Event)
            .where(Event.lg_code == tenant.lg_code, Event.event_no > after)
            .order_by(Event.event_no)
            .limit(limit)
        )
    )
    if not events:
        return []
    numbers = [e.event_no for e in events]
    links: dict[int, list[EventPerson]] = defaultdict(list)
    for link in session.scalars(
        select(EventPerson)
        .where(EventPerson.lg_code == tenant.lg_code, EventPerson.event_no.in_(numbers))
        .order_by(EventPerson.event_no, EventPerson.atena_no)
    ):
        links[link.event_no].append(link)
    wanted = {
        (link.atena_no, history)
        for group in links.values()
        for link in group
        for history in (link.history_no_before, link.history_no_after)
        if history is not None
    }
    records: dict[tuple[str, int], PersonRecord] = {}
    keys = sorted(wanted)
    for start in range(0, len(keys), 500):
        rows = session.scalars(
            select(PersonRecord).where(
                PersonRecord.lg_code == tenant.lg_code,
                tuple_(PersonRecord.atena_no, PersonRecord.history_no).in_(keys[start : start + 500]),
            )
        )
        records.update({(r.atena_no, r.history_no): r for r in rows})
    created: dict[int, set[str]] = defaultdict(set)
    for household in session.scalars(
        select(Household).where(Household.lg_code == tenant.lg_code, Household.created_event_no.in_(numbers))
    ):
        created[household.created_event_no].add(household.household_no)
    return [_change(event, links[event.event_no], records, created[event.event_no]) for event in events]


def _change(
    event: Event, links: list[EventPerson], records: dict[tuple[str, int], PersonRecord], created: set[str]
) -> Change:
    persons = [
        {
            **snapshot(records[(link.atena_no, link.history_no_after)]),
            "history_no_before": link.history_no_before,
            "history_no_after": link.history_no_after,
        }
        for link in links
    ]
    body = {
        "event_no": event.event_no,
        "event_type": event.event_type,
        "reason": event.reason,
        "category": event.category,
        "event_date": _json(event.event_date),
        "event_date_text": event.event_date_text,
        "notified_on": _json(event.notified_on),
        "processed_on": _json(event.processed_on),
        "cancels_event_no": event.cancels_event_no,
        "persons": persons,
        "households": _households(links, records, created),
    }
    return Change(position=event.event_no, kind=event.event_type, body=body)


def head(session: Session, tenant: Tenant) -> int:
    """The town's last event number (0 before the first)."""
    last = session.scalar(select(func.max(Event.event_no)).where(Event.lg_code == tenant.lg_code))
    return int(last or 0)


def _records_as_of(session: Session, tenant: Tenant, atena_nos: list[str], on: dt.date) -> list[PersonRecord]:
    """For each person, the newest snapshot in force on ``on`` (none for a person not yet registered)."""
    cancelled = select(Event.cancels_event_no).where(
        Event.lg_code == tenant.lg_code, Event.cancels_event_no.is_not(None)
    )
    newest = (
        select(PersonRecord.atena_no, func.max(PersonRecord.history_no).label("history_no"))
        .join(Event, and_(Event.lg_code == PersonRecord.lg_code, Event.event_no == PersonRecord.event_no))
        .where(
            PersonRecord.lg_code == tenant.lg_code,
            PersonRecord.atena_no.in_(atena_nos),
            Event.event_date <= on,
            not_(PersonRecord.event_no.in_(cancelled)),
        )
        .group_by(PersonRecord.atena_no)
        .subquery()
    )
    return list(
        session.scalars(
            select(PersonRecord).join(
                newest,
                and_(
                    PersonRecord.lg_code == tenant.lg_code,
                    PersonRecord.atena_no == newest.c.atena_no,
                    PersonRecord.history_no == newest.c.history_no,
                ),
            )
        )
    )


def person_as_of(session: Session, tenant: Tenant, atena_no: str, on: dt.date) -> dict[str, Any] | None:
    """The person's snapshot in force on ``on`` (without 個人番号), or None when the register did not yet
    hold them on that day; NotFound for a 宛名番号 the town never had."""
    get_person(session, tenant, atena_no)
    found = _records_as_of(session, tenant, [atena_no], on)
    return snapshot(found[0]) if found else None


def household_as_of(session: Session, tenant: Tenant, household_no: str, on: dt.date) -> dict[str, Any]:
    """The household's resident members on ``on``, in the 世帯連記式 order, with the 世帯主's name;
    NotFound for a 世帯番号 the town never had."""
    get_household(session, tenant, household_no)
    ever = list(
        session.scalars(
            select(PersonRecord.atena_no)
            .where(PersonRecord.lg_code == tenant.lg_code, PersonRecord.household_no == household_no)
            .distinct()
        )
    )
    in_force = _records_as_of(session, tenant, ever, on) if ever else []
    records = {r.atena_no: r for r in in_force if _member(r, household_no)}
    ordered = certificate_order(Member(r.atena_no, r.relationship, r.birth_date) for r in records.values())
    members = [snapshot(records[m.atena_no]) for m in ordered]
    return {
        "household_no": household_no,
        "on": on.isoformat(),
        "head_name": members[0]["head_name"] if members else None,
        "members": members,
    }


REGISTRY_FEED = FeedSpec(
    name=FEED,
    description=(
        "住民記録の異動 (異動番号順、欠番なし)。各異動で変更された住民の異動後の記録と世帯 (個人番号を除く)"
    ),
    read=changes_since,
    head=head,
)

__all__ = [
    "FEED",
    "PERSON_ITEMS",
    "REGISTRY_FEED",
    "changes_since",
    "head",
    "household_as_of",
    "person_as_of",
    "snapshot",
]
