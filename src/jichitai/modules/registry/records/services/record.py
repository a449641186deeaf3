"""The one entry point that records a 異動: dispatch by type, one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import rules, schemas
from jichitai.modules.registry.records.models import Event, EventPerson
from jichitai.modules.registry.records.services.context import EventContext
from jichitai.modules.registry.records.services.corrections import on_cancellation, on_ex_officio_correction
from jichitai.modules.registry.records.services.entry import on_birth, on_ex_officio_entry, on_move_in
from jichitai.modules.registry.records.services.households import (
    on_death,
    on_ex_officio_removal,
    on_head_change,
    on_household_change,
    on_household_merge,
    on_household_split,
    on_move_out,
    on_relocation,
)
from jichitai.platform.audit import Actor, append_entries, as_actor
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork
from jichitai.platform.jp import (
    RegisteredDate,
)
from jichitai.platform.tenancy import Tenant, get_municipality

Handler = Callable[[EventContext, Any], None]

HANDLERS: dict[str, Handler] = {
    "domestic_move_in": on_move_in,
    "overseas_move_in": on_move_in,
    "relocation": on_relocation,
    "move_out": on_move_out,
    "birth": on_birth,
    "death": on_death,
    "household_split": on_household_split,
    "household_merge": on_household_merge,
    "household_change": on_household_change,
    "head_change": on_head_change,
    "ex_officio_entry": on_ex_officio_entry,
    "ex_officio_removal": on_ex_officio_removal,
    "ex_officio_correction": on_ex_officio_correction,
    "cancellation": on_cancellation,
}


@dataclass(frozen=True)
class Recorded:
    """A committed event and the person rows it wrote, as the caller needs them for its answer."""

    event: Event
    persons: list[EventPerson]


def record_event(
    uow: UnitOfWork,
    tenant: Tenant,
    body: schemas.EventBody,
    *,
    actor: str | Actor,
    request_id: str | None = None,
) -> Recorded:
    """Record one 異動 with every snapshot it changes, in one transaction; refuse with nothing written."""
    who = as_actor(actor, request_id)
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
        event_type=body.type,
        reason=kind.reason,
        category=kind.category,
        event_date=event_date.value,
        event_date_text=event_date.text,
        notified_on=notified_on,
        processed_on=today,
        details=body.model_dump(mode="json", exclude_none=True),
        actor=who.name,
        request_id=who.request_id,
    )
    if body.type == "move_out" and isinstance(body, schemas.MoveOut) and body.abroad:
        event.reason = "国外転出"
    ctx = EventContext(
        session, tenant, eras, today, f"{municipality.prefecture}{municipality.name}", event, event_date
    )
    HANDLERS[body.type](ctx, body)
    if ctx.warnings:
        event.details = {**event.details, "warnings": ctx.warnings}
    ctx.finish()
    # One entry per person written, in the same transaction (DESIGN §3.3-3.4): "who changed this person".
    facts = {"event_no": event.event_no, "event_type": event.event_type}
    append_entries(
        session,
        tenant,
        [
            who.entry(
                Action.EVENT_RECORD,
                subject=link.atena_no,
                details={**facts, "history_no": link.history_no_after},
            )
            for link in ctx.links
        ],
    )
    uow.commit()
    return Recorded(event, sorted(ctx.links, key=lambda link: link.atena_no))
