"""One form per 異動 type under ``/ui/{lg_code}/events/{type}``: the body of ``POST …/events``, on screen.

The posted form is turned into the API's body (:mod:`jichitai.platform.web.forms`), validated by the same
pydantic model and recorded by the same service, :func:`record_event`. Every refusal is shown next
to the input it is about, and nothing is written; success goes to the person's page with the event number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from starlette.datastructures import FormData

from jichitai.modules.registry.paths import UI, ui
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.records import queries, schemas
from jichitai.modules.registry.records.models import ResidentStatus
from jichitai.modules.registry.records.responses import RecordOut, record_out
from jichitai.modules.registry.records.services import reads
from jichitai.modules.registry.records.services.record import record_event
from jichitai.platform.calendar import load_eras
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import DomainError, NotFound
from jichitai.platform.tenancy import get_municipality, get_tenant
from jichitai.platform.web.auth import Principal
from jichitai.platform.web.forms import (
    domain_errors,
    field_label,
    keep_rows,
    remap_errors,
    unflatten,
    validation_errors,
)
from jichitai.platform.web.pages import CSRF_FIELD, form_data, page_access, see_other
from jichitai.platform.web.templating import render

router = APIRouter(prefix=UI, include_in_schema=False)
Recorder = Annotated[Principal, Depends(page_access(Permission.EVENT_RECORD))]
Form = Annotated[FormData, Depends(form_data)]

CONTEXT_FIELDS = ("ctx_household", "ctx_person", "scope", CSRF_FIELD)
"""Inputs that shape the page, not the body."""
ROW_COUNT = 5
ROW_INDEX = re.compile(r"^(?:persons|members)\[(\d{1,2})\]")
"""Blank rows offered where the clerk types people or members in (more with ``?rows=``)."""


@dataclass(frozen=True)
class EventForm:
    """How one 異動 type is entered: its title, model, the partial template and where it starts from."""

    title: str
    model: type[BaseModel]
    partial: str
    start: str = "none"
    """``household``, ``person`` or ``none``: what the form is opened from (and shows)."""
    rows: tuple[str, ...] = ()
    """List inputs typed row by row; blank rows are dropped."""
    multi: tuple[str, ...] = ()
    """Checkbox groups sending one value per ticked box."""
    help: str = ""
    prepare: Callable[[dict[str, Any], FormData], None] | None = field(default=None)


def _relocation_scope(data: dict[str, Any], form: FormData) -> None:
    """転居 moves the whole household unless the clerk chose 一部の世帯員."""
    if form.get("scope") != "some":
        data.pop("members", None)
        data.pop("to_household_no", None)


def _selected_members(data: dict[str, Any], _form: FormData) -> None:
    """Only the ticked members take part; the tick itself is not part of the body."""
    rows = data.get("members")
    if isinstance(rows, list):
        data["members"] = [
            {k: v for k, v in row.items() if k != "selected"}
            if isinstance(row, dict) and row.get("selected")
            else None
            for row in rows
        ]


def _both(*steps: Callable[[dict[str, Any], FormData], None]) -> Callable[[dict[str, Any], FormData], None]:
    def run(data: dict[str, Any], form: FormData) -> None:
        for step in steps:
            step(data, form)

    return run


EVENT_FORMS: dict[str, EventForm] = {
    "domestic_move_in": EventForm(
        "転入 (国内から)",
        schemas.MoveIn,
        "move_in",
        rows=("persons",),
        help="転出証明書を確認して入力します。",
    ),
    "overseas_move_in": EventForm(
        "転入 (国外から)", schemas.MoveIn, "move_in", rows=("persons",), help="旅券等を確認して入力します。"
    ),
    "birth": EventForm("出生", schemas.Birth, "birth", start="household", help="異動日は生年月日です。"),
    "relocation": EventForm(
        "転居",
        schemas.Relocation,
        "relocation",
        start="household",
        rows=("members",),
        prepare=_both(_selected_members, _relocation_scope),
        help="同じ市区町村の中での住所の変更です。旧住所は異動前住所として残ります。",
    ),
    "move_out": EventForm(
        "転出",
        schemas.MoveOut,
        "move_out",
        start="household",
        multi=("atena_nos",),
        help="異動日は転出予定日です (未来の日付も入力できます)。",
    ),
    "death": EventForm("死亡", schemas.Death, "death", start="person"),
    "head_change": EventForm(
        "世帯主変更",
        schemas.HeadChange,
        "head_change",
        start="household",
        rows=("members",),
        help="新しい世帯主の続柄を「世帯主」にし、全員の新しい世帯主との続柄を入力します。",
    ),
    "household_split": EventForm(
        "世帯分離",
        schemas.HouseholdSplit,
        "members_select",
        start="household",
        rows=("members",),
        prepare=_selected_members,
        help="選んだ世帯員が同じ住所で新しい世帯を作ります。新しい世帯での続柄を入力します。",
    ),
    "household_change": EventForm(
        "世帯変更",
        schemas.HouseholdTransfer,
        "household_change",
        start="household",
        rows=("members",),
        prepare=_selected_members,
        help="選んだ世帯員が同じ住所の別の世帯へ移ります。",
    ),
    "household_merge": EventForm(
        "世帯合併",
        schemas.HouseholdMerge,
        "household_merge",
        start="household",
        rows=("members",),
        help="同じ住所の別の世帯の全員が、この世帯に加わります。",
    ),
    "ex_officio_entry": EventForm("職権記載", schemas.ExOfficioEntry, "ex_officio_entry"),
    "ex_officio_removal": EventForm(
        "職権消除", schemas.ExOfficioRemoval, "ex_officio_removal", start="person"
    ),
    "ex_officio_correction": EventForm(
        "職権修正",
        schemas.ExOfficioCorrection,
        "ex_officio_correction",
        start="person",
        help="修正する項目だけを入力します (空欄の項目は変わりません)。",
    ),
    "cancellation": EventForm(
        "異動の取消し",
        schemas.Cancellation,
        "cancellation",
        help="取り消す異動の前の状態を新しい履歴として記録します (元の履歴は残ります)。",
    ),
}
"""Every 異動 type the screens record, in the order the home page lists them."""

LABELS = {
    "event_date": "異動日",
    "notified_on": "届出日",
    "note": "留意事項",
    "family_name": "氏",
    "given_name": "名",
    "family_kana": "氏 (フリガナ)",
    "given_kana": "名 (フリガナ)",
    "kana_confirmed": "フリガナ確認",
    "former_surname": "旧氏",
    "former_surname_kana": "旧氏 (フリガナ)",
    "birth_date": "生年月日",
    "sex": "性別",
    "relationship": "続柄",
    "juminhyo_code": "住民票コード",
    "my_number": "個人番号",
    "honseki": "本籍",
    "honseki_head": "筆頭者",
    "address": "住所",
    "area": "町字",
    "number": "番地・号",
    "building": "方書",
    "address_building": "方書",
    "postal_code": "郵便番号",
    "previous_address": "転入前住所",
    "household_no": "世帯番号",
    "to_household_no": "移る先の世帯番号",
    "from_household_no": "元の世帯番号",
    "merged_household_no": "合併される世帯の世帯番号",
    "destination": "転出先",
    "abroad": "国外への転出",
    "atena_no": "宛名番号",
    "atena_nos": "転出する方",
    "members": "世帯員",
    "persons": "異動する方",
    "person": "対象者",
    "child": "子",
    "corrections": "修正内容",
    "reason_detail": "理由",
    "cancels_event_no": "取り消す異動の番号",
}
ROW_NAMES = {"persons": "人目", "members": "人目", "atena_nos": "人目"}


def label(name: str) -> str:
    """The Japanese name of an input (``persons[1].birth_date`` → ``異動する方 2人目 生年月日``)."""
    return field_label(name, LABELS, ROW_NAMES)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _spec(event_type: str) -> EventForm:
    spec = EVENT_FORMS.get(event_type)
    if spec is None:
        raise NotFound("異動の種類")
    return spec


@dataclass
class Subject:
    """What the form was opened from: a household's members or one person (shown, and audited as read)."""

    household_no: str = ""
    person: RecordOut | None = None
    members: list[RecordOut] = field(default_factory=list)


def _subject(
    request: Request, lg_code: str, spec: EventForm, household_no: str, atena_no: str, principal: Principal
) -> Subject:
    """Read what the form starts from; every person shown is recorded as read by ``principal``."""
    subject = Subject(household_no=household_no)
    if spec.start == "none" and not atena_no:
        return subject
    reveal = principal.may_see_my_number
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        municipality = get_municipality(session, tenant.lg_code)
        town = f"{municipality.prefecture}{municipality.name}"
        if atena_no:
            record = queries.current_record(session, tenant, atena_no)
            subject.person = record_out(record, town, eras, reveal_my_number=reveal)
            if not household_no and record.status is ResidentStatus.RESIDENT:
                subject.household_no = record.household_no
        if spec.start == "household":
            if not subject.household_no:
                raise NotFound("世帯")
            queries.get_household(session, tenant, subject.household_no)
            members = queries.household_members(session, tenant, subject.household_no)
            subject.members = [record_out(m, town, eras, reveal_my_number=reveal) for m in members]
        shown = {m.atena_no for m in subject.members} | ({atena_no} if atena_no else set())
        facts = {"via": "event_form", "household_no": subject.household_no or None}
        reads.note_reads(uow, tenant, sorted(shown), actor=principal.as_actor(), details=facts)
    return subject


def _initial(event_type: str, subject: Subject, event_no: str) -> dict[str, str]:
    """Inputs filled in before the clerk types: the household's members and their 続柄, the subject."""
    values: dict[str, str] = {"scope": "all"}
    if subject.household_no:
        for name in ("household_no", "from_household_no", "ctx_household"):
            values[name] = subject.household_no
    if subject.person is not None:
        values["atena_no"] = values["ctx_person"] = subject.person.atena_no
    for i, member in enumerate(subject.members):
        values[f"members[{i}].atena_no"] = member.atena_no
        values[f"members[{i}].relationship"] = member.relationship
    if event_type == "move_out" and subject.person is not None:
        values["atena_nos"] = subject.person.atena_no
    if event_type == "birth" and subject.members:
        head = subject.members[0]
        values.update(
            {
                "child.family_name": head.family_name,
                "child.family_kana": head.family_kana,
                "child.relationship": "子",
            }
        )
    if event_type == "household_merge":
        values = {k: v for k, v in values.items() if not k.startswith("members[")}
    if event_no:
        values["cancels_event_no"] = event_no
    return values


def _page(
    request: Request,
    lg_code: str,
    event_type: str,
    subject: Subject,
    values: dict[str, str],
    checked: dict[str, set[str]],
    errors: dict[str, str],
    rows: int,
    status: int = 200,
) -> Response:
    spec = EVENT_FORMS[event_type]
    return render(
        request,
        "registry/event_form.html",
        {
            "lg": lg_code,
            "event_type": event_type,
            "spec": spec,
            "subject": subject,
            "values": values,
            "checked": checked,
            "errors": errors,
            "label": label,
            "rows": max(rows, len(subject.members)),
        },
        status=status,
    )


@router.get("/events/{event_type}/new")
def new_event(
    request: Request,
    lg_code: str,
    event_type: str,
    principal: Recorder,
    household_no: str = "",
    atena_no: str = "",
    event_no: str = "",
    rows: int = ROW_COUNT,
) -> Response:
    """The blank form of one 異動 type (異動日 starts blank; 処理日 is always today)."""
    spec = _spec(event_type)
    subject = _subject(request, lg_code, spec, household_no[:10], atena_no[:10], principal)
    values = _initial(event_type, subject, event_no[:10])
    checked = {"atena_nos": {values.pop("atena_nos", "")}} if event_type == "move_out" else {}
    return _page(request, lg_code, event_type, subject, values, checked, {}, min(max(rows, 1), 30))


def body_of(spec: EventForm, event_type: str, form: FormData) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The API body the form describes, and for each row list the on-screen row of each body row."""
    data = unflatten(form.multi_items(), skip=(*CONTEXT_FIELDS, *spec.multi))
    data["type"] = event_type
    for name in spec.multi:
        data[name] = [v for v in form.getlist(name) if isinstance(v, str) and v]
    if spec.prepare is not None:
        spec.prepare(data, form)
    kept = {name: keep_rows(data, name) for name in spec.rows if name in data}
    return data, kept


@router.post("/events/{event_type}")
def record(request: Request, lg_code: str, event_type: str, principal: Recorder, form: Form) -> Response:
    """Validate with the API's model, record with the API's service; refusals are shown inline."""
    spec = _spec(event_type)
    data, kept = body_of(spec, event_type, form)
    status = 422
    try:
        body = spec.model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
    else:
        try:
            with UnitOfWork(_engine(request)) as uow:
                tenant = get_tenant(uow.session, lg_code)
                event = cast(schemas.EventBody, body)
                recorded = record_event(uow, tenant, event, actor=principal.as_actor())
        except DomainError as exc:
            errors, status = domain_errors(exc), exc.status
        else:
            changed = [p.atena_no for p in recorded.persons]
            person = _text(form, "ctx_person")
            shown = person if person in changed else changed[0]  # e.g. a birth: the child's page
            return see_other(ui(lg_code, f"persons/{shown}?done={recorded.event.event_no}"))
    for name, rows in kept.items():
        errors = remap_errors(errors, name, rows)
    subject = _subject(
        request, lg_code, spec, _text(form, "ctx_household"), _text(form, "ctx_person"), principal
    )
    values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k not in spec.multi}
    checked = {name: {v for v in form.getlist(name) if isinstance(v, str)} for name in spec.multi}
    return _page(request, lg_code, event_type, subject, values, checked, errors, _rows_on(values), status)


def _rows_on(values: dict[str, str]) -> int:
    """How many rows the posted form had, so a re-shown form keeps them all."""
    found = [int(m[1]) for name in values if (m := ROW_INDEX.match(name))]
    return max(found, default=ROW_COUNT - 1) + 1


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:10] if isinstance(value, str) else ""
