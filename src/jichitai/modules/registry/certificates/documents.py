"""Certificates on paper: the print, the 再交付, the public QR check and the daily issuance summary.

Signatures (the API routes and the counter screens call these; each is one transaction or a plain read):

- ``certificate_pdf(uow, tenant, issue_no, *, actor, reissue=False, base_url="") -> bytes``
- ``print_certificate(…same…) -> PrintedCertificate`` (the PDF with the 発行番号 it was printed under)
- ``verify_certificate(session, code) -> Verification | None``
- ``issuance_summary(session, tenant, day) -> IssuanceSummaryOut``
- ``fees_on(session, tenant, day) -> dict[CertificateType, int | None]``

The print rule: an issuance (``request_certificate``) is printed once, and that first print is part of it
(``reissue=False``; it stamps ``printed_at`` and appends one ``registry:certificate:print`` entry per person).
Every later print is a **再交付** (``reissue=True``): a new 交付履歴 row with its own 発行番号 and
verification code, ``reissue_of`` = the original's 発行番号 (a reissue of a reissue points at the same
original), the original content unchanged, marked 再交付 with the day of the reissue, no fee (the fee was
charged with the original), and one ``registry:certificate:reissue`` entry per person. Asking for a first
print again is refused (``certificate_already_printed``), and so is a 再交付 of a certificate never printed
(``certificate_not_printed``).

A print discloses the content (again, for a 再交付), and a 支援措置 may have started since the issuance, so
both are checked against the measures in force on the day of the print, for the original requester (the
certificate is handed to them):

- while a measure protects a subject, the print is refused (``support_measure_block``) unless that measure
  was already lifted for the original issuance or the original requester is the protected person (or of
  the same application), as verified by a 本人/同一世帯 request; a new request then goes through the full
  check, override included;
- while a measure protects anyone whose address the certificate reveals — a subject, a member of a
  subject's 世帯, anyone at a subject's 住所, as printed or as registered today (:mod:`.disclosure`) — and
  names the original requester as 相手方 (by 宛名番号 or name; the requester's birth date is not kept, so a
  namesake is refused too), the print is refused (``counterparty_request``) and nothing lifts it. A measure
  lifted for the issuance is not checked again: its 相手方 check was made then.

A refused print writes one ``denied`` audit entry (``registry:certificate:print`` or ``…:reissue``) per
protected person, commits it, and prints nothing.

A certificate printing 個人番号 is printed only for a caller who may see 個人番号
(``my_number_not_permitted``). Without the MJ font nothing is printed (``certificate_font_missing``, 503);
the issuance itself stays recorded, unprinted, and its warnings said so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jichitai.modules.registry.certificates import disclosure
from jichitai.modules.registry.certificates import rules as certificates
from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.certificates.pdf import PrintInfo, render_pdf
from jichitai.modules.registry.certificates.rules import CertificateOut
from jichitai.modules.registry.certificates.services import new_verify_code
from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.models import SupportMeasure
from jichitai.modules.registry.support.schemas import CertificateType
from jichitai.modules.registry.support.services import group_of, measures_in_force, protections_of
from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, utcnow
from jichitai.platform.errors import Conflict, Forbidden, NotFound
from jichitai.platform.jp import JpValueError, format_wareki
from jichitai.platform.tenancy import Municipality, Tenant, declare, next_numbers, settings_on

PRINT = Action.CERTIFICATE_PRINT
REISSUE = Action.CERTIFICATE_REISSUE
VERIFY_CODE = re.compile(r"^[0-9]{6}[A-Z2-7]{24}$")


@dataclass(frozen=True)
class PrintedCertificate:
    """A printed certificate: the PDF and the 発行番号 it carries (a new one for a 再交付)."""

    pdf: bytes
    issue_no: int
    reissue_of: int | None


@dataclass(frozen=True)
class Verification:
    """All the public check tells: the certificate exists, its issue date and the issuing town."""

    issued_on: dt.date
    issued_on_label: str
    town: str


def _issue(uow: UnitOfWork, tenant: Tenant, issue_no: int) -> tuple[CertificateIssue, CertificateOut]:
    # Locked (PostgreSQL) so that two clerks printing the same issuance cannot both make its first print;
    # the lock covers that one row only, and SQLite's single writer already serialises the two.
    issue = uow.session.scalar(
        select(CertificateIssue)
        .where(CertificateIssue.lg_code == tenant.lg_code, CertificateIssue.issue_no == issue_no)
        .with_for_update()
    )
    if issue is None:
        raise NotFound("交付履歴")
    if issue.content is None:
        raise Conflict(
            "certificate_content_missing",
            "この交付の内容は保存されていないため印刷できません (印刷機能の導入前の交付です)。",
        )
    return issue, CertificateOut.model_validate(issue.content)


def _check_my_number(content: CertificateOut, reveal_my_number: bool) -> None:
    if "my_number" in content.items and not reveal_my_number:
        raise Forbidden(
            "my_number_not_permitted",
            "個人番号を記載した証明書を印刷する権限がありません (利用目的とロールを確認してください)。",
        )


BLOCKED = {
    False: "対象者に支援措置がかかっているため印刷できません。改めて交付の請求を受け付けてください。",
    True: "対象者に支援措置がかかっているため再交付できません。改めて交付の請求を受け付けてください。",
}
COUNTERPARTY = {
    False: "この証明書は印刷できません (支援措置の相手方への交付になります)。この制限は解除できません。",
    True: "この証明書は再交付できません (支援措置の相手方への交付になります)。この制限は解除できません。",
}


def _refuse(
    uow: UnitOfWork,
    tenant: Tenant,
    issue: CertificateIssue,
    actor: Actor,
    reissue: bool,
    code: str,
    measures: Sequence[SupportMeasure],
) -> None:
    """Audit the refused print, one ``denied`` entry per protected person, and commit it."""
    about = {"reissue_of": issue.issue_no} if reissue else {"issue_no": issue.issue_no}
    entries = []
    for atena_no in sorted({m.atena_no for m in measures}):
        details: dict[str, object] = {
            "code": code,
            **about,
            "measure_nos": sorted(m.measure_no for m in measures if m.atena_no == atena_no),
        }
        if atena_no not in issue.subjects:
            details["co_resident_of"] = list(issue.subjects)
        entries.append(
            actor.entry(REISSUE if reissue else PRINT, subject=atena_no, outcome="denied", details=details)
        )
    append_entries(uow.session, tenant, entries)
    uow.commit()


def _check_disclosure(
    uow: UnitOfWork,
    tenant: Tenant,
    issue: CertificateIssue,
    content: CertificateOut,
    actor: Actor,
    reissue: bool,
) -> None:
    """Refuse (and audit) a print or 再交付 a 支援措置 now forbids; see the module docstring."""
    session = uow.session
    today = today_jst()
    subjects = list(issue.subjects)
    registered = [queries.current_record(session, tenant, a) for a in subjects]
    places = disclosure.places_of(registered) | disclosure.places_in(content)
    others = disclosure.nearby(session, tenant, subjects, places)
    found = measures_in_force(session, tenant, subjects + others, today)
    lifted = set(issue.overridden_measures)
    own: set[frozenset[int]] = set()
    # Only a 本人/同一世帯 request had its 宛名番号 checked against the register (others may write any).
    if found and issue.requester_atena_no is not None and issue.requester_category in certificates.OWN_RECORD:
        own = {group_of(m) for m in measures_in_force(session, tenant, [issue.requester_atena_no], today)}
    blocking = [
        m for m in found if m.atena_no in subjects and m.measure_no not in lifted and group_of(m) not in own
    ]
    if blocking:
        _refuse(uow, tenant, issue, actor, reissue, rules.BLOCK_CODE, blocking)
        raise Forbidden(rules.BLOCK_CODE, BLOCKED[reissue])
    # The requester as the issuance recorded them: the name and the 宛名番号 given (no birth date is kept).
    requester = rules.Requester(issue.requester_name, issue.requester_atena_no)
    open_measures = [m for m in found if m.measure_no not in lifted]
    protections = protections_of(session, tenant, open_measures)
    named = {p.measure_no for p in protections if rules.is_counterparty(requester, p.counterparty)}
    if named:
        _refuse(
            uow,
            tenant,
            issue,
            actor,
            reissue,
            rules.COUNTERPARTY_CODE,
            [m for m in found if m.measure_no in named],
        )
        raise Forbidden(rules.COUNTERPARTY_CODE, COUNTERPARTY[reissue], "requester")


def _reissue_row(
    uow: UnitOfWork, tenant: Tenant, original: CertificateIssue, actor: Actor
) -> CertificateIssue:
    root = original.reissue_of if original.reissue_of is not None else original.issue_no
    row = CertificateIssue(
        lg_code=tenant.lg_code,
        issue_no=next_numbers(uow.session, tenant, "certificate_issue")[0],
        certificate_type=original.certificate_type,
        style=original.style,
        subjects=list(original.subjects),
        items=list(original.items),
        copies=1,
        requester_category=original.requester_category,
        requester_name=original.requester_name,
        requester_atena_no=original.requester_atena_no,
        purpose=original.purpose,
        actor=actor.name,
        role=actor.role,
        request_id=actor.request_id,
        override_reason=original.override_reason,
        overridden_measures=list(original.overridden_measures),
        issued_on=today_jst(),
        content=original.content,
        verify_code=new_verify_code(tenant),
        fee_yen=0,
        reissue_of=root,
        missing_glyphs=original.missing_glyphs,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def print_certificate(
    uow: UnitOfWork,
    tenant: Tenant,
    issue_no: int,
    *,
    actor: Actor,
    reveal_my_number: bool,
    reissue: bool = False,
    base_url: str = "",
) -> PrintedCertificate:
    """Print an issuance (its first print) or a 再交付 of it; one transaction with its audit entries.

    ``base_url`` (e.g. ``https://jichitai.example.jp``) prefixes the ``/verify/{code}`` address of the QR.
    """
    issue, content = _issue(uow, tenant, issue_no)
    _check_my_number(content, reveal_my_number)
    if not reissue and issue.printed_at is not None:
        raise Conflict(
            "certificate_already_printed",
            "この証明書は印刷済みです。もう一度印刷するときは再交付してください (交付履歴に残ります)。",
        )
    if reissue and issue.printed_at is None:
        raise Conflict(
            "certificate_not_printed", "この証明書はまだ印刷されていません。再交付ではなく印刷してください。"
        )
    _check_disclosure(uow, tenant, issue, content, actor, reissue)
    printed = _reissue_row(uow, tenant, issue, actor) if reissue else issue
    eras = load_eras(uow.session)
    # Both are set on every row since schema 0011 (older rows have no content and were refused above).
    assert printed.verify_code is not None
    assert printed.issued_on is not None
    info = PrintInfo(
        issue_no=printed.issue_no,
        verify_url=f"{base_url.rstrip('/')}/verify/{printed.verify_code}",
        reissue_of=printed.reissue_of,
        reissued_on=format_wareki(printed.issued_on, eras) if reissue else None,
    )
    pdf = render_pdf(content, info)  # before any write: no font, no print recorded
    printed.printed_at = utcnow()
    details: dict[str, object] = {"issue_no": printed.issue_no, "certificate_type": printed.certificate_type}
    if reissue:
        details["reissue_of"] = printed.reissue_of
    append_entries(
        uow.session,
        tenant,
        [actor.entry(REISSUE if reissue else PRINT, subject=a, details=details) for a in printed.subjects],
    )
    uow.commit()
    return PrintedCertificate(pdf, printed.issue_no, printed.reissue_of)


def certificate_pdf(
    uow: UnitOfWork,
    tenant: Tenant,
    issue_no: int,
    *,
    actor: Actor,
    reissue: bool = False,
    reveal_my_number: bool = False,
    base_url: str = "",
) -> bytes:
    """The PDF of :func:`print_certificate` (first print, or a 再交付 with ``reissue=True``)."""
    return print_certificate(
        uow,
        tenant,
        issue_no,
        actor=actor,
        reveal_my_number=reveal_my_number,
        reissue=reissue,
        base_url=base_url,
    ).pdf


def verify_certificate(session: Session, code: str) -> Verification | None:
    """The public QR check: the issue date and town of the certificate with this code, or None.

    The code starts with the town's 全国地方公共団体コード, so the lookup stays within one town's rows.
    Nothing about the person is read.
    """
    code = code.strip().upper()
    if not VERIFY_CODE.match(code):
        return None
    declare(session, code[:6])  # the one town the code names (row-level security, PostgreSQL)
    issue = session.scalar(
        select(CertificateIssue).where(
            CertificateIssue.lg_code == code[:6], CertificateIssue.verify_code == code
        )
    )
    town = session.get(Municipality, code[:6])
    if issue is None or issue.issued_on is None or town is None:
        return None
    label = format_wareki(issue.issued_on, load_eras(session))
    return Verification(issue.issued_on, label, f"{town.prefecture}{town.name}")


def fees_on(session: Session, tenant: Tenant, day: dt.date) -> dict[CertificateType, int | None]:
    """The fee of one copy of each certificate type on ``day`` (None: the town has set none)."""
    settings = settings_on(session, tenant, day)
    return {kind: certificates.fee_per_copy(kind, settings) for kind in CertificateType}


def issuance_summary(session: Session, tenant: Tenant, day: dt.date) -> certificates.IssuanceSummaryOut:
    """The day's issuances by type: certificates, copies, 再交付, fees charged, and those not yet printed."""
    rows: Sequence[tuple[str, bool, int, int, int, int, int]] = session.execute(
        select(
            CertificateIssue.certificate_type,
            CertificateIssue.reissue_of.is_not(None),
            func.count(),
            func.coalesce(func.sum(CertificateIssue.copies), 0),
            func.coalesce(func.sum(CertificateIssue.fee_yen), 0),
            func.count(CertificateIssue.fee_yen),
            func.count(CertificateIssue.printed_at),
        )
        .where(CertificateIssue.lg_code == tenant.lg_code, CertificateIssue.issued_on == day)
        .group_by(CertificateIssue.certificate_type, CertificateIssue.reissue_of.is_not(None))
    ).all()  # type: ignore[assignment]
    try:
        label = format_wareki(day, load_eras(session))
    except JpValueError:
        label = day.isoformat()  # before 明治: no issuance can fall on it, the summary is simply empty
    return certificates.summary_out(day, label, fees_on(session, tenant, day), rows)
