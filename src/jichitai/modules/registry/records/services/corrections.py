"""職権修正 and 異動の取消し: changes to what the register already says, always as new rows."""

from __future__ import annotations

from typing import Any

from jichitai.modules.registry.records import queries, rules, schemas
from jichitai.modules.registry.records.models import PersonRecord, ResidentKind, ResidentStatus
from jichitai.modules.registry.records.services.context import EventContext, entitlement_columns
from jichitai.modules.registry.records.services.entry import my_number_for
from jichitai.modules.registry.records.snapshots import date_columns, next_snapshot, restored_snapshot
from jichitai.platform.errors import Conflict, InvalidInput, NotFound

_CORRECTABLE_DATES = {"birth_date"}


def on_ex_officio_correction(ctx: EventContext, body: schemas.ExOfficioCorrection) -> None:
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
            changes[name] = my_number_for(ctx, value, path, record.atena_no)
        elif name == "entitlements":
            assert body.corrections.entitlements is not None
            changes.update(entitlement_columns(ctx, body.corrections.entitlements, path))
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


def on_cancellation(ctx: EventContext, body: schemas.Cancellation) -> None:
    try:
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
