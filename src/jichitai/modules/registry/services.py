"""Use cases of the register: recording a 異動 is one transaction, or nothing.

``record_event`` validates the body against the era table and the current state, writes the immutable event,
one new snapshot per changed person (the previous snapshot stays, only the ``is_current`` marker moves) and
the event→person rows, then commits. Any refusal raises before the commit, so nothing is written.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.modules.registry import queries, rules, schemas
from jichitai.modules.registry.models import (
    Event,
    EventPerson,
    Household,
    Person,
    PersonRecord,
    ResidentKind,
    ResidentStatus,
)
from jichitai.modules.registry.snapshots import (
    AddressValues,
    date_columns,
    first_snapshot,
    next_snapshot,
    restored_snapshot,
)
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import Conflict, InvalidInput, NotFound
from jichitai.platform.jp import (
    Era,
    JpValueError,
    RegisteredDate,
    check_juminhyo_code,
    issue_juminhyo_code,
    make_atena_number,
    parse_date,
    parse_registered_date,
    validate_my_number,
    validate_relationship,
)
from jichitai.platform.tenancy import Tenant, get_municipality, next_numbers

_rng = random.SystemRandom()


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

    @property
    def event_no(self) -> int:
        """The number of the event being recorded."""
        return self.event.event_no

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
        session = self.session
        if previous is not None:
            previous.is_current = False
            person = session.get(Person, (self.tenant.lg_code, record.atena_no))
            assert person is not None
            person.current_history_no = record.history_no
            session.flush()
        session.add(record)
        session.add(
            EventPerson(
                lg_code=self.tenant.lg_code,
                event_no=self.event_no,
                atena_no=record.atena_no,
                history_no_before=previous.history_no if previous else None,
                history_no_after=record.history_no,
            )
        )
        return record


# --- lookups that refuse -----------------------------------------------------------------------------------


def _resident(ctx: EventContext, atena_no: str, field_path: str) -> PersonRecord:
    """The current record of a current resident; 除票 persons are refused (j480 family of rules)."""
    try:
        record = queries.current_record(ctx.session, ctx.tenant, atena_no)
    except NotFound as exc:
        raise NotFound("住民", field_path) from exc
    if record.status is not ResidentStatus.RESIDENT:
        raise Conflict("not_a_resident", "除票の方には、この異動を記録できません。", field_path)
    return record


def _members(ctx: EventContext, household_no: str, field_path: str) -> list[PersonRecord]:
    """Current resident members of an existing household that still has members."""
    try:
        queries.get_household(ctx.session, ctx.tenant, household_no)
    except NotFound as exc:
        raise NotFound("世帯", field_path) from exc
    members = queries.household_members(ctx.session, ctx.tenant, household_no)
    if not members:
        raise Conflict("household_empty", "この世帯には現在、住民がいません。", field_path)
    return members


def _head(members: Sequence[PersonRecord]) -> PersonRecord:
    return next(m for m in members if m.relationship == rules.HEAD)


def _relationship(label: str, field_path: str) -> str:
    try:
        return validate_relationship(label)
    except JpValueError as exc:
        raise InvalidInput(exc.code, exc.message, field_path) from exc


def _as_members(records: Sequence[PersonRecord]) -> list[rules.Member]:
    return [rules.Member(r.atena_no, r.relationship, r.birth_date) for r in records]


def _new_household(ctx: EventContext) -> str:
    seq = next_numbers(ctx.session, ctx.tenant, "household")[0]
    household_no = make_atena_number(seq)
    ctx.session.add(
        Household(lg_code=ctx.tenant.lg_code, household_no=household_no, created_event_no=ctx.event_no)
    )
    ctx.session.flush()
    return household_no


def _address(address: schemas.Address) -> AddressValues:
    return AddressValues(address.area, address.number, address.building, address.postal_code)


# --- entering a person ------------------------------------------------------------------------------------


def _juminhyo_code(ctx: EventContext, given: str | None, field_path: str) -> str:
    if given is None:
        while True:
            code = issue_juminhyo_code(_rng)
            if not ctx.session.scalars(
                select(PersonRecord.atena_no).where(
                    PersonRecord.lg_code == ctx.tenant.lg_code, PersonRecord.juminhyo_code == code
                )
            ).first():
                return code
    try:
        warnings = check_juminhyo_code(given)
    except JpValueError as exc:
        raise InvalidInput(exc.code, f"住民票コード: {exc.message}", field_path) from exc
    # The official check-digit formula is unconfirmed (DESIGN §3.7): a mismatch is a warning only.
    ctx.warnings.extend({"code": w, "field": field_path} for w in warnings)
    return given


def _my_number(ctx: EventContext, value: str | None, field_path: str, atena_no: str | None) -> str | None:
    if value is None:
        return None
    try:
        number = validate_my_number(value)
    except JpValueError as exc:
        raise InvalidInput(exc.code, f"個人番号: {exc.message}", field_path) from exc
    holder = ctx.session.scalars(
        select(PersonRecord.atena_no).where(
            PersonRecord.lg_code == ctx.tenant.lg_code,
            PersonRecord.is_current.is_(True),
            PersonRecord.my_number == number,
        )
    ).first()
    if holder is not None and holder != atena_no:
        raise Conflict("my_number_in_use", "この個人番号は別の方に記載されています。", field_path)
    return number


def _person_values(ctx: EventContext, pin: schemas.PersonInput, path: str) -> dict[str, Any]:
    """Validate a person's own items and turn them into record columns."""
    birth = ctx.date(pin.birth_date, f"{path}.birth_date")
    rules.check_birth_before(ctx.event_date.value, birth.value, f"{path}.birth_date")
    values: dict[str, Any] = {
        "family_name": pin.family_name,
        "given_name": pin.given_name,
        "family_kana": pin.family_kana,
        "given_kana": pin.given_kana,
        "kana_confirmed": pin.kana_confirmed,
        "former_surname": pin.former_surname,
        "former_surname_kana": pin.former_surname_kana,
        "sex": pin.sex,
        **date_columns("birth_date", birth),
        "my_number": _my_number(ctx, pin.my_number, f"{path}.my_number", None),
        "juminhyo_code": _juminhyo_code(ctx, pin.juminhyo_code, f"{path}.juminhyo_code"),
    }
    foreign = pin.foreign
    if foreign is None:
        if not pin.family_name:
            raise InvalidInput("required", "氏を入力してください。", f"{path}.family_name")
        values.update(kind=ResidentKind.JAPANESE, honseki=pin.honseki, honseki_head=pin.honseki_head)
        return values
    if pin.honseki or pin.honseki_head:
        raise InvalidInput("honseki_not_for_foreign", "外国人住民に本籍は記載しません。", f"{path}.honseki")
    values.update(
        kind=ResidentKind.FOREIGN,
        name_roman=foreign.name_roman,
        nationality=foreign.nationality,
        foreign_category=foreign.category.value,
        residence_status=foreign.residence_status,
        period_of_stay=foreign.period_of_stay,
        stay_expires_on=ctx.plain_date(foreign.stay_expires_on, f"{path}.foreign.stay_expires_on"),
        residence_card_no=foreign.residence_card_no,
        alias_name=foreign.alias_name,
        alias_kana=foreign.alias_kana,
        foreign_resident_since=ctx.plain_date(
            foreign.foreign_resident_since, f"{path}.foreign.foreign_resident_since"
        )
        or ctx.event_date.value,
    )
    return values


def _enter(
    ctx: EventContext,
    values: dict[str, Any],
    *,
    household_no: str,
    relationship: str,
    head_name: str,
    address: AddressValues,
    previous_address: str | None,
) -> PersonRecord:
    """Create a person (宛名番号) and its first snapshot."""
    atena_no = make_atena_number(next_numbers(ctx.session, ctx.tenant, "atena")[0])
    ctx.session.add(
        Person(
            lg_code=ctx.tenant.lg_code, atena_no=atena_no, current_history_no=1, created_event_no=ctx.event_no
        )
    )
    ctx.session.flush()
    record = first_snapshot(
        lg_code=ctx.tenant.lg_code,
        atena_no=atena_no,
        event_no=ctx.event_no,
        values={
            **values,
            "status": ResidentStatus.RESIDENT,
            "household_no": household_no,
            "relationship": relationship,
            "head_name": head_name,
            **address.columns(),
            **date_columns("address_set_on", ctx.event_date),
            **date_columns("became_resident_on", ctx.event_date),
            "notified_on": ctx.event.notified_on,
            "previous_address": previous_address,
        },
    )
    return ctx.write(None, record)


def _enter_group(
    ctx: EventContext,
    persons: Sequence[schemas.PersonInput],
    *,
    household_no: str | None,
    address: AddressValues,
    previous_address: str | None,
    path: str,
) -> list[PersonRecord]:
    """Enter persons as a new household (exactly one 世帯主) or into an existing one (no new head)."""
    labels = {
        str(i): _relationship(p.relationship, f"{path}[{i}].relationship") for i, p in enumerate(persons)
    }
    values = [_person_values(ctx, p, f"{path}[{i}]") for i, p in enumerate(persons)]
    if household_no is None:
        head_index = int(rules.check_household_relationships(labels, f"{path}.relationship"))
        household_no = _new_household(ctx)
        head = values[head_index]
        head_name = _display_name(head)
    else:
        members = _members(ctx, household_no, "household_no")
        if any(label == rules.HEAD for label in labels.values()):
            raise InvalidInput(
                "household_has_head", "既存の世帯には世帯主がいます。続柄を確認してください。", path
            )
        if not address.same_place(_head(members)):
            raise InvalidInput("address_mismatch", "世帯の住所と異なります。", "address")
        head_name = _head(members).full_name()
    return [
        _enter(
            ctx,
            v,
            household_no=household_no,
            relationship=labels[str(i)],
            head_name=head_name,
            address=address,
            previous_address=previous_address,
        )
        for i, v in enumerate(values)
    ]


def _display_name(values: dict[str, Any]) -> str:
    if values.get("family_name") or values.get("given_name"):
        return f"{values.get('family_name', '')}　{values.get('given_name', '')}".strip("　")
    return str(values.get("name_roman") or "")


# --- household changes ------------------------------------------------------------------------------------


def _leave(
    ctx: EventContext,
    leaving: Sequence[PersonRecord],
    members: Sequence[PersonRecord],
    **changes: Any,
) -> None:
    """Members leave a household (death, 転出, 消除): apply the head rule (j490) and write snapshots."""
    decision = rules.after_departure(_as_members(members), [r.atena_no for r in leaving])
    for record in leaving:
        ctx.write(record, next_snapshot(record, ctx.event_no, **changes))
    _promote(ctx, members, decision)


def _promote(ctx: EventContext, members: Sequence[PersonRecord], decision: rules.HeadDecision) -> None:
    """The one member left behind by the head becomes 世帯主 ex officio, in the same event (j490)."""
    if decision.new_head is not None:
        heir = next(m for m in members if m.atena_no == decision.new_head)
        ctx.write(
            heir, next_snapshot(heir, ctx.event_no, relationship=rules.HEAD, head_name=heir.full_name())
        )


def _assign(changes: Sequence[schemas.RelationshipChange], path: str = "members") -> dict[str, str]:
    labels: dict[str, str] = {}
    for i, change in enumerate(changes):
        if change.atena_no in labels:
            raise InvalidInput(
                "duplicate_person", "同じ方が複数回指定されています。", f"{path}[{i}].atena_no"
            )
        labels[change.atena_no] = _relationship(change.relationship, f"{path}[{i}].relationship")
    return labels


def _subset(
    members: Sequence[PersonRecord], labels: dict[str, str], path: str = "members"
) -> list[PersonRecord]:
    by_no = {m.atena_no: m for m in members}
    for i, atena_no in enumerate(labels):
        if atena_no not in by_no:
            raise InvalidInput(
                "not_a_member", "指定の方はこの世帯の世帯員ではありません。", f"{path}[{i}].atena_no"
            )
    return [by_no[a] for a in labels]


def _join(
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


# --- handlers, one per event type -------------------------------------------------------------------------


def _move_in(ctx: EventContext, body: schemas.MoveIn) -> None:
    _enter_group(
        ctx,
        body.persons,
        household_no=body.household_no,
        address=_address(body.address),
        previous_address=body.previous_address,
        path="persons",
    )


def _ex_officio_entry(ctx: EventContext, body: schemas.ExOfficioEntry) -> None:
    _enter_group(
        ctx,
        [body.person],
        household_no=body.household_no,
        address=_address(body.address),
        previous_address=None,
        path="person",
    )


def _birth(ctx: EventContext, body: schemas.Birth) -> None:
    members = _members(ctx, body.household_no, "household_no")
    head = _head(members)
    label = _relationship(body.child.relationship, "child.relationship")
    if label == rules.HEAD:
        raise InvalidInput(
            "household_has_head", "既存の世帯には世帯主がいます。続柄を確認してください。", "child"
        )
    values = _person_values(ctx, body.child, "child")
    if values["birth_date"] != ctx.event_date.value:
        raise InvalidInput("birth_date_mismatch", "出生の異動日は生年月日と同じ日です。", "child.birth_date")
    address = AddressValues(head.address_area, head.address_number, head.address_building, head.postal_code)
    _enter(
        ctx,
        values,
        household_no=body.household_no,
        relationship=label,
        head_name=head.full_name(),
        address=address,
        previous_address=None,
    )


def _relocation(ctx: EventContext, body: schemas.Relocation) -> None:
    members = _members(ctx, body.household_no, "household_no")
    address = _address(body.address)
    if all(address.same_place(m) for m in members):
        raise InvalidInput("same_address", "転居先が現在の住所と同じです。", "address")
    for record in members:
        ctx.write(
            record,
            next_snapshot(
                record,
                ctx.event_no,
                **address.columns(),
                **date_columns("address_set_on", ctx.event_date),
                prior_address=record.full_address(ctx.town),
                notified_on=ctx.event.notified_on,
            ),
        )


def _move_out(ctx: EventContext, body: schemas.MoveOut) -> None:
    if len(set(body.atena_nos)) != len(body.atena_nos):
        raise InvalidInput("duplicate_person", "同じ方が複数回指定されています。", "atena_nos")
    leaving = [_resident(ctx, a, f"atena_nos[{i}]") for i, a in enumerate(body.atena_nos)]
    if len({r.household_no for r in leaving}) != 1:
        raise InvalidInput("multiple_households", "一度に転出できるのは同じ世帯の方だけです。", "atena_nos")
    members = _members(ctx, leaving[0].household_no, "atena_nos")
    _leave(
        ctx,
        leaving,
        members,
        status=ResidentStatus.MOVED_OUT,
        removal_reason=ctx.event.reason,
        removed_on=ctx.event_date.value,
        move_out_destination=body.destination,
        notified_on=ctx.event.notified_on,
    )


def _remove_one(ctx: EventContext, atena_no: str, status: ResidentStatus) -> None:
    """死亡 or 職権消除 of one resident: the record becomes a 除票 with the event's 事由 and date."""
    record = _resident(ctx, atena_no, "atena_no")
    members = _members(ctx, record.household_no, "atena_no")
    _leave(
        ctx,
        [record],
        members,
        status=status,
        removal_reason=ctx.event.reason,
        removed_on=ctx.event_date.value,
    )


def _death(ctx: EventContext, body: schemas.Death) -> None:
    _remove_one(ctx, body.atena_no, ResidentStatus.DECEASED)


def _ex_officio_removal(ctx: EventContext, body: schemas.ExOfficioRemoval) -> None:
    _remove_one(ctx, body.atena_no, ResidentStatus.REMOVED)


def _household_split(ctx: EventContext, body: schemas.HouseholdSplit) -> None:
    members = _members(ctx, body.household_no, "household_no")
    labels = _assign(body.members)
    moving = _subset(members, labels)
    if len(moving) == len(members):
        raise InvalidInput("split_all_members", "世帯員全員を分離することはできません。", "members")
    new_head = rules.check_household_relationships(labels)
    decision = rules.after_departure(_as_members(members), labels)  # refuses when the head leaves ≥2 behind
    household_no = _new_household(ctx)
    head_name = next(m for m in moving if m.atena_no == new_head).full_name()
    _join(ctx, moving, labels, household_no, head_name)
    _promote(ctx, members, decision)


def _same_place(a: PersonRecord, b: PersonRecord) -> bool:
    return (a.address_area, a.address_number, a.address_building) == (
        b.address_area,
        b.address_number,
        b.address_building,
    )


def _household_merge(ctx: EventContext, body: schemas.HouseholdMerge) -> None:
    if body.household_no == body.merged_household_no:
        raise InvalidInput("same_household", "同じ世帯は合併できません。", "merged_household_no")
    target = _members(ctx, body.household_no, "household_no")
    merged = _members(ctx, body.merged_household_no, "merged_household_no")
    labels = _assign(body.members)
    if set(labels) != {m.atena_no for m in merged}:
        raise InvalidInput(
            "members_incomplete", "合併される世帯の世帯員全員の続柄を指定してください。", "members"
        )
    _check_joining(labels, target, merged)
    _join(ctx, merged, labels, body.household_no, _head(target).full_name())


def _check_joining(
    labels: dict[str, str], target: Sequence[PersonRecord], moving: Sequence[PersonRecord]
) -> None:
    if any(label == rules.HEAD for label in labels.values()):
        raise InvalidInput(
            "household_has_head", "移る先の世帯には世帯主がいます。続柄を確認してください。", "members"
        )
    if not _same_place(_head(target), moving[0]):
        # 世帯変更 never changes an address in the same event (j720): that is a 転居.
        raise InvalidInput(
            "address_mismatch",
            "住所の異なる世帯との世帯変更はできません。先に転居を届け出てください。",
            "members",
        )


def _household_change(ctx: EventContext, body: schemas.HouseholdTransfer) -> None:
    if body.from_household_no == body.to_household_no:
        raise InvalidInput("same_household", "移動元と移動先が同じ世帯です。", "to_household_no")
    source = _members(ctx, body.from_household_no, "from_household_no")
    target = _members(ctx, body.to_household_no, "to_household_no")
    labels = _assign(body.members)
    moving = _subset(source, labels)
    _check_joining(labels, target, moving)
    decision = rules.after_departure(_as_members(source), labels)
    _join(ctx, moving, labels, body.to_household_no, _head(target).full_name())
    _promote(ctx, source, decision)


def _head_change(ctx: EventContext, body: schemas.HeadChange) -> None:
    members = _members(ctx, body.household_no, "household_no")
    labels = _assign(body.members)
    if set(labels) != {m.atena_no for m in members}:
        raise InvalidInput("members_incomplete", "世帯員全員の新しい続柄を指定してください。", "members")
    new_head = rules.check_household_relationships(labels)
    if new_head == _head(members).atena_no:
        raise InvalidInput("same_head", "世帯主が変わっていません。", "members")
    head_name = next(m for m in members if m.atena_no == new_head).full_name()
    _join(ctx, members, labels, body.household_no, head_name)


_CORRECTABLE_DATES = {"birth_date"}


def _ex_officio_correction(ctx: EventContext, body: schemas.ExOfficioCorrection) -> None:
    try:
        record = queries.current_record(ctx.session, ctx.tenant, body.atena_no)
    except NotFound as exc:
        raise NotFound("住民", "atena_no") from exc
    changes: dict[str, Any] = {}
    for name, value in body.corrections.model_dump(exclude_unset=True).items():
        path = f"corrections.{name}"
        if name in _CORRECTABLE_DATES:
            assert body.corrections.birth_date is not None
            changes.update(date_columns(name, ctx.date(body.corrections.birth_date, path)))
        elif name == "my_number":
            changes[name] = _my_number(ctx, value, path, record.atena_no)
        else:
            changes[name] = value
    if record.kind is ResidentKind.FOREIGN and (changes.get("honseki") or changes.get("honseki_head")):
        raise InvalidInput(
            "honseki_not_for_foreign", "外国人住民に本籍は記載しません。", "corrections.honseki"
        )
    changes = {k: v for k, v in changes.items() if getattr(record, k) != v}
    if not changes:
        raise InvalidInput("no_changes", "修正する項目がありません。", "corrections")
    updated = ctx.write(record, next_snapshot(record, ctx.event_no, **changes))
    if record.relationship == rules.HEAD and record.status is ResidentStatus.RESIDENT:
        updated.head_name = updated.full_name()
        # 世帯主氏名 is copied on every member's record (j200): a renamed head gives each member a new row.
        for member in queries.household_members(ctx.session, ctx.tenant, record.household_no):
            if member.atena_no != record.atena_no and member.head_name != updated.head_name:
                ctx.write(member, next_snapshot(member, ctx.event_no, head_name=updated.head_name))


def _cancellation(ctx: EventContext, body: schemas.Cancellation) -> None:
    try:
        if body.cancels_event_no >= ctx.event_no:  # only events recorded before this one exist for it
            raise NotFound("取り消す異動")
        target = queries.get_event(ctx.session, ctx.tenant, body.cancels_event_no)
    except NotFound as exc:
        raise NotFound("取り消す異動", "cancels_event_no") from exc
    if target.event_type == "cancellation":
        raise Conflict("cannot_cancel_cancellation", "取消しの異動は取り消せません。", "cancels_event_no")
    if queries.cancelling_event(ctx.session, ctx.tenant, target.event_no) is not None:
        raise Conflict("already_cancelled", "この異動は既に取り消されています。", "cancels_event_no")
    ctx.event.cancels_event_no = target.event_no
    ctx.event.reason, ctx.event.category = rules.cancellation_reason(target.category)
    for row in queries.event_persons(ctx.session, ctx.tenant, target.event_no):
        current = queries.current_record(ctx.session, ctx.tenant, row.atena_no)
        if current.history_no != row.history_no_after:
            raise Conflict(
                "later_events_exist",
                "この異動の後に同じ方の異動があるため取り消せません。後の異動から取り消してください。",
                "cancels_event_no",
            )
        if row.history_no_before is None:
            ctx.write(
                current,
                next_snapshot(
                    current,
                    ctx.event_no,
                    status=ResidentStatus.REMOVED,
                    removal_reason=ctx.event.reason,
                    removed_on=ctx.event_date.value,
                ),
            )
            continue
        before = ctx.session.get(PersonRecord, (ctx.tenant.lg_code, row.atena_no, row.history_no_before))
        assert before is not None
        ctx.write(current, restored_snapshot(current, before, ctx.event_no))


Handler = Callable[[EventContext, Any], None]

HANDLERS: dict[str, Handler] = {
    "domestic_move_in": _move_in,
    "overseas_move_in": _move_in,
    "relocation": _relocation,
    "move_out": _move_out,
    "birth": _birth,
    "death": _death,
    "household_split": _household_split,
    "household_merge": _household_merge,
    "household_change": _household_change,
    "head_change": _head_change,
    "ex_officio_entry": _ex_officio_entry,
    "ex_officio_removal": _ex_officio_removal,
    "ex_officio_correction": _ex_officio_correction,
    "cancellation": _cancellation,
}


def record_event(
    uow: UnitOfWork,
    tenant: Tenant,
    body: schemas.EventBody,
    *,
    actor: str,
    request_id: str | None = None,
) -> Event:
    """Record one 異動 with every snapshot it changes, in one transaction; refuse with nothing written."""
    session = uow.session
    municipality = get_municipality(session, tenant.lg_code)
    eras = load_eras(session)
    today = today_jst()
    kind = rules.EVENT_KINDS[body.type]
    probe = EventContext(session, tenant, eras, today, "", Event(), RegisteredDate(today, None, False))
    event_date = probe.date(body.event_date, "event_date")
    notified_on = probe.plain_date(body.notified_on, "notified_on")
    if notified_on is None and kind.notification:
        notified_on = today
    rules.check_event_dates(body.type, event_date.value, notified_on, today)
    event = Event(
        lg_code=tenant.lg_code,
        event_no=next_numbers(session, tenant, "event")[0],
        event_type=body.type,
        reason=kind.reason,
        category=kind.category,
        event_date=event_date.value,
        event_date_text=event_date.text,
        notified_on=notified_on,
        processed_on=today,
        details=body.model_dump(mode="json", exclude_none=True),
        actor=actor,
        request_id=request_id,
    )
    if body.type == "move_out" and isinstance(body, schemas.MoveOut) and body.abroad:
        event.reason = "国外転出"
    session.add(event)
    session.flush()
    ctx = EventContext(
        session, tenant, eras, today, f"{municipality.prefecture}{municipality.name}", event, event_date
    )
    HANDLERS[body.type](ctx, body)
    if ctx.warnings:
        event.details = {**event.details, "warnings": ctx.warnings}
    session.flush()
    uow.commit()
    return event
