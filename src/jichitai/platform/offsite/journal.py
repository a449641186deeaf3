"""The per-municipality journal: every committed change of a town, numbered gap-free and hash-chained.

One entry per town per transaction, written in that transaction by :mod:`.capture`; an entry's hash covers
its fields and the previous entry's hash, so a restore can prove it replayed an unbroken sequence.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import LG_CODE, Base, utcnow
from jichitai.platform.tenancy import Tenant, next_numbers

GENESIS = "0" * 64
SEQUENCE = "journal"
SNAPSHOT_REQUIRED = "snapshot_required"
"""Kind of the entry written after a bulk load (:func:`require_snapshot`)."""


class JournalEntry(Base):
    """One transaction's changes to one municipality: row images to upsert, keys to delete, counters."""

    __tablename__ = "offsite_journal"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces) used for hashing."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _utc_iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_digest(
    lg_code: str, seq: int, recorded_at: dt.datetime, kind: str, payload: Any, prev_hash: str
) -> str:
    """SHA-256 of an entry's fields in canonical form, chained to ``prev_hash``."""
    fields = {
        "lg_code": lg_code,
        "seq": seq,
        "recorded_at": _utc_iso(recorded_at),
        "kind": kind,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(fields)).hexdigest()


def entry_to_dict(entry: JournalEntry) -> dict[str, Any]:
    """The entry as shipped (JSON-safe)."""
    return {
        "lg_code": entry.lg_code,
        "seq": entry.seq,
        "recorded_at": _utc_iso(entry.recorded_at),
        "kind": entry.kind,
        "payload": entry.payload,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def dict_digest(item: dict[str, Any]) -> str:
    """:func:`entry_digest` of a shipped entry (used by the restore to check the chain)."""
    return entry_digest(
        item["lg_code"],
        item["seq"],
        dt.datetime.fromisoformat(item["recorded_at"]),
        item["kind"],
        item["payload"],
        item["prev_hash"],
    )


def append(
    session: Session, tenant: Tenant, kind: str, payload: Callable[[int], dict[str, Any]]
) -> JournalEntry:
    """Append an entry to the town's journal inside the caller's transaction.

    ``payload`` is called with the entry's sequence number once the journal counter's row lock is held (so
    what it reads — the town's counters — is ordered like the entries), and the row is inserted once, whole.
    """
    seq = next_numbers(session, tenant, SEQUENCE)[0]
    prev_hash = GENESIS
    if seq > 1:  # only the hash: loading the previous entry would parse its whole payload for nothing
        found = session.scalar(
            select(JournalEntry.entry_hash).where(
                JournalEntry.lg_code == tenant.lg_code, JournalEntry.seq == seq - 1
            )
        )
        prev_hash = found if found is not None else GENESIS
    body = payload(seq)
    now = utcnow()
    entry = JournalEntry(lg_code=tenant.lg_code, seq=seq, recorded_at=now, kind=kind, payload=body)
    entry.prev_hash = prev_hash
    entry.entry_hash = entry_digest(tenant.lg_code, seq, now, kind, body, prev_hash)
    session.add(entry)
    return entry


def require_snapshot(session: Session, tenant: Tenant, reason: str) -> JournalEntry:
    """Mark that rows were written outside the ORM session (a bulk load): the journal cannot replay them,
    so the shipper sends a full snapshot next and a restore never replays across this entry.

    Imported here to avoid a cycle: the capture imports this module.
    """
    from jichitai.platform.offsite.capture import counters

    return append(
        session,
        tenant,
        SNAPSHOT_REQUIRED,
        lambda _seq: {"reason": reason, "counters": counters(session, tenant)},
    )


def head(session: Session, lg_code: str) -> tuple[int, str]:
    """The town's last journal sequence number and hash (0 and the genesis hash when empty)."""
    row = session.execute(
        select(JournalEntry.seq, JournalEntry.entry_hash)
        .where(JournalEntry.lg_code == lg_code)
        .order_by(JournalEntry.seq.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else (0, GENESIS)


def to_json(value: Any) -> Any:
    """A column value as JSON (dates ISO, enums by value, bytes base64, decimals as text)."""
    if isinstance(value, dt.datetime):
        return _utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


Converter = Callable[[Any], Any]


def identity(value: Any) -> Any:
    """The conversion of a column whose JSON form is its value."""
    return value


def converter(column: Column[Any]) -> Converter:
    """The inverse of :func:`to_json` for ``column``, chosen once by the column's type (None stays None).

    Chosen per column rather than per value because a restore converts millions of values.
    """
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None:
        return lambda v: None if v is None else enum_class(v)
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return identity
    parse: Converter | None = None
    if python_type is dt.datetime:
        parse = dt.datetime.fromisoformat
    elif python_type is dt.date:
        parse = dt.date.fromisoformat
    elif python_type is bytes:
        parse = base64.b64decode
    elif python_type is decimal.Decimal:
        parse = decimal.Decimal
    if parse is None:
        return identity
    chosen = parse
    return lambda v: None if v is None else chosen(v)


def from_json(column: Column[Any], value: Any) -> Any:
    """The inverse of :func:`to_json` for one value of ``column``."""
    return converter(column)(value)
