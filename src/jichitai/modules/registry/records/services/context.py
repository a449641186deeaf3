"""The state of one event being recorded, and the lookups and household moves every handler shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from jichitai.modules.registry.records import queries, rules, schemas
from jichitai.modules.registry.records.models import (
    Event,
    EventPerson,
    Household,
    Person,
    PersonRecord,
    ResidentStatus,
)
from jichitai.modules.registry.records.snapshots import AddressValues, next_snapshot
from jichitai.platform.errors import Conflict, InvalidInput, NotFound
from jichitai.platform.jp import (
    Era,
    JpValueError,
    RegisteredDate,
    make_atena_number,
    parse_date,
    parse_registered_date,
    validate_relationship,
)
from jichitai.platform.tenancy import Tenant, next_numbers

PENDING = 0
"""Placeholder event number on rows built before :meth:`EventContext.finish` assigns the real one."""


@dataclass
class EventContext:
    """Everything one event needs while it is being recorded."""

    session: Session
    tenant: Tenant
    eras: tuple[Era, ...]
    today: dt.date
    town: str
    event: Event
    event_date: RegisteredDate
    warnings: list[dict[str, str]] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)
    """宛名番号 → new current 履歴番号, applied to ``registry_person`` in one statement by :meth:`finish`."""
    created: list[Household | Person] = field(default_factory=list)
    records: list[PersonRecord] = field(default_factory=list)
    links: list[EventPerson] = field(default_factory=list)

    @property
    def event_no(self) -> int:
        """The event's number, or :data:`PENDING` while handlers run (numbers are taken in :meth:`finish`)."""
        return self.event.event_no if self.event.event_no is not None else PENDING

    def date(self, value: schemas.DateInput, field_path: str) -> RegisteredDate:
        """Parse a date input (ISO, 和暦 or irregular) against the era table."""
        try:
            if isinstance(value, schemas.IrregularDate):
                sort = parse_date(value.sort_date, self.eras) if value.sort_date else None
                return parse_registered_date(value.text, self.eras, sort_date=sort)
            return parse_registered_date(value, self.eras)
        except JpValueError as exc:
            raise InvalidInput(exc.code, exc.message, field_path) from exc

    def plain_date(self, value: str | None, field_path: str) -> dt.date | None:
        """Parse a date that must be a plain calendar date."""
        if value is None:
            return None
        try:
            return parse_date(value, self.eras)
        except JpValueError as exc:
            raise InvalidInput(exc.code, exc.message, field_path) from exc

    def write(self, previous: PersonRecord | None, record: PersonRecord) -> PersonRecord:
        """Add a new snapshot, move the current marker, and link it to the event."""
        if previous is not None:
            if record.atena_no in self.moved:
                raise RuntimeError(f"{record.atena_no} written twice in one event")
            previous.is_current = False
            self.moved[record.atena_no] = record.history_no
        self.records.append(record)
        self.links.append(
            EventPerson(
                lg_code=self.tenant.lg_code,
                event_no=self.event_no,
                atena_no=record.atena_no,
                history_no_before=previous.history_no if previous else None,
                history_no_after=record.history_no,
            )
        )
        return record

    def create(self, row: Household | Person) -> None:
        """Queue a new household or person; inserted by :meth:`finish` before the snapshots naming it."""
        self.created.append(row)

    def finish(self) -> None:
        """Take the event number, then insert everything the handler decided, in foreign-key order.

        The per-town event counter is locked from here to the commit, so every read and check happens
        before it: concurrent events of one town serialise only on these few statements. Pointers of the
        changed persons move in one UPDATE rather than a load-and-save each.
        """
        session = self.session
        event_no = next_numbers(session, self.tenant, "event")[0]
        self.event.event_no = event_no
        session.add(self.event)
        session.flush()
        for row in self.created:
            row.created_event_no = event_no
        for record in self.records:
            record.event_no = event_no
        for link in self.links:
            link.event_no = event_no
        if self.created:
            session.add_all(self.created)
            session.flush()
        session.add_all([*self.records, *self.links])
        if self.moved:
            pointer = case(self.moved, value=Person.atena_no)
            self.session.execute(
                update(Person)
                .where(Person.lg_code == self.tenant.lg_code, Person.atena_no.in_(list(self.moved)))
                .values(current_history_no=pointer)
                .execution_options(synchronize_session=False)
            )
        self.session.flush()


def entitlement_columns(ctx: EventContext, items: schemas.Entitlements, path: str) -> dict[str, Any]:
    """The 法7条 entitlement items that were given, as record columns (dates parsed against the eras)."""
    columns: dict[str, Any] = {}
    for name, value in items.model_dump(exclude_unset=True).items():
        columns[name] = ctx.plain_date(value, f"{path}.{name}") if name.endswith("_on") else value
    return columns


# --- lookups that refuse -----------------------------------------------------------------------------------


def load_resident(ctx: EventContext, atena_no: str, field_path: str) -> PersonRecord:
    """The current record of a current resident; 除票 persons are refused (j480 family of rules)."""
    try:
        record = queries.current_record(ctx.session, ctx.tenant, atena_no)
    except NotFound as exc:
        raise NotFound("住民", field_path) from exc
    if record.status is not ResidentStatus.RESIDENT:
        raise Conflict("not_a_resident", "除票の方には、この異動を記録できません。", field_path)
    return record


def load_members(ctx: EventContext, household_no: str, field_path: str) -> list[PersonRecord]:
    """Current resident members of an existing household that still has members."""
    try:
        queries.get_household(ctx.session, ctx.tenant, household_no)
    except NotFound as exc:
        raise NotFound("世帯", field_path) from exc
    members = queries.household_members(ctx.session, ctx.tenant, household_no)
    if not members:
        raise Conflict("household_empty", "この世帯には現在、住民がいません。", field_path)
    return members


def head_of(members: Sequence[PersonRecord]) -> PersonRecord:
    return next(m for m in members if m.relationship == rules.HEAD)


def parse_relationship(label: str, field_path: str) -> str:
    try:
        return validate_relationship(label)
    except JpValueError as exc:
        raise InvalidInput(exc.code, exc.message, field_path) from exc


def as_rule_members(records: Sequence[PersonRecord]) -> list[rules.Member]:
    return [rules.Member(r.atena_no, r.relationship, r.birth_date) for r in records]


def open_household(ctx: EventContext) -> str:
    seq = next_numbers(ctx.session, ctx.tenant, "household")[0]
    household_no = make_atena_number(seq)
    ctx.create(Household(lg_code=ctx.tenant.lg_code, household_no=household_no, created_event_no=PENDING))
    return household_no


def address_values(address: schemas.Address) -> AddressValues:
    return AddressValues(address.area, address.number, address.building, address.postal_code)


# --- household changes ------------------------------------------------------------------------------------


def leave_household(
    ctx: EventContext,
    leaving: Sequence[PersonRecord],
    members: Sequence[PersonRecord],
    **changes: Any,
) -> None:
    """Members leave a household (death, 転出, 消除): apply the head rule (j490) and write snapshots."""
    decision = rules.after_departure(as_rule_members(members), [r.atena_no for r in leaving])
    for record in leaving:
        ctx.write(record, next_snapshot(record, ctx.event_no, **changes))
    promote_heir(ctx, members, decision)


def promote_heir(ctx: EventContext, members: Sequence[PersonRecord], decision: rules.HeadDecision) -> None:
    """The one member left behind by the head becomes 世帯主 ex officio, in the same event (j490)."""
    if decision.new_head is not None:
        heir = next(m for m in members if m.atena_no == decision.new_head)
        ctx.write(
            heir, next_snapshot(heir, ctx.event_no, relationship=rules.HEAD, head_name=heir.full_name())
        )


def parse_assignments(changes: Sequence[schemas.RelationshipChange], path: str = "members") -> dict[str, str]:
    labels: dict[str, str] = {}
    for i, change in enumerate(changes):
        if change.atena_no in labels:
            raise InvalidInput(
                "duplicate_person", "同じ方が複数回指定されています。", f"{path}[{i}].atena_no"
            )
        labels[change.atena_no] = parse_relationship(change.relationship, f"{path}[{i}].relationship")
    return labels


def select_members(
    members: Sequence[PersonRecord], labels: dict[str, str], path: str = "members"
) -> list[PersonRecord]:
    by_no = {m.atena_no: m for m in members}
    for i, atena_no in enumerate(labels):
        if atena_no not in by_no:
            raise InvalidInput(
                "not_a_member", "指定の方はこの世帯の世帯員ではありません。", f"{path}[{i}].atena_no"
            )
    return [by_no[a] for a in labels]


def join_household(
    ctx: EventContext,
    moving: Sequence[PersonRecord],
    labels: dict[str, str],
    household_no: str,
    head_name: str,
) -> None:
    for record in moving:
        ctx.write(
            record,
            next_snapshot(
                record,
                ctx.event_no,
                household_no=household_no,
                relationship=labels[record.atena_no],
                head_name=head_name,
                notified_on=ctx.event.notified_on,
            ),
        )
