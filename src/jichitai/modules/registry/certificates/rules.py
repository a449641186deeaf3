"""Certificates (住民票の写し, 住民票記載事項証明書, 除票の写し, 転出証明書): who may have which items, and
the content to print.

The content is structured JSON, kept with the issuance so that a reprint shows exactly what was issued;
:mod:`jichitai.modules.registry.certificates.pdf` renders it. What is decided here is the law of the content
(domain.md §3.1-3.2):

- optional items (世帯主・続柄, 本籍・筆頭者, 住民票コード, 個人番号, 在留カード等) are printed only when
  asked;
- 個人番号 and 住民票コード only for the person or a member of the same household (法12条), or a proxy, whose
  copy is then mailed to the person's registered address rather than handed over; never for third parties,
  特定事務受任者 or public bodies (住基法12条の2-3, 番号法19条);
- third parties, 特定事務受任者 and public bodies state the purpose (請求事由);
- 世帯連記式 prints one household: every subject must be of the same 世帯;
- the 手数料 of each type is a dated per-town setting (:data:`FEE_KEYS`); a 転出証明書 is free unless the
  town sets a fee, the others have no default (an unset fee is reported, never guessed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.records.models import SEX_LABELS, STATUS_LABELS, PersonRecord, ResidentKind
from jichitai.modules.registry.records.responses import DateOut, date_out, record_out
from jichitai.modules.registry.records.rules import Member, certificate_order
from jichitai.modules.registry.support.schemas import (
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
    CertificateType.RECORD_ENTRIES: "住民票記載事項証明書",
    CertificateType.REMOVED_RECORD: "除票の写し",
    CertificateType.MOVE_OUT: "転出証明書",
}
FEE_KEYS = {
    CertificateType.RESIDENT_RECORD: "fee_juminhyo",
    CertificateType.RECORD_ENTRIES: "fee_kisai_jiko",
    CertificateType.REMOVED_RECORD: "fee_joshuhyo",
    CertificateType.MOVE_OUT: "fee_tenshutsu",
}
"""The per-town setting (declared in module.py) holding each type's fee per copy, in yen."""
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
    CertificateType.RECORD_ENTRIES: "上記の事項は、住民票に記載されていることを証明する。",
    CertificateType.REMOVED_RECORD: "この写しは、除票の原本と相違ないことを証明する。",
    CertificateType.MOVE_OUT: "上記の者は、転出の届出をしたことを証明する。",
}
DOMESTIC_MOVE_OUT = "国内転出"
"""The 異動事由 of a 除票 for which a 転出証明書 can be issued (a move abroad gets none, 法24条)."""

OWN_RECORD = frozenset({RequesterCategory.SELF, RequesterCategory.HOUSEHOLD})
"""Categories whose 宛名番号 is checked against the register: the person or the same household (法12条)."""
NUMBER_ITEMS = ("juminhyo_code", "my_number")
NUMBER_CATEGORIES = OWN_RECORD | {RequesterCategory.PROXY}
PURPOSE_REQUIRED = frozenset(
    {RequesterCategory.THIRD_PARTY, RequesterCategory.PROFESSIONAL, RequesterCategory.PUBLIC_BODY}
)


def fee_per_copy(kind: CertificateType, settings: dict[str, Any]) -> int | None:
    """The fee of one copy from the settings in force on the day, or None when the town set none."""
    value = settings.get(FEE_KEYS[kind])
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        fee = int(value)
    except ValueError:
        return None
    return fee if fee >= 0 else None


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


class CertificateWarning(BaseModel):
    """A problem that does not refuse the issuance but must be shown on the certificate screen."""

    code: str
    message: str


class CertificatePersonOut(BaseModel):
    """One person as printed; optional items are null when not asked for (or not applicable)."""

    atena_no: str
    name: str
    kana: str
    kana_confirmed: bool = False
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
    entitlements: list[str] | None = None
    """転出証明書: the 国保・後期高齢者医療・介護保険・国民年金・児童手当 items the new town needs."""


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
    issued_on_iso: dt.date | None = None
    fee_per_copy: int | None = None
    """手数料 of one copy on the issue day (yen); null when the town has set none."""
    fee_yen: int | None = None
    """手数料 charged: per copy × copies (0 for a 再交付)."""
    verify_code: str | None = None
    """Code of the public verification page ``/verify/{code}`` printed as a QR code."""
    reissue_of: int | None = None
    warnings: list[CertificateWarning] = Field(default_factory=list)
    """What the counter must see before printing: glyphs the font lacks, the font itself, an unset fee."""


def entitlement_lines(record: PersonRecord, eras: tuple[Era, ...]) -> list[str]:
    """The 法7条 items of a 転出証明書 (施行令23条), one printable line each."""

    def since(day: dt.date | None) -> str:
        return "" if day is None else f" (資格取得 {format_wareki(day, eras)})"

    def flag(label: str, qualified: bool, acquired: dt.date | None) -> str:
        return f"{label}: 被保険者{since(acquired)}" if qualified else f"{label}: 該当なし"

    lines = [
        flag("国民健康保険", record.nhi_qualified, record.nhi_acquired_on),
        flag("後期高齢者医療", record.late_elderly_qualified, record.late_elderly_acquired_on),
        flag("介護保険", record.ltc_qualified, record.ltc_acquired_on),
    ]
    if record.pension_qualified:
        number = f" 基礎年金番号 {record.basic_pension_no}" if record.basic_pension_no else ""
        lines.append(
            f"国民年金: {record.pension_category or '被保険者'}{number}{since(record.pension_acquired_on)}"
        )
    else:
        lines.append("国民年金: 該当なし")
    if record.child_allowance_from:
        lines.append(f"児童手当: 支給開始 {record.child_allowance_from.replace('-', '年')}月")
    else:
        lines.append("児童手当: 該当なし")
    return lines


def person_out(
    record: PersonRecord,
    town: str,
    eras: tuple[Era, ...],
    items: Items,
    *,
    reveal_my_number: bool,
    entitlements: bool = False,
) -> CertificatePersonOut:
    """The printed items of one record; dates in 和暦 (西暦 for foreign residents' birth and 在留期限)."""
    full = record_out(record, town, eras, reveal_my_number=reveal_my_number)
    foreign = record.kind is ResidentKind.FOREIGN
    card = items.residence_card and foreign
    return CertificatePersonOut(
        atena_no=full.atena_no,
        name=full.name,
        kana=f"{record.family_kana}　{record.given_kana}".strip("　"),
        kana_confirmed=record.kana_confirmed,
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
        entitlements=entitlement_lines(record, eras) if entitlements else None,
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
            persons=[
                person_out(
                    r,
                    town,
                    eras,
                    body.items,
                    reveal_my_number=reveal,
                    entitlements=body.type is CertificateType.MOVE_OUT,
                )
                for r in members
            ],
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
    fee_per_copy: int | None = None,
) -> CertificateOut:
    """The content answered for an issuance just recorded (and kept with it for reprints)."""
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
        issued_on_iso=issued_on,
        fee_per_copy=fee_per_copy,
        fee_yen=issue.fee_yen,
        verify_code=issue.verify_code,
        reissue_of=issue.reissue_of,
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
    issued_on: dt.date | None = None
    fee_yen: int | None = None
    reissue_of: int | None = None
    printed_at: dt.datetime | None = None
    missing_glyphs: list[str] = Field(default_factory=list)


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
        issued_on=issue.issued_on,
        fee_yen=issue.fee_yen,
        reissue_of=issue.reissue_of,
        printed_at=issue.printed_at,
        missing_glyphs=list(issue.missing_glyphs or []),
    )


# --- daily issuance summary ------------------------------------------------------------------------------


class SummaryLineOut(BaseModel):
    """One certificate type on one day."""

    type: str
    type_label: str
    fee_per_copy: int | None
    """手数料 of one copy in force that day (null: not set by the town)."""
    issues: int
    """Issuances (交付), 再交付 not counted."""
    copies: int
    reissues: int
    fee_yen: int
    """手数料 charged that day (再交付 are free)."""
    fee_unset: int
    """Issuances recorded without a fee because none was set."""
    unprinted: int
    """Issuances recorded but not printed (yet)."""


class IssuanceSummaryOut(BaseModel):
    """The daily issuance summary (交付件数・手数料日計)."""

    day: dt.date
    day_label: str
    lines: list[SummaryLineOut]
    issues: int
    copies: int
    reissues: int
    fee_yen: int


def summary_out(
    day: dt.date,
    day_label: str,
    fees: dict[CertificateType, int | None],
    rows: Sequence[tuple[str, bool, int, int, int, int, int]],
) -> IssuanceSummaryOut:
    """Fold the grouped rows (type, is reissue, count, copies, fees, fees set, printed) into the summary."""
    lines = []
    for kind in CertificateType:
        mine = [r for r in rows if r[0] == kind.value]
        first = [r for r in mine if not r[1]]
        lines.append(
            SummaryLineOut(
                type=kind.value,
                type_label=TYPE_LABELS[kind],
                fee_per_copy=fees[kind],
                issues=sum(r[2] for r in first),
                copies=sum(int(r[3]) for r in first),
                reissues=sum(r[2] for r in mine if r[1]),
                fee_yen=sum(int(r[4]) for r in mine),
                fee_unset=sum(r[2] - r[5] for r in first),
                unprinted=sum(r[2] - r[6] for r in mine),
            )
        )
    return IssuanceSummaryOut(
        day=day,
        day_label=day_label,
        lines=lines,
        issues=sum(line.issues for line in lines),
        copies=sum(line.copies for line in lines),
        reissues=sum(line.reissues for line in lines),
        fee_yen=sum(line.fee_yen for line in lines),
    )
