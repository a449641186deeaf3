"""JSON shapes of the 支援措置 API, with the state of each measure as of the day it is answered."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.models import SUPPORT_KIND_LABELS, SupportMeasure
from jichitai.modules.registry.support.services import MeasurePage, period


class CounterpartyOut(BaseModel):
    """The 相手方 as recorded."""

    name: str
    kana: str | None
    atena_no: str | None
    birth_date: dt.date | None
    address: str | None


class SupportMeasureOut(BaseModel):
    """A 支援措置 with its stored status and its state today (``state``: provisional, active, expiring,
    lapsed, ended)."""

    measure_no: int
    atena_no: str
    kind: str
    kind_label: str
    status: str
    state: str
    state_label: str
    alert: bool
    starts_on: dt.date
    confirmed_on: dt.date | None
    ends_on: dt.date
    period_no: int
    extension_from: dt.date
    """First day an extension is accepted (the last month of the period)."""
    related_measure_no: int | None
    counterparty: CounterpartyOut
    reason: str
    notes: str | None
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str
    ended_on: dt.date | None
    end_reason: str | None


class SupportMeasureListOut(BaseModel):
    """A page of measures."""

    items: list[SupportMeasureOut]
    page: int
    per_page: int
    has_next: bool


def measure_out(measure: SupportMeasure, today: dt.date) -> SupportMeasureOut:
    """Serialise a measure as of ``today``."""
    dates = period(measure)
    state = rules.state_on(dates, today)
    return SupportMeasureOut(
        measure_no=measure.measure_no,
        atena_no=measure.atena_no,
        kind=measure.kind.value,
        kind_label=SUPPORT_KIND_LABELS[measure.kind],
        status=measure.status.value,
        state=state.value,
        state_label=rules.STATE_LABELS[state],
        alert=rules.alert_due(dates, today),
        starts_on=measure.starts_on,
        confirmed_on=measure.confirmed_on,
        ends_on=measure.ends_on,
        period_no=measure.period_no,
        extension_from=rules.window_opens(measure.ends_on),
        related_measure_no=measure.related_measure_no,
        counterparty=CounterpartyOut(
            name=measure.counterparty_name,
            kana=measure.counterparty_kana,
            atena_no=measure.counterparty_atena_no,
            birth_date=measure.counterparty_birth_date,
            address=measure.counterparty_address,
        ),
        reason=measure.reason,
        notes=measure.notes,
        created_at=measure.created_at,
        created_by=measure.created_by,
        updated_at=measure.updated_at,
        updated_by=measure.updated_by,
        ended_on=measure.ended_on,
        end_reason=measure.end_reason,
    )


def page_out(result: MeasurePage, today: dt.date) -> SupportMeasureListOut:
    """Serialise a page of measures."""
    return SupportMeasureListOut(
        items=[measure_out(m, today) for m in result.items],
        page=result.page,
        per_page=result.per_page,
        has_next=result.has_next,
    )
