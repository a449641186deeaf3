"""Auditors' JSON API under ``/api/v1/municipalities/{lg_code}/audit``: the log, mass readers, verification.

Every route needs ``audit:log:read`` (checked by the :func:`require` dependency, which has also checked that
the principal belongs to the town). Reading the audit log is itself personal-data access and is recorded:
each answer appends one ``audit:log:read`` entry with the criteria and the number of entries returned, in
the same transaction as the read (DESIGN §3.3, §3.4).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from jichitai.platform.audit import AuditEntry, record_log_read
from jichitai.platform.audit_queries import (
    NIGHT_END,
    NIGHT_START,
    AuditFilter,
    list_entries,
    mass_readers,
    parse_time_bound,
    recorded_utc,
)
from jichitai.platform.audit_verify import Expectations, verify_town
from jichitai.platform.clock import JST
from jichitai.platform.db import UnitOfWork, utcnow
from jichitai.platform.names import Permission
from jichitai.platform.tenancy import Tenant, get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix="/api/v1/municipalities/{lg_code}/audit", tags=["監査"])

Auditor = Annotated[Principal, Depends(require(Permission.AUDIT_LOG_READ))]

TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"  # a date, optionally followed by a time and an offset
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
)
TIME_HELP = "日付 (JST の暦日) または日時 (オフセットなしは JST)"

Since = Annotated[
    str | None, Query(max_length=40, pattern=TIME_PATTERN, description=f"この時点以後 — {TIME_HELP}")
]
Until = Annotated[
    str | None,
    Query(
        max_length=40,
        pattern=TIME_PATTERN,
        description=f"この時点より前 (日付ならその日の終わりまで) — {TIME_HELP}",
    ),
]


class AuditEntryOut(BaseModel):
    """One entry of the chain; ``recorded_at`` in JST (+09:00)."""

    seq: int
    recorded_at: dt.datetime
    actor: str
    role: str | None
    purpose: str | None
    action: str
    subject: str | None = Field(description="対象 (宛名番号など)")
    request_id: str | None
    outcome: str
    details: dict[str, Any]
    entry_hash: str


class AuditEntryListOut(BaseModel):
    """A page of entries, newest first."""

    items: list[AuditEntryOut]
    page: int
    per_page: int
    has_next: bool


class MassReaderOut(BaseModel):
    """An actor over the threshold: record reads in the window and the number of different people read."""

    actor: str
    reads: int
    subjects: int


class MassReadsOut(BaseModel):
    """Actors with at least ``threshold`` reads in ``[since, until)``, most first."""

    since: dt.datetime
    until: dt.datetime
    threshold: int
    items: list[MassReaderOut]


class VerifyNoteOut(BaseModel):
    """Something the check could not do, or wants known (not a failure)."""

    code: str = Field(description="安定した英語のコード (no_head_expected, offsite_unreachable …)")
    message: str


class VerifyOut(BaseModel):
    """The chain check: ``first_bad`` is the first entry (or signed head) that fails, with the reason;
    a failure that names no entry (the signed heads were deleted) has ``ok`` false and ``first_bad`` null."""

    ok: bool
    checked: int = Field(description="検査した記録の件数")
    heads_checked: int = Field(description="検査した署名済みヘッドの件数")
    first_bad: int | None
    reason: str | None
    notes: list[VerifyNoteOut] = Field(description="検査できなかったこと・注意事項")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _expectations(request: Request) -> Expectations:
    expect: Expectations = request.app.state.audit_expectations
    return expect


def _entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        seq=entry.seq,
        recorded_at=recorded_utc(entry).astimezone(JST),
        actor=entry.actor,
        role=entry.role,
        purpose=entry.purpose,
        action=entry.action,
        subject=entry.subject,
        request_id=entry.request_id,
        outcome=entry.outcome,
        details=entry.details,
        entry_hash=entry.entry_hash,
    )


def _record_access(uow: UnitOfWork, tenant: Tenant, principal: Principal, details: dict[str, Any]) -> None:
    """Append the auditor's own access to the chain and commit it with the read."""
    record_log_read(uow, tenant, principal.as_actor(), details)


@router.get("/entries", response_model=AuditEntryListOut, summary="監査ログの検索")
def get_entries(
    lg_code: str,
    request: Request,
    principal: Auditor,
    subject: Annotated[str | None, Query(max_length=40, description="対象 (宛名番号など)")] = None,
    actor: Annotated[str | None, Query(max_length=100, description="操作した職員")] = None,
    action: Annotated[str | None, Query(max_length=60, description="操作 (前方一致、例: auth:login)")] = None,
    outcome: Annotated[str | None, Query(max_length=20, description="結果 (ok, denied …)")] = None,
    since: Since = None,
    until: Until = None,
    night_only: Annotated[bool, Query(description="夜間 (JST) の記録だけ")] = False,
    night_start: Annotated[int, Query(ge=0, le=23, description="夜間の開始時 (JST)")] = NIGHT_START,
    night_end: Annotated[
        int, Query(ge=0, le=23, description="夜間の終了時 (JST、この時を含まない)")
    ] = NIGHT_END,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditEntryListOut:
    """Entries newest first; every given criterion must match. Who read a person: ``subject`` = 宛名番号."""
    criteria = AuditFilter(
        subject=subject or None,
        actor=actor or None,
        action=action or None,
        outcome=outcome or None,
        since=parse_time_bound(since, end=False, field_name="since") if since else None,
        until=parse_time_bound(until, end=True, field_name="until") if until else None,
        night_only=night_only,
        night_start=night_start,
        night_end=night_end,
    )
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        result = list_entries(uow.session, tenant, criteria, page=page, per_page=per_page)
        out = AuditEntryListOut(
            items=[_entry_out(e) for e in result.items],
            page=result.page,
            per_page=result.per_page,
            has_next=result.has_next,
        )
        details = {"query": "entries", **criteria.describe(), "page": page, "count": len(out.items)}
        _record_access(uow, tenant, principal, details)
    return out


@router.get("/mass-reads", response_model=MassReadsOut, summary="大量閲覧の検出")
def get_mass_reads(
    lg_code: str,
    request: Request,
    principal: Auditor,
    since: Since = None,
    until: Until = None,
    threshold: Annotated[int, Query(ge=1, le=10_000_000, description="この件数以上の照会をした職員")] = 100,
) -> MassReadsOut:
    """Staff who read at least ``threshold`` records in the window (default: the last 24 hours)."""
    end = parse_time_bound(until, end=True, field_name="until") if until else utcnow()
    start = parse_time_bound(since, end=False, field_name="since") if since else end - dt.timedelta(days=1)
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        readers = mass_readers(uow.session, tenant, start, end, threshold)
        details = {
            "query": "mass_reads",
            "since": start.astimezone(dt.UTC).isoformat(),
            "until": end.astimezone(dt.UTC).isoformat(),
            "threshold": threshold,
            "count": len(readers),
        }
        _record_access(uow, tenant, principal, details)
    return MassReadsOut(
        since=start.astimezone(JST),
        until=end.astimezone(JST),
        threshold=threshold,
        items=[MassReaderOut(actor=r.actor, reads=r.reads, subjects=r.subjects) for r in readers],
    )


@router.get("/verify", response_model=VerifyOut, summary="監査ログの改ざん検査")
def get_verify(lg_code: str, request: Request, principal: Auditor) -> VerifyOut:
    """Walk the town's chain, check its signed heads, and what is known outside the database (the signing
    key and the newest head it signed, the heads held off-site, the signing schedule); names the first bad
    entry.

    The walk runs in a read session of its own (it may take seconds for millions of entries and must not
    hold the town's writers); the auditor's entry is appended afterwards, so it is not among those checked.
    """
    engine = _engine(request)
    verdict = verify_town(engine, lg_code, _expectations(request))
    out = VerifyOut(
        ok=verdict.ok,
        checked=verdict.checked,
        heads_checked=verdict.heads_checked,
        first_bad=verdict.first_bad,
        reason=verdict.reason,
        notes=[VerifyNoteOut(code=n.code, message=n.message) for n in verdict.notes],
    )
    with UnitOfWork(engine) as uow:
        tenant = get_tenant(uow.session, lg_code)
        details = {"query": "verify", "ok": out.ok, "count": out.checked, "first_bad": out.first_bad}
        _record_access(uow, tenant, principal, details)
    return out
