"""JSON shapes the registry API answers with, and their construction from records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from jichitai.modules.registry.records.models import (
    ENTITLEMENT_COLUMNS,
    SEX_LABELS,
    STATUS_LABELS,
    Event,
    EventPerson,
    PersonRecord,
    ResidentKind,
)
from jichitai.platform.jp import Era, format_wareki


class DateOut(BaseModel):
    """A registered date: the sortable ISO value and the text to print."""

    value: dt.date
    display: str
    irregular: bool


def date_out(value: dt.date, text: str | None, eras: tuple[Era, ...], *, western: bool = False) -> DateOut:
    """Irregular dates print their text; others print in 和暦, or 西暦 where the law says so (§1.3)."""
    if text:
        return DateOut(value=value, display=text, irregular=True)
    display = f"{value.year}年{value.month}月{value.day}日" if western else format_wareki(value, eras)
    return DateOut(value=value, display=display, irregular=False)


class EntitlementsOut(BaseModel):
    """法7条 items: 選挙人名簿, 国保, 後期高齢者医療, 介護保険, 国民年金, 児童手当."""

    elector_registered: bool
    nhi_qualified: bool
    nhi_acquired_on: dt.date | None
    nhi_lost_on: dt.date | None
    late_elderly_qualified: bool
    late_elderly_acquired_on: dt.date | None
    late_elderly_lost_on: dt.date | None
    ltc_qualified: bool
    ltc_acquired_on: dt.date | None
    ltc_lost_on: dt.date | None
    pension_qualified: bool
    basic_pension_no: str | None
    pension_category: str | None
    pension_category_changed_on: dt.date | None
    pension_acquired_on: dt.date | None
    pension_lost_on: dt.date | None
    child_allowance_from: str | None
    child_allowance_to: str | None


class RecordOut(BaseModel):
    """One snapshot of a 住民票."""

    atena_no: str
    history_no: int
    is_current: bool
    event_no: int
    status: str
    status_label: str
    kind: str
    household_no: str
    relationship: str
    head_name: str
    name: str
    family_name: str
    given_name: str
    family_kana: str
    given_kana: str
    kana_confirmed: bool
    former_surname: str | None
    name_roman: str | None
    alias_name: str | None
    birth_date: DateOut
    sex: str
    sex_label: str
    address: str
    address_area: str
    address_number: str
    address_building: str | None
    postal_code: str | None
    address_set_on: DateOut
    became_resident_on: DateOut
    notified_on: dt.date | None
    previous_address: str | None
    prior_address: str | None
    honseki: str | None
    honseki_head: str | None
    juminhyo_code: str
    my_number: str | None
    nationality: str | None
    foreign_category: str | None
    residence_status: str | None
    period_of_stay: str | None
    stay_expires_on: DateOut | None
    residence_card_no: str | None
    removal_reason: str | None
    removed_on: dt.date | None
    move_out_destination: str | None
    entitlements: EntitlementsOut


MY_NUMBER_MASK = "************"
"""What stands in for a 個人番号 the caller may not see (its presence is not a secret; its digits are)."""


def mask_my_number(value: str | None, reveal: bool) -> str | None:
    """The 個人番号 itself for a 個人番号利用事務, the mask otherwise; None stays None."""
    if value is None or reveal:
        return value
    return MY_NUMBER_MASK


def masked_details(details: Any, reveal: bool) -> Any:
    """Event details with every ``my_number`` value masked unless ``reveal``, at any depth."""
    if reveal:
        return details
    if isinstance(details, dict):
        return {
            key: mask_my_number(value, False)
            if key == "my_number" and isinstance(value, str)
            else masked_details(value, False)
            for key, value in details.items()
        }
    if isinstance(details, list):
        return [masked_details(item, False) for item in details]
    return details


def record_out(
    record: PersonRecord, town: str, eras: tuple[Era, ...], *, reveal_my_number: bool = False
) -> RecordOut:
    """Serialise a snapshot; foreign residents' birth dates are printed in 西暦 (法30条の45, j20).

    個人番号 is masked unless the caller's purpose and role allow it (``reveal_my_number``).
    """
    foreign = record.kind is ResidentKind.FOREIGN
    return RecordOut(
        atena_no=record.atena_no,
        history_no=record.history_no,
        is_current=record.is_current,
        event_no=record.event_no,
        status=record.status.value,
        status_label=STATUS_LABELS[record.status],
        kind=record.kind.value,
        household_no=record.household_no,
        relationship=record.relationship,
        head_name=record.head_name,
        name=record.full_name(),
        family_name=record.family_name,
        given_name=record.given_name,
        family_kana=record.family_kana,
        given_kana=record.given_kana,
        kana_confirmed=record.kana_confirmed,
        former_surname=record.former_surname,
        name_roman=record.name_roman,
        alias_name=record.alias_name,
        birth_date=date_out(record.birth_date, record.birth_date_text, eras, western=foreign),
        sex=record.sex.value,
        sex_label=SEX_LABELS[record.sex],
        address=record.full_address(town),
        address_area=record.address_area,
        address_number=record.address_number,
        address_building=record.address_building,
        postal_code=record.postal_code,
        address_set_on=date_out(record.address_set_on, record.address_set_on_text, eras),
        became_resident_on=date_out(record.became_resident_on, record.became_resident_on_text, eras),
        notified_on=record.notified_on,
        previous_address=record.previous_address,
        prior_address=record.prior_address,
        honseki=record.honseki,
        honseki_head=record.honseki_head,
        juminhyo_code=record.juminhyo_code,
        my_number=mask_my_number(record.my_number, reveal_my_number),
        nationality=record.nationality,
        foreign_category=record.foreign_category,
        residence_status=record.residence_status,
        period_of_stay=record.period_of_stay,
        stay_expires_on=None
        if record.stay_expires_on is None
        else date_out(record.stay_expires_on, None, eras, western=True),
        residence_card_no=record.residence_card_no,
        removal_reason=record.removal_reason,
        removed_on=record.removed_on,
        move_out_destination=record.move_out_destination,
        entitlements=EntitlementsOut.model_validate(
            {name: getattr(record, name) for name in ENTITLEMENT_COLUMNS}
        ),
    )


class EventPersonOut(BaseModel):
    """A person row an event changed."""

    atena_no: str
    history_no_before: int | None
    history_no_after: int


class EventOut(BaseModel):
    """An immutable 異動."""

    event_no: int
    event_type: str
    reason: str
    category: str
    event_date: DateOut
    notified_on: dt.date | None
    processed_on: dt.date
    recorded_at: dt.datetime
    cancels_event_no: int | None
    actor: str
    details: dict[str, Any]
    persons: list[EventPersonOut] | None = None


def event_out(
    event: Event,
    eras: tuple[Era, ...],
    persons: list[EventPerson] | None = None,
    *,
    reveal_my_number: bool = False,
) -> EventOut:
    """Serialise an event, with its person rows when given; 個人番号 in its details masked unless revealed."""
    return EventOut(
        event_no=event.event_no,
        event_type=event.event_type,
        reason=event.reason,
        category=event.category,
        event_date=date_out(event.event_date, event.event_date_text, eras),
        notified_on=event.notified_on,
        processed_on=event.processed_on,
        recorded_at=event.recorded_at,
        cancels_event_no=event.cancels_event_no,
        actor=event.actor,
        details=masked_details(event.details, reveal_my_number),
        persons=None
        if persons is None
        else [
            EventPersonOut(
                atena_no=p.atena_no,
                history_no_before=p.history_no_before,
                history_no_after=p.history_no_after,
            )
            for p in persons
        ],
    )


class ResidentOut(BaseModel):
    """A person with the current record, every snapshot and the events that changed them."""

    atena_no: str
    current: RecordOut
    history: list[RecordOut]
    events: list[EventOut]


class SearchOut(BaseModel):
    """A page of search results."""

    items: list[RecordOut]
    page: int
    per_page: int
    has_next: bool


class HouseholdOut(BaseModel):
    """A household with its current members in certificate order."""

    household_no: str
    head_name: str | None
    address: str | None
    members: list[RecordOut]


class EventListOut(BaseModel):
    """A page of events, newest first."""

    items: list[EventOut]
    page: int
    per_page: int
    has_next: bool
