"""A tamper-evident audit trail: one hash chain of entries per municipality (DESIGN §3.4).

Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting, inserting or
reordering any entry breaks every later link; the per-tenant counter (``tenant_sequence`` "audit") also
knows how many entries were written, so even a deleted *last* entry is found. An attacker who can rewrite
the whole chain and the counter is caught by signed chain heads (:mod:`.audit_heads`), and one who also
deletes the heads by what lives outside the database: the key directory, the off-site custodians and the
signing schedule (:mod:`.audit_verify`, which is what ``jichitai audit verify`` and the API run).

Entries are appended inside the caller's transaction, so the audit entry commits or rolls back with the work
it records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Integer, String, Table, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import LG_CODE, Base, UnitOfWork, utcnow
from jichitai.platform.names import Action
from jichitai.platform.offsite import capture
from jichitai.platform.tenancy import Tenant, TenantSequence, next_numbers

GENESIS = "0" * 64
"""The previous-hash of the first entry of every chain."""

SEQUENCE = "audit"

LOG_READ = Action.AUDIT_LOG_READ
"""The action of an auditor reading the log (itself an access to personal data)."""


class AuditEntry(Base):
    """Who did what to whom, when, for which purpose, with what outcome; linked into the tenant's chain."""

    __tablename__ = "audit_entry"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(60))
    purpose: Mapped[str | None] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str | None] = mapped_column(String(40))
    request_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),
        Index("ix_audit_entry_subject", "lg_code", "subject", "seq"),
        Index("ix_audit_entry_actor", "lg_code", "actor", "seq"),
    )


AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]  # a declarative class maps a Table


def entry_digest(entry: AuditEntry) -> str:
    """SHA-256 over the entry's fields in a canonical JSON form, chained to ``prev_hash``.

    Times are normalised to UTC microseconds so the same entry hashes alike whether it was read back from
    SQLite (naive) or PostgreSQL (aware).
    """
    return _digest({name: getattr(entry, name) for name in _HASHED})


_HASHED = (
    "lg_code",
    "seq",
    "recorded_at",
    "actor",
    "role",
    "purpose",
    "action",
    "subject",
    "request_id",
    "outcome",
    "details",
    "prev_hash",
)
"""The fields an entry's hash covers: all but the hash itself."""


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""The canonical JSON form the hashes are taken over, built once (the verifier hashes millions of rows)."""


def _digest(fields: dict[str, Any]) -> str:
    """The hash of the :data:`_HASHED` fields, ``recorded_at`` given as a datetime."""
    recorded = fields["recorded_at"]
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=dt.UTC)
    payload = {**fields, "recorded_at": recorded.astimezone(dt.UTC).isoformat(timespec="microseconds")}
    return hashlib.sha256(_CANONICAL.encode(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """What one audit entry says; the chain fields are added by :func:`append_entries`."""

    actor: str
    action: str
    outcome: str = "ok"
    subject: str | None = None
    role: str | None = None
    purpose: str | None = None
    request_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Actor:
    """Who acts, in which role and for which purpose (事務), under which request: the "who" of an entry."""

    name: str
    role: str | None = None
    purpose: str | None = None
    request_id: str | None = None

    def entry(self, action: str, **fields: Any) -> Entry:
        """An entry of this actor doing ``action`` (other :class:`Entry` fields as keywords)."""
        return Entry(
            actor=self.name,
            role=self.role,
            purpose=self.purpose,
            request_id=self.request_id,
            action=action,
            **fields,
        )


def as_actor(actor: str | Actor, request_id: str | None = None) -> Actor:
    """Accept a bare name (CLI, batch jobs, tests) where an :class:`Actor` is expected."""
    return actor if isinstance(actor, Actor) else Actor(actor, request_id=request_id)


def append_entries(session: Session, tenant: Tenant, entries: Sequence[Entry]) -> int:
    """Append entries to the tenant's chain inside the caller's transaction, linked in the given order; the
    number appended.

    One counter upsert reserves all their numbers (its row lock serialises the appends of one town), one read
    fetches the hash to link to, and one multi-row INSERT writes them: an event that touches five people, or
    a search that shows twenty, costs the same three statements as one entry. The rows go in through Core,
    not as ORM objects (most of a search's CPU time went to the unit of work), and are handed to the off-site
    capture with their values, so the journal records them without reading them back.
    """
    if not entries:
        return 0
    deferred = session.info.get(DEFERRED)
    if deferred is not None:  # a batch chunk: appended at its end (see append_deferred)
        deferred.append((tenant, list(entries)))
        return 0
    numbers = next_numbers(session, tenant, SEQUENCE, len(entries))
    previous = None
    if numbers[0] > 1:  # only the hash: loading the whole previous entry would parse its details for nothing
        previous = session.scalar(
            select(AuditEntry.entry_hash).where(
                AuditEntry.lg_code == tenant.lg_code, AuditEntry.seq == numbers[0] - 1
            )
        )
    prev_hash = previous if previous is not None else GENESIS
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for seq, item in zip(numbers, entries, strict=True):
        row: dict[str, Any] = {
            "lg_code": tenant.lg_code,
            "seq": seq,
            "recorded_at": now,
            "actor": item.actor,
            "role": item.role,
            "purpose": item.purpose,
            "action": item.action,
            "subject": item.subject,
            "request_id": item.request_id,
            "outcome": item.outcome,
            "details": item.details or {},
            "prev_hash": prev_hash,
        }
        row["entry_hash"] = prev_hash = _digest(row)
        rows.append(row)
    session.execute(insert(AUDIT_TABLE), rows)
    capture.remember_inserted(session, AUDIT_TABLE, rows)
    return len(rows)


def record_log_read(uow: UnitOfWork, tenant: Tenant, actor: Actor, details: dict[str, Any]) -> None:
    """An auditor read the log: reading who read whom is itself an access, appended and committed."""
    append_entries(uow.session, tenant, [actor.entry(LOG_READ, details=details)])
    uow.commit()


def append_entry(session: Session, tenant: Tenant, **fields: Any) -> None:
    """Append one entry (see :class:`Entry` for the fields) to the tenant's chain."""
    append_entries(session, tenant, [Entry(**fields)])


DEFERRED = "jichitai.audit.deferred"
"""``session.info`` key: while present, appends are collected and written by :func:`append_deferred`."""


def defer_appends(session: Session) -> None:
    """Collect this transaction's audit appends instead of writing them at once.

    Appending takes the town's audit counter row lock until the commit. A batch that appended as it went would
    hold it for its whole chunk and stall the counter's events of the same town; deferred, the lock is taken
    by :func:`append_deferred` just before the commit and held for milliseconds.
    """
    session.info[DEFERRED] = []


def append_deferred(session: Session) -> int:
    """Write the collected appends (in their order, per town) and stop deferring; the number written."""
    collected: list[tuple[Tenant, list[Entry]]] = session.info.pop(DEFERRED, [])
    by_town: dict[str, tuple[Tenant, list[Entry]]] = {}
    for tenant, entries in collected:
        by_town.setdefault(tenant.lg_code, (tenant, []))[1].extend(entries)
    for tenant, entries in by_town.values():
        append_entries(session, tenant, entries)
    return sum(len(entries) for _tenant, entries in by_town.values())


@dataclass(frozen=True)
class Verdict:
    """The result of checking one chain: ``first_bad`` is the first sequence number that fails."""

    lg_code: str
    checked: int
    first_bad: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every entry links and hashes correctly and none is missing."""
        return self.first_bad is None


_CHAIN_COLUMNS = tuple(getattr(AuditEntry, name) for name in (*_HASHED[1:], "entry_hash"))
"""What the verifier reads of each entry: the hashed fields but the town's code, then the hash."""


def _row_digest(lg_code: str, row: Sequence[Any]) -> str:
    """:func:`entry_digest` of a plain row of :data:`_CHAIN_COLUMNS` (same payload, same bytes).

    The verifier reads rows, not ORM objects: building a million mapped instances cost more than hashing
    them. A test checks this function against :func:`entry_digest`.
    """
    return _digest(dict(zip(_HASHED, (lg_code, *row[:-1]), strict=True)))


def _chain_rows(session: Session, tenant: Tenant, batch: int = 20_000) -> Iterator[Sequence[Any]]:
    """The chain's rows in sequence order, fetched in primary-key ranges of ``batch``."""
    last = 0
    while True:
        rows = session.execute(
            select(*_CHAIN_COLUMNS)
            .where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify_chain(session: Session, tenant: Tenant) -> Verdict:
    """Walk the tenant's chain from the start and report the first entry that is missing or altered.

    Entries are read as plain rows in batches, so a chain of millions of entries is checked in bounded
    memory (16–22 s per million entries on two cores, docs/benchmarks.md).
    """
    expected_prev = GENESIS
    expected_seq = 1
    lg_code = tenant.lg_code
    for row in _chain_rows(session, tenant):
        seq, prev_hash, entry_hash = row[0], row[10], row[11]
        if seq != expected_seq:
            return Verdict(lg_code, expected_seq - 1, expected_seq, "missing entry (deleted)")
        if prev_hash != expected_prev:
            return Verdict(lg_code, expected_seq - 1, seq, "link to the previous entry broken")
        if _row_digest(lg_code, row) != entry_hash:
            return Verdict(lg_code, expected_seq - 1, seq, "entry altered")
        expected_prev = entry_hash
        expected_seq += 1
    written = session.get(TenantSequence, (lg_code, SEQUENCE))
    count = written.last_value if written is not None else 0
    if count >= expected_seq:
        return Verdict(lg_code, expected_seq - 1, expected_seq, "missing entry (deleted)")
    if count < expected_seq - 1:
        return Verdict(lg_code, expected_seq - 1, count + 1, "entry beyond the recorded count (inserted)")
    return Verdict(lg_code, expected_seq - 1)
