"""The certificate screen under ``/ui/{lg_code}/certificates``: choose, issue, open the PDF.

The form is the body of ``POST …/certificates`` (:class:`CertificateIn`); issuing calls the same service,
:func:`request_certificate`, with the same rights (個人番号, 支援措置の解除), so a refusal —
a DV等支援措置 block included, a co-resident's too — reads exactly as the API's, next to the input concerned.
The PDF and the 再交付 go through the same print service as the API, with the same 支援措置 checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import Engine
from starlette.datastructures import FormData

from jichitai.modules.registry.certificates import rules as certificates
from jichitai.modules.registry.certificates.api import pdf_response, print_in_renderer
from jichitai.modules.registry.certificates.documents import fees_on, issuance_summary
from jichitai.modules.registry.certificates.services import get_certificate_issue, request_certificate
from jichitai.modules.registry.paths import UI, ui
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.models import ResidentStatus
from jichitai.modules.registry.records.responses import RecordOut, record_out
from jichitai.modules.registry.records.services import reads
from jichitai.modules.registry.support import rules as support_rules
from jichitai.modules.registry.support.schemas import (
    CertificateIn,
    CertificateStyle,
    CertificateType,
    RequesterCategory,
)
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.documents import font_status
from jichitai.platform.errors import DomainError
from jichitai.platform.tenancy import get_municipality, get_tenant
from jichitai.platform.web.auth import Principal
from jichitai.platform.web.forms import domain_errors, field_label, unflatten, validation_errors
from jichitai.platform.web.pages import CSRF_FIELD, form_data, page_access, see_other
from jichitai.platform.web.templating import render

router = APIRouter(prefix=UI, include_in_schema=False)
Issuer = Annotated[Principal, Depends(page_access(Permission.CERTIFICATE_ISSUE))]
Form = Annotated[FormData, Depends(form_data)]
IssueNo = Annotated[int, Path(ge=1, le=2**31 - 1)]

LABELS = {
    "type": "証明書の種類",
    "style": "様式",
    "atena_nos": "記載する方",
    "subjects": "記載する方",
    "items": "記載する事項",
    "household": "世帯主・続柄",
    "honseki": "本籍・筆頭者",
    "juminhyo_code": "住民票コード",
    "my_number": "個人番号",
    "residence_card": "在留カード等",
    "copies": "通数",
    "requester": "請求者",
    "category": "区分",
    "name": "氏名",
    "atena_no": "宛名番号",
    "birth_date": "生年月日",
    "purpose": "請求事由・提出先",
    "override": "制限の解除",
    "reason": "解除の理由",
}
NUMBER_CATEGORIES = sorted(c.value for c in certificates.NUMBER_CATEGORIES)
"""Requester categories that may have 住民票コード and 個人番号 printed (the screen greys the boxes out
for the others; the service refuses them anyway)."""


def label(name: str) -> str:
    """The Japanese name of an input of the certificate form."""
    return field_label(name, LABELS, {"atena_nos": "人目"})


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _subjects(
    request: Request, lg_code: str, atena_no: str, household_no: str, principal: Principal
) -> tuple[list[RecordOut], RecordOut | None, dict[str, int | None]]:
    """The people the certificate may name (a household in print order, or one 除票), the person it was
    opened from, and each type's fee per copy today. Everyone listed is recorded as read."""
    reveal = principal.may_see_my_number
    with UnitOfWork(_engine(request)) as uow:
        session = uow.session
        tenant = get_tenant(session, lg_code)
        eras = load_eras(session)
        municipality = get_municipality(session, tenant.lg_code)
        town = f"{municipality.prefecture}{municipality.name}"
        person = None
        records = []
        if atena_no:
            current = queries.current_record(session, tenant, atena_no)
            person = record_out(current, town, eras, reveal_my_number=reveal)
            if current.status is ResidentStatus.RESIDENT:
                household_no = current.household_no
            else:
                records = [current]
        if household_no and not records:
            queries.get_household(session, tenant, household_no)
            records = queries.household_members(session, tenant, household_no)
        fees = {kind.value: fee for kind, fee in fees_on(session, tenant, today_jst()).items()}
        shown = [r.atena_no for r in records]
        facts = {"via": "certificate_form", "household_no": household_no or None}
        reads.note_reads(uow, tenant, shown, actor=principal.as_actor(), details=facts)
        return [record_out(r, town, eras, reveal_my_number=reveal) for r in records], person, fees


def _page(
    request: Request,
    lg_code: str,
    principal: Principal,
    subject: tuple[list[RecordOut], RecordOut | None, dict[str, int | None]],
    values: dict[str, str],
    checked: set[str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    members, person, fees = subject
    return render(
        request,
        "registry/certificate_form.html",
        {
            "lg": lg_code,
            "members": members,
            "person": person,
            "fees": fees,
            "values": values,
            "checked": checked,
            "errors": errors,
            "label": label,
            "types": certificates.TYPE_LABELS,
            "styles": certificates.STYLE_LABELS,
            "categories": certificates.CATEGORY_LABELS,
            "items": certificates.ITEM_LABELS,
            "number_categories": NUMBER_CATEGORIES,
            "may_see_my_number": principal.may_see_my_number,
            "may_override": principal.has(support_rules.OVERRIDE_PERMISSION),
            "font": font_status(),
        },
        status=status,
    )


@router.get("/certificates/new")
def new_certificate(
    request: Request, lg_code: str, principal: Issuer, atena_no: str = "", household_no: str = ""
) -> Response:
    """The request form, opened from a person or a household: everyone ticked, in certificate order."""
    subject = _subjects(request, lg_code, atena_no[:10], household_no[:10], principal)
    members, person, _fees = subject
    removed = person is not None and person.status != ResidentStatus.RESIDENT.value
    values = {
        "type": (CertificateType.REMOVED_RECORD if removed else CertificateType.RESIDENT_RECORD).value,
        "style": CertificateStyle.HOUSEHOLD.value,
        "copies": "1",
        "requester.category": RequesterCategory.SELF.value,
        "requester.name": person.name if person else "",
        "requester.atena_no": person.atena_no if person else "",
        "ctx_person": atena_no[:10],
        "ctx_household": household_no[:10],
    }
    return _page(request, lg_code, principal, subject, values, {m.atena_no for m in members}, {})


def body_of(form: FormData, may_override: bool) -> dict[str, Any]:
    """The API body the form describes (the override only for those who may lift a block)."""
    data = unflatten(form.multi_items(), skip=(CSRF_FIELD, "ctx_person", "ctx_household", "atena_nos"))
    data["atena_nos"] = [v for v in form.getlist("atena_nos") if isinstance(v, str) and v] or None
    if not may_override:
        data.pop("override", None)
    return data


@router.post("/certificates")
def issue(request: Request, lg_code: str, principal: Issuer, form: Form) -> Response:
    """Issue with the API's model and service; show the result with its PDF, or the refusal inline."""
    may_override = principal.has(support_rules.OVERRIDE_PERMISSION)
    status = 422
    try:
        body = CertificateIn.model_validate(body_of(form, may_override))
    except ValidationError as exc:
        errors = validation_errors(exc)
    else:
        try:
            with UnitOfWork(_engine(request)) as uow:
                tenant = get_tenant(uow.session, lg_code)
                issued = request_certificate(
                    uow,
                    tenant,
                    body,
                    actor=principal.as_actor(),
                    principal_may_override=may_override,
                    reveal_my_number=principal.may_see_my_number,
                )
        except DomainError as exc:
            errors, status = domain_errors(exc), exc.status
        else:
            mail = "&mail=1" if issued.deliver_by_mail else ""
            return see_other(ui(lg_code, f"certificates/{issued.issue_no}?issued=1{mail}"))
    person, household = (_text(form, name) for name in ("ctx_person", "ctx_household"))
    subject = _subjects(request, lg_code, person, household, principal)
    values = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "atena_nos"}
    checked = {v for v in form.getlist("atena_nos") if isinstance(v, str)}
    return _page(request, lg_code, principal, subject, values, checked, errors, status)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:10] if isinstance(value, str) else ""


@router.get("/certificates/summary")
def summary(request: Request, lg_code: str, principal: Issuer, day: str = "") -> Response:
    """The day's issuances and fees by certificate type (交付件数・手数料の日計), for closing the till."""
    del principal  # the permission is the whole check; the summary names nobody
    try:
        on = dt.date.fromisoformat(day) if day else today_jst()
    except ValueError:
        on = today_jst()
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        totals = issuance_summary(session, tenant, on)
    return render(request, "registry/certificate_summary.html", {"lg": lg_code, "summary": totals})


@router.get("/certificates/{issue_no}")
def issued(
    request: Request, lg_code: str, issue_no: IssueNo, principal: Issuer, issued: int = 0, mail: int = 0
) -> Response:
    """One issuance (from the 交付履歴) with the link to its PDF."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        row = get_certificate_issue(uow, tenant, issue_no, actor=principal.as_actor())
        issue = certificates.issue_out(row)
    return render(
        request,
        "registry/certificate_done.html",
        {
            "lg": lg_code,
            "issue": issue,
            "just_issued": bool(issued),
            "by_mail": bool(mail),
            "categories": {c.value: text for c, text in certificates.CATEGORY_LABELS.items()},
            "styles": {s.value: text for s, text in certificates.STYLE_LABELS.items()},
            "items": certificates.ITEM_LABELS,
            "font": font_status(),
        },
    )


@router.get("/certificates/{issue_no}/pdf")
async def certificate_pdf(request: Request, lg_code: str, issue_no: IssueNo, principal: Issuer) -> Response:
    """The first print of an issuance, as a PDF (printed from the browser); later prints are 再交付.
    Rendered on a PDF rendering thread (:func:`print_in_renderer`), not on a request thread."""
    printed = await print_in_renderer(request, lg_code, issue_no, principal, reissue=False)
    return pdf_response(printed, lg_code)


@router.post("/certificates/{issue_no}/reissue")
async def reissue(request: Request, lg_code: str, issue_no: IssueNo, principal: Issuer) -> Response:
    """Print the original content again under a new 発行番号, marked 再交付 (logged, audited, no fee)."""
    printed = await print_in_renderer(request, lg_code, issue_no, principal, reissue=True)
    return pdf_response(printed, lg_code)
