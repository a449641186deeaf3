"""Verifying a town's audit evidence: the chain, its signed heads, and what is known outside the database.

The chain and its heads (:mod:`.audit`, :mod:`.audit_heads`) catch edits, but deleting the evidence — the
heads, the chain's tail and the counter together — leaves a shorter chain that links perfectly. So
verification also asks what does not live in the database, in this order after the walk and the heads:

1. the key directory: a town with a signing key has been signed and must have heads, and the newest head
   the signer recorded must still be there (:func:`~.audit_heads.local_finding`);
2. the off-site custodians: each holds, in clear, the newest audit entry shipped to it (``heads.json`` and
   each chunk's header); the chain must still contain that entry with that hash;
3. the signing schedule: an entry left unsigned longer than the schedule allows means the signer stopped,
   or newer heads were deleted (:func:`~.audit_schedule.first_overdue`).

What cannot be checked is said in ``notes`` (stable code, Japanese message), never silently skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jichitai.platform.audit import AuditEntry, verify_chain
from jichitai.platform.audit_heads import (
    Finding,
    KeyDirState,
    key_dir_state,
    last_seq,
    load_key,
    local_finding,
    newest_head,
    verify_heads,
)
from jichitai.platform.audit_schedule import Schedule, first_overdue
from jichitai.platform.db import read_session, utcnow
from jichitai.platform.offsite.custodian import Custodian, parse_chunk_id
from jichitai.platform.offsite.envelope import ChunkCorrupt, read_header
from jichitai.platform.offsite.http_custodian import TokenMissing, close, open_custodian
from jichitai.platform.offsite.shipper import OffsiteCustodian
from jichitai.platform.tenancy import Tenant, get_tenant
from jichitai.settings import Settings

TRUNCATED_BEFORE_OFFSITE = "chain ends before the head held off-site (truncated)"
REWRITTEN_BEFORE_OFFSITE = "chain differs from the head held off-site (rewritten)"
STALE_HEAD = "signed head is stale (newer heads deleted, or the signer stopped)"


@dataclass(frozen=True)
class Note:
    """Something verification could not check, or wants known: a stable code and a Japanese message."""

    code: str
    message: str


@dataclass(frozen=True)
class OffsiteHead:
    """The newest audit entry a custodian holds: ``seq`` had ``entry_hash``."""

    location: str
    seq: int
    entry_hash: str


@dataclass(frozen=True)
class Expectations:
    """What verification knows from outside the database: where the keys are, and the signing schedule."""

    key_dir: Path
    offsite_key_dir: Path
    """The off-site key directory, where an HTTP custodian's token is kept."""
    schedule: Schedule | None
    """None when the server does not sign (``JICHITAI_AUDIT_SIGN_INTERVAL=0``): freshness is not checked."""
    keys_in_data_dir: bool = False


def expectations(settings: Settings) -> Expectations:
    """The installation's expectations, from its settings."""
    interval = settings.audit_sign_interval
    return Expectations(
        key_dir=settings.resolved_audit_key_dir(),
        offsite_key_dir=settings.resolved_key_dir(),
        schedule=Schedule(dt.timedelta(seconds=interval), settings.audit_sign_every) if interval else None,
        keys_in_data_dir=settings.audit_keys_in_data_dir(),
    )


@dataclass(frozen=True)
class TownVerdict:
    """The whole answer for one town. ``first_bad`` names an entry when one can be named."""

    lg_code: str
    ok: bool
    checked: int
    heads_checked: int
    first_bad: int | None = None
    reason: str | None = None
    notes: tuple[Note, ...] = field(default_factory=tuple)


def held_audit_head(custodian: Custodian, lg_code: str) -> tuple[int, str] | None:
    """The newest audit entry the custodian holds, read only (``heads.json``, or the newest chunk's header
    when a shipping pass died before it rewrote ``heads.json``)."""
    heads = custodian.heads(lg_code) or {}
    ids = custodian.list(lg_code)
    newest = max(
        (
            (to, kind == "journal", cid)
            for (kind, _, to), cid in zip(map(parse_chunk_id, ids), ids, strict=True)
            if kind in ("journal", "snapshot")
        ),
        default=None,
    )
    if newest is not None and (heads.get("journal") or {}).get("seq") != newest[0]:
        heads = read_header(newest[2], custodian.get(lg_code, newest[2]))[0].get("heads") or {}
    audit = heads.get("audit")
    return (int(audit["seq"]), str(audit["hash"])) if audit else None


def offsite_heads(
    engine: Engine, lg_code: str, offsite_key_dir: Path
) -> tuple[list[OffsiteHead], list[Note]]:
    """The audit heads the town's registered custodians hold, and a note for each that could not say."""
    with read_session(engine, tenant=lg_code) as session:
        locations = session.scalars(
            select(OffsiteCustodian.location)
            .where(OffsiteCustodian.lg_code == lg_code)
            .order_by(OffsiteCustodian.location)
        ).all()
    held: list[OffsiteHead] = []
    notes: list[Note] = []
    for location in locations:
        try:
            custodian = open_custodian(location, lg_code, offsite_key_dir)
            try:
                head = held_audit_head(custodian, lg_code)
            finally:
                close(custodian)
        except (OSError, TokenMissing, ChunkCorrupt, ValueError, KeyError, TypeError) as exc:
            notes.append(
                Note(
                    "offsite_unreachable",
                    f"副本の保管先 {location} の監査ヘッドを確認できませんでした ({type(exc).__name__})。",
                )
            )
            continue
        if head is None:
            notes.append(Note("offsite_no_head", f"副本の保管先 {location} には監査ヘッドがまだありません。"))
        else:
            held.append(OffsiteHead(location, head[0], head[1]))
    return held, notes


def _offsite_finding(session: Session, tenant: Tenant, held: list[OffsiteHead]) -> Finding | None:
    """The chain must still contain each custodian's newest audit entry, with the same hash."""
    for head in sorted(held, key=lambda h: -h.seq):
        entry_hash = session.scalar(
            select(AuditEntry.entry_hash).where(
                AuditEntry.lg_code == tenant.lg_code, AuditEntry.seq == head.seq
            )
        )
        if entry_hash is None:
            return Finding(min(last_seq(session, tenant) + 1, head.seq), TRUNCATED_BEFORE_OFFSITE)
        if entry_hash != head.entry_hash:
            return Finding(head.seq, REWRITTEN_BEFORE_OFFSITE)
    return None


def _notes(
    session: Session, tenant: Tenant, expect: Expectations, state: KeyDirState, offsite: list[OffsiteHead]
) -> list[Note]:
    notes = []
    expected = (
        newest_head(session, tenant) is not None or state.keyed or state.mark is not None or bool(offsite)
    )
    if not expected:
        notes.append(
            Note(
                "no_head_expected",
                "署名鍵も副本の監査ヘッドもまだないため、署名済みヘッドはまだ求められていません。",
            )
        )
    if expect.schedule is None:
        notes.append(
            Note(
                "freshness_unchecked",
                "定期署名が無効 (JICHITAI_AUDIT_SIGN_INTERVAL=0) のため、ヘッドの鮮度は検査していません。",
            )
        )
    if expect.keys_in_data_dir:
        notes.append(
            Note(
                "key_in_data_dir",
                "監査署名鍵がデータディレクトリの中にあります。"
                "JICHITAI_AUDIT_KEY_DIR で別の場所へ移してください。",
            )
        )
    return notes


def verify_evidence(
    session: Session,
    tenant: Tenant,
    expect: Expectations,
    state: KeyDirState,
    offsite: list[OffsiteHead],
    *,
    now: dt.datetime | None = None,
) -> TownVerdict:
    """Walk the chain, check its heads, then what the key directory (``state``, read before ``session``
    began), the custodians (``offsite``) and the schedule say; the first failure is the answer."""
    lg_code = tenant.lg_code
    chain = verify_chain(session, tenant)
    key = load_key(expect.key_dir, lg_code)
    heads = verify_heads(session, tenant, key.public_key() if key else None)
    notes = tuple(_notes(session, tenant, expect, state, offsite))
    found: Finding | None = None
    if not chain.ok:
        found = Finding(chain.first_bad, chain.reason or "")
    elif not heads.ok:
        found = Finding(heads.first_bad, heads.reason or "")
    else:
        found = local_finding(session, tenant, state) or _offsite_finding(session, tenant, offsite)
    if found is None and expect.schedule is not None:
        newest = newest_head(session, tenant)
        if newest is not None:
            overdue = first_overdue(session, tenant, newest.seq, expect.schedule, now or utcnow())
            found = Finding(overdue, STALE_HEAD) if overdue is not None else None
    if found is None:
        return TownVerdict(lg_code, True, chain.checked, heads.checked, notes=notes)
    return TownVerdict(lg_code, False, chain.checked, heads.checked, found.first_bad, found.reason, notes)


def verify_town(
    engine: Engine, lg_code: str, expect: Expectations, *, now: dt.datetime | None = None
) -> TownVerdict:
    """:func:`verify_evidence` for one town. What lives outside the database is read first: a head the key
    directory records, or an entry a custodian holds, was committed before the read transaction began."""
    held, offsite_notes = offsite_heads(engine, lg_code, expect.offsite_key_dir)
    state = key_dir_state(expect.key_dir, lg_code)
    with read_session(engine) as session:
        tenant = get_tenant(session, lg_code)
        verdict = verify_evidence(session, tenant, expect, state, held, now=now)
    return replace(verdict, notes=(*offsite_notes, *verdict.notes))
