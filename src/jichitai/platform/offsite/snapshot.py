"""Full snapshots of a town, streamed in parts so that a town of any size fits in bounded memory.

A snapshot at journal sequence ``at`` is a set of chunks: parts ``s<at>-p<n>`` of up to ``part_rows`` rows
of one table each (column names once, then value lists), and a manifest ``s<at>`` written last that names
every part with the SHA-256 of its stored bytes, and holds the town's counters, journal head and, for every
table of the copy (empty ones too), its row count and the digest of its parts' plaintext (:mod:`.tables`). A
snapshot is complete only when its manifest is there; the hashes bind each part to its manifest, so a
part that is missing, swapped or left over from an interrupted attempt is refused by name.

Rows are read in one REPEATABLE READ transaction (SQLite's read transactions are already a snapshot),
streamed with ``yield_per`` and sealed part by part.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from jichitai.platform import metering
from jichitai.platform.db import bind_tenant, utcnow
from jichitai.platform.offsite import journal
from jichitai.platform.offsite.bulk_rows import encode_rows, encoders
from jichitai.platform.offsite.capture import counters
from jichitai.platform.offsite.custodian import Custodian, chunk_id
from jichitai.platform.offsite.envelope import seal
from jichitai.platform.offsite.tables import PartDigests, checked_tables
from jichitai.platform.tenancy import Tenant

PART_ROWS = 20_000
"""Rows per snapshot part: a few MB of JSON, sealed and shipped before the next part is read."""


def dump(value: Any) -> bytes:
    """Compact UTF-8 JSON for a chunk body."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def header(lg_code: str, kind: str, first: int, last: int, **extra: Any) -> dict[str, Any]:
    """A chunk header (clear, and the AEAD's associated data)."""
    return {
        "chunk_id": extra.pop("chunk_id", None) or chunk_id(kind, first, last),
        "lg_code": lg_code,
        "kind": kind,
        "seq_from": first,
        "seq_to": last,
        "created_at": utcnow().isoformat(),
        **extra,
    }


def part_id(at: int, number: int) -> str:
    """The id of a snapshot's ``number``-th part; sorts right after its manifest ``s<at>``."""
    return f"{chunk_id('snapshot', at, at)}-p{number:06d}"


@contextmanager
def consistent_session(engine: Engine, lg_code: str) -> Iterator[Session]:
    """A read transaction of one town that sees one consistent state (SQLite's read transactions do)."""
    bind = (
        engine.execution_options(isolation_level="REPEATABLE READ")
        if engine.dialect.name == "postgresql"
        else engine
    )
    with Session(bind) as session:
        bind_tenant(session, lg_code)
        try:
            yield session
        finally:
            session.rollback()


@dataclass
class SnapshotShipped:
    """What :func:`ship_snapshot` stored."""

    at: int
    parts: int
    rows: int
    heads: dict[str, Any]


def ship_snapshot(
    engine: Engine,
    custodian: Custodian,
    lg_code: str,
    wrapping: dict[str, bytes],
    previous_audit_head: Any,
    *,
    part_rows: int = PART_ROWS,
) -> SnapshotShipped:
    """Stream every row of the town to ``custodian`` as sealed parts, then the manifest and the heads."""
    with consistent_session(engine, lg_code) as session:
        at, head_hash = journal.head(session, lg_code)
        at_time = session.scalar(
            select(journal.JournalEntry.recorded_at).where(
                journal.JournalEntry.lg_code == lg_code, journal.JournalEntry.seq == at
            )
        )
        values = counters(session, Tenant(lg_code))
        parts: list[dict[str, Any]] = []
        tables = checked_tables(session.connection())
        contents = PartDigests(tables)
        audit_head = previous_audit_head
        total = 0
        for table in tables:
            columns = [c.name for c in table.columns]
            query = select(table).where(table.c.lg_code == lg_code).order_by(*table.primary_key.columns)
            result = session.execute(query, execution_options={"yield_per": part_rows})
            plan = encoders(table)
            for batch in result.partitions():
                rows = encode_rows(batch, plan)
                number = len(parts) + 1
                pid = part_id(at, number)
                plain = dump({"table": table.name, "columns": columns, "rows": rows})
                contents.add(table.name, plain, len(rows))
                sealed = seal(
                    header(lg_code, "snapshot-part", at, at, chunk_id=pid, table=table.name, rows=len(rows)),
                    plain,
                    wrapping,
                )
                custodian.put(lg_code, pid, sealed.blob, sealed.wraps)
                metering.add(lg_code, metering.OFFSITE_BYTES, len(sealed.blob))
                parts.append(
                    {
                        "id": pid,
                        "table": table.name,
                        "rows": len(rows),
                        "sha256": hashlib.sha256(sealed.blob).hexdigest(),
                    }
                )
                total += len(rows)
                if table.name == "audit_entry":
                    last = rows[-1]
                    audit_head = {
                        "seq": last[columns.index("seq")],
                        "hash": last[columns.index("entry_hash")],
                    }
    heads = {"journal": {"seq": at, "hash": head_hash}, "audit": audit_head}
    manifest = {
        "head": {"seq": at, "hash": head_hash},
        "counters": values,
        "parts": parts,
        "tables": {name: digest.as_dict() for name, digest in contents.result().items()},
    }
    manifest_header = header(
        lg_code, "snapshot", at, at, heads=heads, parts=len(parts), at_time=journal.to_json(at_time)
    )
    sealed = seal(manifest_header, dump(manifest), wrapping)
    custodian.put(lg_code, sealed.chunk_id, sealed.blob, sealed.wraps)
    custodian.put_heads(lg_code, heads)
    metering.add(lg_code, metering.OFFSITE_BYTES, len(sealed.blob))
    return SnapshotShipped(at, len(parts), total, heads)
