"""Rebuild one municipality on a fresh install from one custodian alone, and the restore drill.

Every chunk is opened and every journal link checked before anything is written, so a damaged or
incomplete copy is refused as a whole, naming the chunk. Rows are then upserted table by table in
foreign-key order in one transaction, and the restored audit chain is verified.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jichitai.platform.audit import AuditEntry, Verdict, verify_chain
from jichitai.platform.db import make_engine, read_session
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite import journal
from jichitai.platform.offsite.custodian import Custodian, parse_chunk_id
from jichitai.platform.offsite.envelope import ChunkCorrupt, open_chunk
from jichitai.platform.offsite.shipper import municipal_tables
from jichitai.platform.tenancy import Municipality, Tenant, TenantSequence


class RestoreRefused(Exception):
    """The copy cannot be restored as asked (message says why; it never contains key material)."""


@dataclass
class RestoreReport:
    """What a restore rebuilt."""

    lg_code: str
    snapshot_seq: int
    journal_seq: int
    chunks: int
    entries: int
    rows: dict[str, int] = field(default_factory=dict)
    audit: Verdict | None = None
    audit_head: tuple[int, str] | None = None
    custodian_audit_head: tuple[int, str] | None = None
    seconds: float = 0.0

    @property
    def heads_match(self) -> bool:
        """True when the restored audit head is the one the custodian recorded."""
        return self.custodian_audit_head is None or self.audit_head == self.custodian_audit_head


def _open(custodian: Custodian, lg_code: str, cid: str, keys: dict[str, bytes]) -> tuple[dict[str, Any], Any]:
    try:
        blob = custodian.get(lg_code, cid)
        wraps = custodian.get_wraps(lg_code, cid)
    except (OSError, ValueError) as exc:
        raise ChunkCorrupt(cid, f"cannot be read from the custodian ({type(exc).__name__})") from exc
    header, plain = open_chunk(cid, blob, wraps, keys)
    if header.get("lg_code") != lg_code:
        raise ChunkCorrupt(cid, "belongs to another municipality")
    return header, json.loads(plain)


def _plan(
    custodian: Custodian, lg_code: str, keys: dict[str, bytes], until: int | None
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], int]:
    """The snapshot to start from and the checked journal entries after it (nothing written yet).

    Every chunk the custodian holds is opened and authenticated, and the journal chain is checked from its
    first entry, so any damaged chunk is refused by name even if this restore would not replay it.
    """
    held = sorted((parse_chunk_id(cid), cid) for cid in custodian.list(lg_code))
    snapshots = [
        (to, cid) for (kind, _, to), cid in held if kind == "snapshot" and (until is None or to <= until)
    ]
    if not snapshots:
        raise RestoreRefused(f"custodian {custodian.name} holds no snapshot of {lg_code} to start from")
    at, sid = max(snapshots)
    for (kind, _, _), cid in held:
        if kind == "snapshot" and cid != sid:
            _open(custodian, lg_code, cid, keys)  # authenticated, not used
    header, snap = _open(custodian, lg_code, sid, keys)
    journals = sorted(((start, to), cid) for (kind, start, to), cid in held if kind == "journal")
    entries, last_header, hashes = _check_journal(custodian, lg_code, keys, journals)
    if at in hashes and hashes[at] != snap["head"]["hash"]:
        raise ChunkCorrupt(sid, f"snapshot head does not match journal entry {at}")
    chosen = [e for e in entries if e["seq"] > at and (until is None or e["seq"] <= until)]
    if chosen and chosen[0]["seq"] != at + 1:
        raise RestoreRefused(f"journal entries {at + 1}–{chosen[0]['seq'] - 1} are missing at the custodian")
    for item in chosen:
        if item["kind"] == journal.SNAPSHOT_REQUIRED:
            raise RestoreRefused(
                f"journal entry {item['seq']} is a bulk load the journal cannot replay, and the custodian "
                f"holds no snapshot after it{'' if until is None else f' up to {until}'}"
            )
    if chosen:
        # The custodian's recorded heads apply only when the restore ends where its newest chunk ends.
        ends_at_newest = last_header is not None and last_header["seq_to"] == chosen[-1]["seq"]
        header = last_header if ends_at_newest and last_header is not None else {**header, "heads": None}
    return header, snap, chosen, len(held)


def _check_journal(
    custodian: Custodian, lg_code: str, keys: dict[str, bytes], journals: list[tuple[tuple[int, int], str]]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[int, str]]:
    """Open every journal chunk in order and check the hash chain across them; entries and hashes by seq."""
    entries: list[dict[str, Any]] = []
    hashes: dict[int, str] = {}
    header: dict[str, Any] | None = None
    expected: int | None = None
    prev: str | None = None
    for (start, _to), cid in journals:
        if expected is not None and start > expected:
            raise RestoreRefused(f"journal gap before chunk {cid}: entry {expected} is missing")
        header, body = _open(custodian, lg_code, cid, keys)
        for item in body["entries"]:
            seq = item["seq"]
            if expected is not None and seq < expected:
                continue  # an overlapping chunk: already checked
            if expected is not None and seq != expected:
                raise ChunkCorrupt(cid, f"journal entry {expected} missing")
            if seq == 1 and item["prev_hash"] != journal.GENESIS:
                raise ChunkCorrupt(cid, "journal hash chain broken at entry 1")
            if (prev is not None and item["prev_hash"] != prev) or journal.dict_digest(item) != item[
                "entry_hash"
            ]:
                raise ChunkCorrupt(cid, f"journal hash chain broken at entry {seq}")
            entries.append(item)
            hashes[seq] = item["entry_hash"]
            prev, expected = item["entry_hash"], seq + 1
    return entries, header, hashes


def _upsert(conn: Connection, table: Table, images: list[dict[str, Any]]) -> None:
    if not images:
        return
    rows = [
        {c.name: journal.from_json(c, image[c.name]) for c in table.columns if c.name in image}
        for image in images
    ]
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    pk = [c.name for c in table.primary_key.columns]
    stmt = insert(table)
    others = {
        c.name: stmt.excluded[c.name] for c in table.columns if c.name not in pk and c.name in images[0]
    }
    statement = (
        stmt.on_conflict_do_update(index_elements=pk, set_=others)
        if others
        else stmt.on_conflict_do_nothing()
    )
    conn.execute(statement, rows)


def _delete(conn: Connection, table: Table, keys: list[list[Any]]) -> None:
    columns = list(table.primary_key.columns)
    typed = [tuple(journal.from_json(c, v) for c, v in zip(columns, key, strict=True)) for key in keys]
    conn.execute(delete(table).where(tuple_(*columns).in_(typed)))


def _counters(conn: Connection, lg_code: str, values: dict[str, int]) -> None:
    table = TenantSequence.__table__
    assert isinstance(table, Table)
    _upsert(conn, table, [{"lg_code": lg_code, "name": k, "last_value": v} for k, v in values.items()])


def _apply(conn: Connection, lg_code: str, snap: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    tables = municipal_tables()
    for table in tables:
        _upsert(conn, table, snap["tables"].get(table.name, []))
    _counters(conn, lg_code, snap["counters"])
    for item in entries:
        payload = item["payload"]
        for table in tables:
            _upsert(conn, table, payload.get("upsert", {}).get(table.name, []))
        for table in reversed(tables):
            if table.name in payload.get("delete", {}):
                _delete(conn, table, payload["delete"][table.name])
        _counters(conn, lg_code, payload.get("counters", {}))
    journal_table = journal.JournalEntry.__table__
    assert isinstance(journal_table, Table)
    _upsert(conn, journal_table, entries)


def restore(
    url: str, custodian: Custodian, lg_code: str, keys: dict[str, bytes], *, until: int | None = None
) -> RestoreReport:
    """Restore ``lg_code`` into the database at ``url`` (migrated here; the town must not exist there)."""
    started = time.monotonic()
    header, snap, entries, chunks = _plan(custodian, lg_code, keys, until)
    upgrade(url)
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            if session.get(Municipality, lg_code) is not None:
                raise RestoreRefused(f"municipality {lg_code} already exists in the target database")
        with engine.begin() as conn:
            _apply(conn, lg_code, snap, entries)
        return _report(engine, lg_code, header, snap, entries, chunks, started)
    finally:
        engine.dispose()


def _report(
    engine: Engine,
    lg_code: str,
    header: dict[str, Any],
    snap: dict[str, Any],
    entries: list[dict[str, Any]],
    chunks: int,
    started: float,
) -> RestoreReport:
    at = snap["head"]["seq"]
    report = RestoreReport(lg_code, at, entries[-1]["seq"] if entries else at, chunks, len(entries))
    with read_session(engine) as session:
        for table in municipal_tables():
            count = len(
                session.execute(select(*table.primary_key.columns).where(table.c.lg_code == lg_code)).all()
            )
            if count:
                report.rows[table.name] = count
        report.audit = verify_chain(session, Tenant(lg_code))
        last = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash)
            .where(AuditEntry.lg_code == lg_code)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
        report.audit_head = (last[0], last[1]) if last is not None else None
    recorded = (header.get("heads") or {}).get("audit")
    if recorded:
        report.custodian_audit_head = (recorded["seq"], recorded["hash"])
    report.seconds = time.monotonic() - started
    return report


@dataclass(frozen=True)
class DrillReport:
    """A restore drill: the restore, what the custodian lacked (RPO) and how long it took (RTO)."""

    restore: RestoreReport
    rpo_entries: int
    rpo_seconds: float
    rto_seconds: float


def drill(engine: Engine, custodian: Custodian, lg_code: str, keys: dict[str, bytes]) -> DrillReport:
    """Restore into a scratch SQLite file and measure RPO against the live journal."""
    with tempfile.TemporaryDirectory(prefix="jichitai-drill-") as scratch:
        report = restore(f"sqlite:///{Path(scratch) / 'drill.db'}", custodian, lg_code, keys)
    with read_session(engine) as session:
        head, _ = journal.head(session, lg_code)
        oldest = session.scalar(
            select(journal.JournalEntry.recorded_at)
            .where(journal.JournalEntry.lg_code == lg_code, journal.JournalEntry.seq > report.journal_seq)
            .order_by(journal.JournalEntry.seq)
            .limit(1)
        )
    rpo_seconds = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        rpo_seconds = (dt.datetime.now(dt.UTC) - oldest).total_seconds()
    return DrillReport(report, head - report.journal_seq, rpo_seconds, report.seconds)


__all__ = ["DrillReport", "RestoreRefused", "RestoreReport", "drill", "restore"]
