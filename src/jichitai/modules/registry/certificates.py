"""Certificates (住民票の写し, 除票の写し): who may have which items, and the content to print.

The content is structured JSON; rendering it to PDF (fonts, 公印, 認証文 layout) comes with the counter
screens. What is decided here is the law of the content (domain.md §3.1-3.2):

- optional items (世帯主・続柄, 本籍・筆頭者, 住民票コード, 個人番号, 在留カード等) are printed only when
  asked;
- 個人番号 and 住民票コード only for the person or a member of the same household (法12条), or a proxy, whose
  copy is then mailed to the person's registered address rather than handed over; never for third parties,
  特定事務受任者 or public bodies (住基法12条の2-3, 番号法19条);
- third parties, 特定事務受任者 and public bodies state the purpose (請求事由);
- 世帯連記式 prints one household: every subject must be of the same 世帯.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel

from jichitai.modules.registry.models import (
    SEX_LABELS,
    STATUS_LABELS,
    CertificateIssue,
    PersonRecord,
    ResidentKind,
)
from jichitai.modules.registry.responses import DateOut, date_out, record_out
from jichitai.modules.registry.rules import Member, certificate_order
from jichitai.modules.registry.support_schemas import (
    CertificateIn,
    CertificateStyle,
    CertificateType,
    Items,
    RequesterCategory,
)
from jichitai.platform.errors import Forbidden, InvalidInput
from jichitai.platform.jp import Era, format_wareki

TYPE_LABELS = {
    CertificateType.RESIDENT_RECORD: "住民票の写し",
    CertificateType.REMOVED_RECORD: "除票の写し",
}
STYLE_LABELS = {CertificateStyle.HOUSEHOLD: "世帯連記式", CertificateStyle.INDIVIDUAL: "個人票"}
CATEGORY_LABELS = {
    RequesterCategory.SELF: "本人",
    RequesterCategory.HOUSEHOLD: "同一世帯",
    RequesterCategory.PROXY: "代理人",
    RequesterCategory.THIRD_PARTY: "第三者",
    RequesterCategory.PUBLIC_BODY: "国・地方公共団体",
    RequesterCategory.PROFESSIONAL: "特定事務受任者",
}
ITEM_LABELS = {
    "household": "世帯主・続柄",
    "honseki": "本籍・筆頭者",
    "juminhyo_code": "住民票コード",
    "my_number": "個人番号",
    "residence_card": "在留資格・在留期間・在留カード番号",
}
ATTESTATION = {
    CertificateType.RESIDENT_RECORD: "この写しは、住民票の原本と相違ないことを証明する。",
    CertificateType.REMOVED_RECORD: "この写しは、除票の原本と相違ないことを証明する。",
}

OWN_RECORD = frozenset({RequesterCategory.SELF, RequesterCategory.HOUSEHOLD})
"""Categories whose 宛名番号 is checked against the register: the person or the same household (法12条)."""
NUMBER_ITEMS = ("juminhyo_code", "my_number")
NUMBER_CATEGORIES = OWN_RECORD | {RequesterCategory.PROXY}
PURPOSE_REQUIRED = frozenset(
    {RequesterCategory.THIRD_PARTY, RequesterCategory.PROFESSIONAL, RequesterCategory.PUBLIC_BODY}
)


def chosen_items(items: Items) -> list[str]:
    """The optional items asked for, by code, in the order of :data:`ITEM_LABELS`."""
    return [name for name in ITEM_LABELS if getattr(items, name)]


def check_request(body: CertificateIn, *, reveal_my_number: bool) -> None:
    """Refuse what the law or the clerk's rights never allow, before anything is read."""
    if (body.atena_nos is None) == (body.household_no is None):
        raise InvalidInput(
            "subjects_required",
            "対象者 (atena_nos) か世帯番号 (household_no) のどちらか一方を指定してください。",
            "atena_nos",
        )
    category = body.requester.category
    for name in NUMBER_ITEMS:
        if getattr(body.items, name) and category not in NUMBER_CATEGORIES:
            raise InvalidInput(
                "item_not_allowed",
                f"{ITEM_LABELS[name]}は、本人・同一世帯の方 (または代理人) の請求でのみ記載できます。",
                f"items.{name}",
            )
    if body.items.my_number and not reveal_my_number:
        raise Forbidden(
            "my_number_not_permitted",
            "個人番号を記載した証明書を交付する権限がありません (利用目的とロールを確認してください)。",
            "items.my_number",
        )
    if category in OWN_RECORD and body.requester.atena_no is None:
        raise InvalidInput(
            "requester_atena_no_required",
            "本人・同一世帯の方の請求では、請求者の宛名番号を指定してください。",
            "requester.atena_no",
        )
    if category in PURPOSE_REQUIRED and not body.purpose:
        raise InvalidInput(
            "request_purpose_required",
            "この請求者の区分では、請求事由 (提出先) の記入が必要です。",
            "purpose",
        )


def check_requester_household(
    category: RequesterCategory, requester: PersonRecord, subjects: Sequence[PersonRecord]
) -> None:
    """本人 is among the subjects and the subjects are of the requester's household (法12条)."""
    if category is RequesterCategory.SELF and requester.atena_no not in {s.atena_no for s in subjects}:
        raise InvalidInput(
            "requester_not_in_household",
            "本人の請求では、請求者ご本人を対象者に含めてください (他の方は同一世帯の請求です)。",
            "requester.atena_no",
        )
    if any(s.household_no != requester.household_no for s in subjects):
        raise InvalidInput(
            "requester_not_in_household",
            "請求者と同一の世帯ではない方が対象に含まれています。第三者等の区分で請求してください。",
            "requester.atena_no",
        )


def deliver_by_mail(body: CertificateIn) -> bool:
    """A proxy's copy with 個人番号 or 住民票コード goes by post to the person's address (事務処理要領)."""
    return body.requester.category is RequesterCategory.PROXY and any(
        getattr(body.items, name) for name in NUMBER_ITEMS
    )


def print_order(records: Sequence[PersonRecord]) -> list[PersonRecord]:
    """Members in the 世帯連記式 order (続柄, then birth date)."""
    by_no = {r.atena_no: r for r in records}
    ordered = certificate_order(Member(r.atena_no, r.relationship, r.birth_date) for r in records)
    return [by_no[m.atena_no] for m in ordered]


# --- content ---------------------------------------------------------------------------------------------


class CertificatePersonOut(BaseModel):
    """One person as printed; optional items are null when not asked for (or not applicable)."""

    atena_no: str
    name: str
    kana: str
    former_surname: str | None
    name_roman: str | None
    alias_name: str | None
    birth_date: DateOut
    sex: str
    head_name: str | None
    relationship: str | None
    address: str
    address_set_on: DateOut
    became_resident_on: DateOut
    notified_on: DateOut | None
    previous_address: str | None
    prior_address: str | None
    honseki: str | None
    honseki_head: str | None
    juminhyo_code: str | None
    my_number: str | None
    nationality: str | None
    foreign_category: str | None
    residence_status: str | None
    period_of_stay: str | None
    stay_expires_on: DateOut | None
    residence_card_no: str | None
    status: str
    removal_reason: str | None
    removed_on: DateOut | None
    move_out_destination: str | None


class CertificatePageOut(BaseModel):
    """One certificate: a household (世帯連記式) or one person (個人票)."""

    household_no: str
    head_name: str | None
    address: str
    persons: list[CertificatePersonOut]


class CertificateOut(BaseModel):
    """The content of an issued certificate, with its 発行番号."""

    issue_no: int
    issued_at: dt.datetime
    issued_on: str
    type: str
    type_label: str
    style: str
    style_label: str
    items: list[str]
    item_labels: list[str]
    copies: int
    town: str
    certifier: str
    attestation: str
    requester_category: str
    requester_category_label: str
    requester_name: str
    deliver_by_mail: bool
    overridden: bool
    pages: list[CertificatePageOut]


def person_out(
    record: PersonRecord, town: str, eras: tuple[Era, ...], items: Items, *, reveal_my_number: bool
) -> CertificatePersonOut:
    """The printed items of one record; dates in 和暦 (西暦 for foreign residents' birth and 在留期限)."""
    full = record_out(record, town, eras, reveal_my_number=reveal_my_number)
    foreign = record.kind is ResidentKind.FOREIGN
    card = items.residence_card and foreign
    return CertificatePersonOut(
        atena_no=full.atena_no,
        name=full.name,
        kana=f"{record.family_kana}　{record.given_kana}".strip("　"),
        former_surname=full.former_surname,
        name_roman=full.name_roman,
        alias_name=full.alias_name,
        birth_date=full.birth_date,
        sex=SEX_LABELS[record.sex],
        head_name=full.head_name if items.household else None,
        relationship=full.relationship if items.household else None,
        address=full.address,
        address_set_on=full.address_set_on,
        became_resident_on=full.became_resident_on,
        notified_on=None if record.notified_on is None else date_out(record.notified_on, None, eras),
        previous_address=full.previous_address,
        prior_address=full.prior_address,
        honseki=full.honseki if items.honseki else None,
        honseki_head=full.honseki_head if items.honseki else None,
        juminhyo_code=full.juminhyo_code if items.juminhyo_code else None,
        my_number=full.my_number if items.my_number else None,
        nationality=full.nationality,
        foreign_category=full.foreign_category,
        residence_status=full.residence_status if card else None,
        period_of_stay=full.period_of_stay if card else None,
        stay_expires_on=full.stay_expires_on if card else None,
        residence_card_no=full.residence_card_no if card else None,
        status=STATUS_LABELS[record.status],
        removal_reason=full.removal_reason,
        removed_on=None if record.removed_on is None else date_out(record.removed_on, None, eras),
        move_out_destination=full.move_out_destination,
    )


def pages(
    body: CertificateIn, records: Sequence[PersonRecord], town: str, eras: tuple[Era, ...], reveal: bool
) -> list[CertificatePageOut]:
    """The certificate pages: one household, or one page per person, in print order."""

    def page(members: Sequence[PersonRecord]) -> CertificatePageOut:
        first = members[0]
        return CertificatePageOut(
            household_no=first.household_no,
            head_name=first.head_name if body.items.household else None,
            address=first.full_address(town),
            persons=[person_out(r, town, eras, body.items, reveal_my_number=reveal) for r in members],
        )

    if body.style is CertificateStyle.HOUSEHOLD:
        return [page(records)]
    return [page([r]) for r in records]


def certificate_out(
    issue: CertificateIssue,
    body: CertificateIn,
    records: Sequence[PersonRecord],
    *,
    town: str,
    certifier: str,
    eras: tuple[Era, ...],
    issued_on: dt.date,
    reveal_my_number: bool,
) -> CertificateOut:
    """The content answered for an issuance just recorded."""
    return CertificateOut(
        issue_no=issue.issue_no,
        issued_at=issue.issued_at,
        issued_on=format_wareki(issued_on, eras),
        type=body.type.value,
        type_label=TYPE_LABELS[body.type],
        style=body.style.value,
        style_label=STYLE_LABELS[body.style],
        items=list(issue.items),
        item_labels=[ITEM_LABELS[name] for name in issue.items],
        copies=issue.copies,
        town=town,
        certifier=certifier,
        attestation=ATTESTATION[body.type],
        requester_category=body.requester.category.value,
        requester_category_label=CATEGORY_LABELS[body.requester.category],
        requester_name=body.requester.name,
        deliver_by_mail=deliver_by_mail(body),
        overridden=issue.override_reason is not None,
        pages=pages(body, records, town, eras, reveal_my_number),
    )


class CertificateIssueOut(BaseModel):
    """A row of the issuance log (交付履歴)."""

    issue_no: int
    issued_at: dt.datetime
    type: str
    type_label: str
    style: str
    subjects: list[str]
    items: list[str]
    copies: int
    requester_category: str
    requester_name: str
    requester_atena_no: str | None
    purpose: str | None
    actor: str
    role: str | None
    override_reason: str | None
    overridden_measures: list[int]


def issue_out(issue: CertificateIssue) -> CertificateIssueOut:
    """Serialise a log row."""
    kind = CertificateType(issue.certificate_type)
    return CertificateIssueOut(
        issue_no=issue.issue_no,
        issued_at=issue.issued_at,
        type=kind.value,
        type_label=TYPE_LABELS[kind],
        style=issue.style,
        subjects=list(issue.subjects),
        items=list(issue.items),
        copies=issue.copies,
        requester_category=issue.requester_category,
        requester_name=issue.requester_name,
        requester_atena_no=issue.requester_atena_no,
        purpose=issue.purpose,
        actor=issue.actor,
        role=issue.role,
        override_reason=issue.override_reason,
        overridden_measures=list(issue.overridden_measures),
    )
