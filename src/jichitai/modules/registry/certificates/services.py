"""Use case of the counter: a certificate request, checked against the DV等支援措置 of every subject.

Printing, 再交付, the QR check and the daily summary are in :mod:`.certificate_documents`.

Order of checks: the body against the law and the clerk's rights (nothing read, nothing written), then the
支援措置 of the persons asked for and of everyone whose address the certificate would reveal (their 世帯, and
everyone at the same 住所: :mod:`.disclosure`), and only then whether they fit the certificate (住民/除票,
one household) and whether a claimed 本人/同一世帯 holds, so a blocked request learns nothing about the
person. A co-resident's measure refuses the request of its 相手方 only (``counterparty_request``, which no
override lifts); it does not otherwise restrict the certificate of the persons living with them.

A request the block refuses writes its ``denied`` audit entries (one per protected person: a subject, or
a co-resident the certificate would have revealed) and commits them before raising (the attempt itself is
the evidence the 事務処理要領 wants kept) and writes nothing else. A request that passes,
or that the responsible officer lets through with a reason, writes the 交付履歴 row and one audit entry per
person (outcome ``ok`` or ``override``) in one transaction. The row keeps the content as issued (for the
print and any 再交付), the business day, the fee of the day (per copy × copies, from the town's dated
setting), a fresh verification code for the QR check, and the glyphs the certificate font lacks; the answer
carries ``warnings`` the screen must show before printing (a glyph the font lacks, the font itself missing,
no fee set).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.modules.registry.certificates import disclosure
from jichitai.modules.registry.certificates import rules as certificates
from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.certificates.pdf import glyph_warnings
from jichitai.modules.registry.certificates.rules import CertificateOut, CertificateWarning
from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.models import PersonRecord, ResidentStatus, current_only
from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.schemas import (
    CertificateIn,
    CertificateStyle,
    CertificateType,
    RequesterCategory,
)
from jichitai.modules.registry.support.services import group_of, measures_in_force, protections_of
from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import Conflict, DomainError, InvalidInput, NotFound
from jichitai.platform.jp import JpValueError, parse_date
from jichitai.platform.tenancy import Tenant, get_municipality, next_numbers, settings_on

ACTION = Action.CERTIFICATE_ISSUE


REMOVED_TYPES = frozenset({CertificateType.REMOVED_RECORD, CertificateType.MOVE_OUT})
"""Certificates of 除票 (persons no longer residents); the others are of current residents."""


def new_verify_code(tenant: Tenant) -> str:
    """The town's code and 120 random bits in base32: routable to the town, unguessable, not the 発行番号."""
    return tenant.lg_code + base64.b32encode(secrets.token_bytes(15)).decode("ascii")


def _removed_members(session: Session, tenant: Tenant, household_no: str) -> list[PersonRecord]:
    stmt = select(PersonRecord).where(
        PersonRecord.lg_code == tenant.lg_code,
        PersonRecord.household_no == household_no,
        current_only(),
        PersonRecord.status != ResidentStatus.RESIDENT,
    )
    return certificates.print_order(list(session.scalars(stmt)))


def load_subjects(session: Session, tenant: Tenant, body: CertificateIn) -> list[PersonRecord]:
    """The records asked for; nothing about them is judged yet, so that the 支援措置 is checked first."""
    if body.household_no is not None:
        try:
            queries.get_household(session, tenant, body.household_no)
        except NotFound as exc:
            raise NotFound("世帯", "household_no") from exc
        if body.type in REMOVED_TYPES:
            records = _removed_members(session, tenant, body.household_no)
        else:
            records = queries.household_members(session, tenant, body.household_no)
        if not records:
            raise Conflict("household_empty", "この世帯には対象となる方がいません。", "household_no")
        return records
    assert body.atena_nos is not None  # one of the two, checked by certificates.check_request
    if len(set(body.atena_nos)) != len(body.atena_nos):
        raise InvalidInput("duplicate_person", "同じ方が複数回指定されています。", "atena_nos")
    records = []
    for i, atena_no in enumerate(body.atena_nos):
        try:
            records.append(queries.current_record(session, tenant, atena_no))
        except NotFound as exc:
            raise NotFound("住民", f"atena_nos[{i}]") from exc
    return records


def check_subjects(body: CertificateIn, records: Sequence[PersonRecord]) -> list[PersonRecord]:
    """Each record is of the kind the certificate is for; a 世帯連記式 holds one household, in print order.

    Checked only after the 支援措置, so that a blocked request never learns whether the person moved out.
    """
    removed = body.type in REMOVED_TYPES
    for i, record in enumerate(records):
        if removed and record.status is ResidentStatus.RESIDENT:
            raise Conflict(
                "not_removed",
                "住民の方の除票の写し・転出証明書はありません。住民票の写しを請求してください。",
                f"atena_nos[{i}]",
            )
        if not removed and record.status is not ResidentStatus.RESIDENT:
            raise Conflict("not_a_resident", "除票の方は、除票の写しを請求してください。", f"atena_nos[{i}]")
        if body.type is CertificateType.MOVE_OUT and record.removal_reason != certificates.DOMESTIC_MOVE_OUT:
            raise Conflict(
                "not_moved_out",
                "転出証明書は、国内への転出の届出をした方にだけ発行できます。除票の写しを請求してください。",
                f"atena_nos[{i}]",
            )
    if body.style is CertificateStyle.INDIVIDUAL:
        return list(records)
    if len({r.household_no for r in records}) > 1:
        raise InvalidInput(
            "mixed_households",
            "世帯連記式は1つの世帯の方だけを記載できます。個人票を選んでください。",
            "atena_nos",
        )
    return certificates.print_order(records)


def _requester(
    session: Session, tenant: Tenant, body: CertificateIn, records: Sequence[PersonRecord]
) -> tuple[rules.Requester, DomainError | None]:
    """The requester as the rules see them, and why a claimed 本人/同一世帯 does not hold if it does not.

    An unverified claim counts as "someone else" for the 支援措置 check; its error is raised after that check.
    """
    given = body.requester
    birth = None
    if given.birth_date is not None:
        try:
            birth = parse_date(given.birth_date, load_eras(session))
        except JpValueError as exc:
            raise InvalidInput(exc.code, exc.message, "requester.birth_date") from exc
    problem: DomainError | None = None
    if given.category in certificates.OWN_RECORD and given.atena_no is not None:
        try:
            own = queries.current_record(session, tenant, given.atena_no)
            if given.category is RequesterCategory.HOUSEHOLD and own.status is not ResidentStatus.RESIDENT:
                raise InvalidInput(
                    "requester_not_in_household",
                    "請求者は現在この市区町村の住民ではありません。",
                    "requester.atena_no",
                )
            certificates.check_requester_household(given.category, own, records)
        except NotFound:
            problem = NotFound("請求者", "requester.atena_no")
        except DomainError as error:
            problem = error
    verified = given.category in certificates.OWN_RECORD and problem is None
    return rules.Requester(given.name, given.atena_no, birth, verified=verified), problem


@dataclass(frozen=True)
class Verdicts:
    """The decisions of a request: one per subject, and one per co-resident whose measure names the
    requester as 相手方 (:func:`rules.judge_nearby`)."""

    subjects: list[rules.Verdict]
    nearby: list[rules.Verdict]

    def all(self) -> list[rules.Verdict]:
        """Subjects first, then co-residents."""
        return [*self.subjects, *self.nearby]


def _verdicts(
    session: Session,
    tenant: Tenant,
    body: CertificateIn,
    records: Sequence[PersonRecord],
    requester: rules.Requester,
    may_override: bool,
) -> Verdicts:
    today = today_jst()
    atena_nos = [r.atena_no for r in records]
    others = disclosure.nearby(session, tenant, atena_nos, disclosure.places_of(records))
    protections = protections_of(
        session, tenant, measures_in_force(session, tenant, atena_nos + others, today)
    )
    groups: list[frozenset[int]] = []
    if protections and requester.verified and requester.atena_no is not None:
        groups = [group_of(m) for m in measures_in_force(session, tenant, [requester.atena_no], today)]
    reason = body.override.reason if body.override is not None else None
    subjects = [
        rules.judge(a, protections, requester, groups, may_override=may_override, override_reason=reason)
        for a in atena_nos
    ]
    nearby = [rules.judge_nearby(a, protections, requester) for a in others]
    return Verdicts(subjects, [v for v in nearby if v.outcome is rules.Outcome.DENIED])


def _deny(uow: UnitOfWork, tenant: Tenant, body: CertificateIn, verdicts: Verdicts, actor: Actor) -> None:
    """Keep the refused attempt: one ``denied`` entry per blocked person, committed on its own."""
    asked = [v.atena_no for v in verdicts.subjects]
    entries = []
    for v in verdicts.all():
        if v.outcome is not rules.Outcome.DENIED:
            continue
        details: dict[str, Any] = {
            "code": v.code,
            "certificate_type": body.type.value,
            "requester_category": body.requester.category.value,
            "requester_name": body.requester.name,
            "measure_nos": list(v.measure_nos),
            "override_requested": body.override is not None,
        }
        if v.atena_no not in asked:
            details["co_resident_of"] = asked  # not asked for: the certificate would reveal where they live
        entries.append(actor.entry(ACTION, subject=v.atena_no, outcome="denied", details=details))
    append_entries(uow.session, tenant, entries)
    uow.commit()


def _issue_details(facts: dict[str, Any], verdict: rules.Verdict, reason: str | None) -> dict[str, Any]:
    details = dict(facts)
    if verdict.measure_nos:
        details["measure_nos"] = list(verdict.measure_nos)
    if verdict.outcome is rules.Outcome.OVERRIDE:
        details["override_reason"] = reason
    return details


def request_certificate(
    uow: UnitOfWork,
    tenant: Tenant,
    body: CertificateIn,
    *,
    actor: Actor,
    principal_may_override: bool,
    reveal_my_number: bool,
) -> CertificateOut:
    """Issue a 住民票の写し or 除票の写し, or refuse it (see the module docstring for what is written)."""
    certificates.check_request(body, reveal_my_number=reveal_my_number)
    session = uow.session
    asked = load_subjects(session, tenant, body)
    requester, problem = _requester(session, tenant, body, asked)
    judged = _verdicts(session, tenant, body, asked, requester, principal_may_override)
    error = rules.refusal(judged.all())
    if error is not None:
        _deny(uow, tenant, body, judged, actor)
        raise error
    if problem is not None:
        raise problem
    records = check_subjects(body, asked)
    by_no = {v.atena_no: v for v in judged.subjects}
    verdicts = [by_no[r.atena_no] for r in records]
    overridden = sorted({n for v in verdicts if v.outcome is rules.Outcome.OVERRIDE for n in v.measure_nos})
    items = certificates.chosen_items(body.items)
    today = today_jst()
    settings = settings_on(session, tenant, today)
    fee = certificates.fee_per_copy(body.type, settings)
    issue = CertificateIssue(
        lg_code=tenant.lg_code,
        issue_no=next_numbers(session, tenant, "certificate_issue")[0],
        certificate_type=body.type.value,
        style=body.style.value,
        subjects=[r.atena_no for r in records],
        items=items,
        copies=body.copies,
        requester_category=body.requester.category.value,
        requester_name=body.requester.name,
        requester_atena_no=body.requester.atena_no,
        purpose=body.purpose,
        actor=actor.name,
        role=actor.role,
        request_id=actor.request_id,
        override_reason=body.override.reason if overridden and body.override is not None else None,
        overridden_measures=overridden,
        issued_on=today,
        verify_code=new_verify_code(tenant),
        fee_yen=None if fee is None else fee * body.copies,
    )
    session.add(issue)
    session.flush()
    facts = {
        "issue_no": issue.issue_no,
        "certificate_type": body.type.value,
        "style": body.style.value,
        "items": items,
        "copies": body.copies,
        "requester_category": body.requester.category.value,
    }
    append_entries(
        session,
        tenant,
        [
            actor.entry(
                ACTION,
                subject=v.atena_no,
                outcome=v.outcome.value,
                details=_issue_details(facts, v, issue.override_reason),
            )
            for v in verdicts
        ],
    )
    municipality = get_municipality(session, tenant.lg_code)
    certifier = "　".join(str(settings[k]) for k in ("mayor_title", "mayor_name") if settings.get(k))
    content = certificates.certificate_out(
        issue,
        body,
        records,
        town=f"{municipality.prefecture}{municipality.name}",
        certifier=certifier,
        eras=load_eras(session),
        issued_on=today,
        reveal_my_number=reveal_my_number,
        fee_per_copy=fee,
    )
    issue.content = content.model_dump(mode="json")
    missing, warnings = glyph_warnings(content)
    issue.missing_glyphs = missing
    if fee is None:
        warnings.append(
            CertificateWarning(
                code="fee_not_set",
                message=f"{content.type_label}の手数料が設定されていません "
                f"(設定項目 {certificates.FEE_KEYS[body.type]})。",
            )
        )
    content.warnings = warnings
    uow.commit()
    return content


def get_certificate_issue(
    uow: UnitOfWork, tenant: Tenant, issue_no: int, *, actor: Actor
) -> CertificateIssue:
    """One row of the issuance log; reading it is audited for each person it names."""
    issue = uow.session.get(CertificateIssue, (tenant.lg_code, issue_no))
    if issue is None:
        raise NotFound("交付履歴")
    append_entries(
        uow.session,
        tenant,
        [
            actor.entry(Action.CERTIFICATE_READ, subject=a, details={"issue_no": issue_no})
            for a in issue.subjects
        ],
    )
    uow.commit()
    return issue
