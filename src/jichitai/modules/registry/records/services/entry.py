"""Persons entering the register: 転入, 出生, 職権記載."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from jichitai.modules.registry.records import rules, schemas
from jichitai.modules.registry.records.models import (
    Person,
    PersonRecord,
    ResidentKind,
    ResidentStatus,
    current_only,
)
from jichitai.modules.registry.records.services.context import (
    EventContext,
    address_values,
    entitlement_columns,
    head_of,
    load_members,
    open_household,
    parse_relationship,
)
from jichitai.modules.registry.records.snapshots import AddressValues, date_columns, first_snapshot
from jichitai.platform.errors import Conflict, InvalidInput
from jichitai.platform.jp import (
    JpValueError,
    check_juminhyo_code,
    issue_juminhyo_code,
    make_atena_number,
    validate_my_number,
)
from jichitai.platform.tenancy import next_numbers

# --- entering a person ------------------------------------------------------------------------------------

RNG = random.SystemRandom()
"""住民票コード are drawn from the OS entropy source: they must not be guessable."""


def juminhyo_code_for(ctx: EventContext, given: str | None, field_path: str) -> str:
    if given is None:
        while True:
            code = issue_juminhyo_code(RNG)
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


def my_number_for(ctx: EventContext, value: str | None, field_path: str, atena_no: str | None) -> str | None:
    if value is None:
        return None
    try:
        number = validate_my_number(value)
    except JpValueError as exc:
        raise InvalidInput(exc.code, f"個人番号: {exc.message}", field_path) from exc
    holder = ctx.session.scalars(
        select(PersonRecord.atena_no).where(
            PersonRecord.lg_code == ctx.tenant.lg_code,
            current_only(),
            PersonRecord.my_number == number,
        )
    ).first()
    if holder is not None and holder != atena_no:
        raise Conflict("my_number_in_use", "この個人番号は別の方に記載されています。", field_path)
    return number


def person_values(ctx: EventContext, pin: schemas.PersonInput, path: str) -> dict[str, Any]:
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
        "my_number": my_number_for(ctx, pin.my_number, f"{path}.my_number", None),
        "juminhyo_code": juminhyo_code_for(ctx, pin.juminhyo_code, f"{path}.juminhyo_code"),
    }
    if pin.entitlements is not None:
        values.update(entitlement_columns(ctx, pin.entitlements, f"{path}.entitlements"))
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


def enter_person(
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
    ctx.create(
        Person(
            lg_code=ctx.tenant.lg_code, atena_no=atena_no, current_history_no=1, created_event_no=ctx.event_no
        )
    )
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


def enter_group(
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
        str(i): parse_relationship(p.relationship, f"{path}[{i}].relationship") for i, p in enumerate(persons)
    }
    values = [person_values(ctx, p, f"{path}[{i}]") for i, p in enumerate(persons)]
    if household_no is None:
        head_index = int(rules.check_household_relationships(labels, f"{path}.relationship"))
        household_no = open_household(ctx)
        head = values[head_index]
        head_name = display_name(head)
    else:
        members = load_members(ctx, household_no, "household_no")
        if any(label == rules.HEAD for label in labels.values()):
            raise InvalidInput(
                "household_has_head", "既存の世帯には世帯主がいます。続柄を確認してください。", path
            )
        if not address.same_place(head_of(members)):
            raise InvalidInput("address_mismatch", "世帯の住所と異なります。", "address")
        head_name = head_of(members).full_name()
    return [
        enter_person(
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


def display_name(values: dict[str, Any]) -> str:
    if values.get("family_name") or values.get("given_name"):
        return f"{values.get('family_name', '')}　{values.get('given_name', '')}".strip("　")
    return str(values.get("name_roman") or "")


def on_move_in(ctx: EventContext, body: schemas.MoveIn) -> None:
    enter_group(
        ctx,
        body.persons,
        household_no=body.household_no,
        address=address_values(body.address),
        previous_address=body.previous_address,
        path="persons",
    )


def on_ex_officio_entry(ctx: EventContext, body: schemas.ExOfficioEntry) -> None:
    enter_group(
        ctx,
        [body.person],
        household_no=body.household_no,
        address=address_values(body.address),
        previous_address=None,
        path="person",
    )


def on_birth(ctx: EventContext, body: schemas.Birth) -> None:
    members = load_members(ctx, body.household_no, "household_no")
    head = head_of(members)
    label = parse_relationship(body.child.relationship, "child.relationship")
    if label == rules.HEAD:
        raise InvalidInput(
            "household_has_head", "既存の世帯には世帯主がいます。続柄を確認してください。", "child"
        )
    values = person_values(ctx, body.child, "child")
    if values["birth_date"] != ctx.event_date.value:
        raise InvalidInput("birth_date_mismatch", "出生の異動日は生年月日と同じ日です。", "child.birth_date")
    address = AddressValues(head.address_area, head.address_number, head.address_building, head.postal_code)
    enter_person(
        ctx,
        values,
        household_no=body.household_no,
        relationship=label,
        head_name=head.full_name(),
        address=address,
        previous_address=None,
    )
