"""Events that move people between addresses and households, or out of the register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jichitai.modules.registry.records import rules, schemas
from jichitai.modules.registry.records.models import PersonRecord, ResidentStatus
from jichitai.modules.registry.records.services.context import (
    EventContext,
    address_values,
    as_rule_members,
    head_of,
    join_household,
    leave_household,
    load_members,
    load_resident,
    open_household,
    parse_assignments,
    promote_heir,
    select_members,
)
from jichitai.modules.registry.records.snapshots import date_columns, next_snapshot
from jichitai.platform.errors import InvalidInput


def on_relocation(ctx: EventContext, body: schemas.Relocation) -> None:
    members = load_members(ctx, body.household_no, "household_no")
    address = address_values(body.address)
    if all(address.same_place(m) for m in members):
        raise InvalidInput("same_address", "転居先が現在の住所と同じです。", "address")
    moves: dict[str, Any] = {
        **address.columns(),
        **date_columns("address_set_on", ctx.event_date),
        "notified_on": ctx.event.notified_on,
    }
    if body.members is None:
        if body.to_household_no is not None:
            raise InvalidInput("members_required", "既存の世帯に入る方と続柄を指定してください。", "members")
        for record in members:
            ctx.write(
                record,
                next_snapshot(record, ctx.event_no, **moves, prior_address=record.full_address(ctx.town)),
            )
        return
    labels = parse_assignments(body.members)
    moving = select_members(members, labels)
    whole = len(moving) == len(members)
    # The head may not leave two or more members behind without a head (j490): refuse before anything else.
    decision = None if whole else rules.after_departure(as_rule_members(members), labels)
    household_no, head_name = _destination(ctx, body, labels, moving, whole=whole)
    for record in moving:
        ctx.write(
            record,
            next_snapshot(
                record,
                ctx.event_no,
                **moves,
                prior_address=record.full_address(ctx.town),
                household_no=household_no,
                relationship=labels[record.atena_no],
                head_name=head_name,
            ),
        )
    if decision is not None:
        promote_heir(ctx, members, decision)


def _destination(
    ctx: EventContext,
    body: schemas.Relocation,
    labels: dict[str, str],
    moving: Sequence[PersonRecord],
    *,
    whole: bool,
) -> tuple[str, str]:
    """The household the movers live in at the new address: a new one, or one already there."""
    if body.to_household_no is None:
        new_head = rules.check_household_relationships(labels)
        head_name = next(m for m in moving if m.atena_no == new_head).full_name()
        if whole:
            return body.household_no, head_name  # the whole household moves, 続柄 restated
        return open_household(ctx), head_name
    if body.to_household_no == body.household_no:
        raise InvalidInput("same_household", "移動元と移動先が同じ世帯です。", "to_household_no")
    target = load_members(ctx, body.to_household_no, "to_household_no")
    if not address_values(body.address).same_place(head_of(target)):
        raise InvalidInput("address_mismatch", "転居先の住所が、入る世帯の住所と異なります。", "address")
    if any(label == rules.HEAD for label in labels.values()):
        raise InvalidInput(
            "household_has_head", "移る先の世帯には世帯主がいます。続柄を確認してください。", "members"
        )
    return body.to_household_no, head_of(target).full_name()


def on_move_out(ctx: EventContext, body: schemas.MoveOut) -> None:
    if len(set(body.atena_nos)) != len(body.atena_nos):
        raise InvalidInput("duplicate_person", "同じ方が複数回指定されています。", "atena_nos")
    leaving = [load_resident(ctx, a, f"atena_nos[{i}]") for i, a in enumerate(body.atena_nos)]
    if len({r.household_no for r in leaving}) != 1:
        raise InvalidInput("multiple_households", "一度に転出できるのは同じ世帯の方だけです。", "atena_nos")
    members = load_members(ctx, leaving[0].household_no, "atena_nos")
    leave_household(
        ctx,
        leaving,
        members,
        status=ResidentStatus.MOVED_OUT,
        removal_reason=ctx.event.reason,
        removed_on=ctx.event_date.value,
        move_out_destination=body.destination,
        notified_on=ctx.event.notified_on,
    )


def remove_one(ctx: EventContext, atena_no: str, status: ResidentStatus) -> None:
    """死亡 or 職権消除 of one resident: the record becomes a 除票 with the event's 事由 and date."""
    record = load_resident(ctx, atena_no, "atena_no")
    members = load_members(ctx, record.household_no, "atena_no")
    leave_household(
        ctx,
        [record],
        members,
        status=status,
        removal_reason=ctx.event.reason,
        removed_on=ctx.event_date.value,
    )


def on_death(ctx: EventContext, body: schemas.Death) -> None:
    remove_one(ctx, body.atena_no, ResidentStatus.DECEASED)


def on_ex_officio_removal(ctx: EventContext, body: schemas.ExOfficioRemoval) -> None:
    remove_one(ctx, body.atena_no, ResidentStatus.REMOVED)


def on_household_split(ctx: EventContext, body: schemas.HouseholdSplit) -> None:
    members = load_members(ctx, body.household_no, "household_no")
    labels = parse_assignments(body.members)
    moving = select_members(members, labels)
    if len(moving) == len(members):
        raise InvalidInput("split_all_members", "世帯員全員を分離することはできません。", "members")
    new_head = rules.check_household_relationships(labels)
    decision = rules.after_departure(
        as_rule_members(members), labels
    )  # refuses when the head leaves ≥2 behind
    household_no = open_household(ctx)
    head_name = next(m for m in moving if m.atena_no == new_head).full_name()
    join_household(ctx, moving, labels, household_no, head_name)
    promote_heir(ctx, members, decision)


def same_place(a: PersonRecord, b: PersonRecord) -> bool:
    return (a.address_area, a.address_number, a.address_building) == (
        b.address_area,
        b.address_number,
        b.address_building,
    )


def on_household_merge(ctx: EventContext, body: schemas.HouseholdMerge) -> None:
    if body.household_no == body.merged_household_no:
        raise InvalidInput("same_household", "同じ世帯は合併できません。", "merged_household_no")
    target = load_members(ctx, body.household_no, "household_no")
    merged = load_members(ctx, body.merged_household_no, "merged_household_no")
    labels = parse_assignments(body.members)
    if set(labels) != {m.atena_no for m in merged}:
        raise InvalidInput(
            "members_incomplete", "合併される世帯の世帯員全員の続柄を指定してください。", "members"
        )
    check_joining(labels, target, merged)
    join_household(ctx, merged, labels, body.household_no, head_of(target).full_name())


def check_joining(
    labels: dict[str, str], target: Sequence[PersonRecord], moving: Sequence[PersonRecord]
) -> None:
    if any(label == rules.HEAD for label in labels.values()):
        raise InvalidInput(
            "household_has_head", "移る先の世帯には世帯主がいます。続柄を確認してください。", "members"
        )
    if not same_place(head_of(target), moving[0]):
        # 世帯変更 never changes an address in the same event (j720): that is a 転居.
        raise InvalidInput(
            "address_mismatch",
            "住所の異なる世帯との世帯変更はできません。先に転居を届け出てください。",
            "members",
        )


def on_household_change(ctx: EventContext, body: schemas.HouseholdTransfer) -> None:
    if body.from_household_no == body.to_household_no:
        raise InvalidInput("same_household", "移動元と移動先が同じ世帯です。", "to_household_no")
    source = load_members(ctx, body.from_household_no, "from_household_no")
    target = load_members(ctx, body.to_household_no, "to_household_no")
    labels = parse_assignments(body.members)
    moving = select_members(source, labels)
    check_joining(labels, target, moving)
    decision = rules.after_departure(as_rule_members(source), labels)
    join_household(ctx, moving, labels, body.to_household_no, head_of(target).full_name())
    promote_heir(ctx, source, decision)


def on_head_change(ctx: EventContext, body: schemas.HeadChange) -> None:
    members = load_members(ctx, body.household_no, "household_no")
    labels = parse_assignments(body.members)
    if set(labels) != {m.atena_no for m in members}:
        raise InvalidInput("members_incomplete", "世帯員全員の新しい続柄を指定してください。", "members")
    new_head = rules.check_household_relationships(labels)
    if new_head == head_of(members).atena_no:
        raise InvalidInput("same_head", "世帯主が変わっていません。", "members")
    head_name = next(m for m in members if m.atena_no == new_head).full_name()
    join_household(ctx, members, labels, body.household_no, head_name)
