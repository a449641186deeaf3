"""Rebuild one municipality on a fresh install from one custodian alone, and the restore drill.

Every chunk is opened and every journal link checked before anything is written, so a damaged or
incomplete copy is refused as a whole, naming the chunk. Rows are then upserted table by table in
foreign-key order in one transaction, and the restored audit chain is verified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jichitai.platform.audit import AuditEntry, Verdict, verify_chain
from jichitai.platform.db import as_utc, make_engine, read_session
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite import journal
from jichitai.platform.offsite.bulk_rows import insert_rows
from jichitai.platform.offsite.custodian import Custodian, chunk_id, parse_chunk_id
from jichitai.platform.offsite.envelope import ChunkCorrupt, authenticate, open_chunk, read_header
from jichitai.platform.offsite.snapshot import consistent_session
from jichitai.platform.offsite.tables import (
    CopyIncomplete,
    PartDigests,
    TableDigest,
    checked_tables,
    copied_tables,
    differences,
    town_digests,
)
from jichitai.platform.tenancy import Municipality, Tenant, TenantSequence, declare


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
    header, plain = _open_bytes(custodian, lg_code, cid, keys)
    return header, json.loads(plain)


def _fetch(custodian: Custodian, lg_code: str, cid: str) -> tuple[bytes, dict[str, str]]:
    try:
        return custodian.get(lg_code, cid), custodian.get_wraps(lg_code, cid)
    except (OSError, ValueError) as exc:
        raise ChunkCorrupt(cid, f"cannot be read from the custodian ({type(exc).__name__})") from exc


def _open_bytes(
    custodian: Custodian, lg_code: str, cid: str, keys: dict[str, bytes], sha256: str | None = None
) -> tuple[dict[str, Any], bytes]:
    blob, wraps = _fetch(custodian, lg_code, cid)
    if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
        raise ChunkCorrupt(cid, "does not match the hash its snapshot manifest records (altered or replaced)")
    header, plain = open_chunk(cid, blob, wraps, keys)
    if header.get("lg_code") != lg_code:
        raise ChunkCorrupt(cid, "belongs to another municipality")
    return header, plain


def _authenticate(custodian: Custodian, lg_code: str, cid: str, keys: dict[str, bytes]) -> None:
    """Check a chunk this restore does not replay (decrypting proves it is intact)."""
    blob, wraps = _fetch(custodian, lg_code, cid)
    authenticate(cid, blob, wraps, keys)


@dataclass
class Plan:
    """What a restore will apply, checked before anything is written."""

    header: dict[str, Any]
    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    chunks: int


def _limit(
    entries: list[dict[str, Any]],
    manifests: list[tuple[int, str, dict[str, Any]]],
    until: int | None,
    until_time: dt.datetime | None,
) -> int | None:
    """The last journal sequence to restore: ``until``, or the last change made by ``until_time``."""
    if until_time is None:
        return until
    moment = as_utc(until_time)
    known: list[int] = [
        int(e["seq"]) for e in entries if dt.datetime.fromisoformat(e["recorded_at"]) <= moment
    ]
    for at, _, head in manifests:
        made = head.get("at_time")
        if at == 0 or (made and dt.datetime.fromisoformat(made) <= moment):
            known.append(at)
    if not known:
        raise RestoreRefused(f"the custodian holds nothing as old as {moment.isoformat()}")
    return min(max(known), until) if until is not None else max(known)


def _plan(
    custodian: Custodian,
    lg_code: str,
    keys: dict[str, bytes],
    until: int | None,
    until_time: dt.datetime | None = None,
) -> Plan:
    """The snapshot to start from and the checked journal entries after it (nothing written yet).

    Every chunk the custodian holds is authenticated and the journal chain is checked from its first entry,
    so a damaged chunk is refused by name even if this restore would not replay it. The chosen snapshot's
    parts are checked against its manifest's hashes here and opened one by one while applying.
    """
    held = sorted((parse_chunk_id(cid), cid) for cid in custodian.list(lg_code))
    journals = sorted(((start, to), cid) for (kind, start, to), cid in held if kind == "journal")
    entries, last_header, hashes = _check_journal(custodian, lg_code, keys, journals)
    manifests = []
    for (kind, _, at), cid in held:
        if kind == "snapshot":
            blob, _wraps = _fetch(custodian, lg_code, cid)
            manifests.append((at, cid, read_header(cid, blob)[0]))
    limit = _limit(entries, manifests, until, until_time)
    usable = [(at, cid) for at, cid, _ in manifests if limit is None or at <= limit]
    if not usable:
        raise RestoreRefused(f"custodian {custodian.name} holds no snapshot of {lg_code} to start from")
    at, sid = max(usable)
    header, manifest = _open(custodian, lg_code, sid, keys)
    listed = {part["id"] for part in manifest["parts"]}
    present = {cid for _, cid in held}
    for part in manifest["parts"]:
        if part["id"] not in present:
            raise ChunkCorrupt(part["id"], f"is missing at the custodian (part of snapshot {sid})")
    for (kind, _, _), cid in held:
        if kind != "journal" and cid != sid and cid not in listed:
            _authenticate(custodian, lg_code, cid, keys)
    if at in hashes and hashes[at] != manifest["head"]["hash"]:
        raise ChunkCorrupt(sid, f"snapshot head does not match journal entry {at}")
    chosen = [e for e in entries if e["seq"] > at and (limit is None or e["seq"] <= limit)]
    if chosen and chosen[0]["seq"] != at + 1:
        raise RestoreRefused(f"journal entries {at + 1}–{chosen[0]['seq'] - 1} are missing at the custodian")
    for item in chosen:
        if item["kind"] == journal.SNAPSHOT_REQUIRED:
            raise RestoreRefused(
                f"journal entry {item['seq']} is a bulk load the journal cannot replay, and the custodian "
                f"holds no snapshot after it{'' if limit is None else f' up to {limit}'}"
            )
    # The custodian's recorded heads apply only when the restore ends where its newest chunk ends.
    if chosen:
        ends_at_newest = last_header is not None and last_header["seq_to"] == chosen[-1]["seq"]
        header = last_header if ends_at_newest and last_header is not None else {**header, "heads": None}
    elif limit is not None and any(e["seq"] > at for e in entries):
        header = {**header, "heads": None}
    return Plan(header, manifest, chosen, len(held))


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


def _count(conn: Connection, table: Table, lg_code: str) -> int:
    return int(conn.scalar(select(func.count()).select_from(table).where(table.c.lg_code == lg_code)) or 0)


def _counters(conn: Connection, lg_code: str, values: dict[str, int]) -> None:
    table = TenantSequence.__table__
    assert isinstance(table, Table)
    _upsert(conn, table, [{"lg_code": lg_code, "name": k, "last_value": v} for k, v in values.items()])


def _insert_part(conn: Connection, tables: dict[str, Table], body: dict[str, Any], cid: str) -> int:
    """Insert one snapshot part's rows (a fresh town: plain bulk inserts)."""
    table = tables.get(body["table"])
    if table is None:
        raise RestoreRefused(f"chunk {cid}: table {body['table']} is unknown to this version")
    insert_rows(conn, table, body["columns"], body["rows"])
    return len(body["rows"])


def _snapshot_tables(manifest: dict[str, Any], tables: list[Table], sid: str) -> dict[str, dict[str, Any]]:
    """The manifest's per-table counts and digests, refused unless they name exactly this version's tables."""
    recorded: dict[str, dict[str, Any]] | None = manifest.get("tables")
    if recorded is None:
        raise RestoreRefused(
            f"snapshot {sid} records no table digests (made by an older version): ship a new snapshot first "
            "(jichitai offsite ship --snapshot)"
        )
    names = {t.name for t in tables}
    missing = sorted(names - set(recorded))
    unknown = sorted(set(recorded) - names)
    if missing or unknown:
        raise RestoreRefused(
            f"snapshot {sid} does not hold this version's tables"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown here: {', '.join(unknown)}" if unknown else "")
        )
    return recorded


def replay(conn: Connection, tables: list[Table], lg_code: str, entries: list[dict[str, Any]]) -> None:
    """Apply journal entries (row images to upsert, keys to delete, counters) in order."""
    for item in entries:
        payload = item["payload"]
        for table in tables:
            _upsert(conn, table, payload.get("upsert", {}).get(table.name, []))
        for table in reversed(tables):
            if table.name in payload.get("delete", {}):
                _delete(conn, table, payload["delete"][table.name])
        _counters(conn, lg_code, payload.get("counters", {}))


def _apply(conn: Connection, custodian: Custodian, lg_code: str, keys: dict[str, bytes], plan: Plan) -> None:
    tables = checked_tables(conn)
    sid = chunk_id("snapshot", plan.manifest["head"]["seq"], plan.manifest["head"]["seq"])
    recorded = _snapshot_tables(plan.manifest, tables, sid)
    by_name = {t.name: t for t in tables}
    contents = PartDigests(tables)
    for part in plan.manifest["parts"]:
        _, plain = _open_bytes(custodian, lg_code, part["id"], keys, sha256=part["sha256"])
        body = json.loads(plain)
        if body["table"] != part["table"] or len(body["rows"]) != part["rows"]:
            raise ChunkCorrupt(part["id"], "does not hold what its snapshot manifest records")
        _insert_part(conn, by_name, body, part["id"])
        contents.add(body["table"], plain, len(body["rows"]))
    # What was written must be what was read at the source, table by table, before anything is replayed:
    # the parts' contents as the manifest records them, and as many rows in each table as it counted.
    # (Whether the rows round-trip value for value is what a drill checks, against the live town.)
    written = {
        name: TableDigest(_count(conn, by_name[name], lg_code), digest.sha256)
        for name, digest in contents.result().items()
    }
    wrong = differences(recorded, written)
    if wrong:
        raise RestoreRefused(f"snapshot {sid} restored differently from its manifest: " + "; ".join(wrong))
    _counters(conn, lg_code, plan.manifest["counters"])
    replay(conn, tables, lg_code, plan.entries)
    journal_table = journal.JournalEntry.__table__
    assert isinstance(journal_table, Table)
    _upsert(conn, journal_table, plan.entries)


def restore(
    url: str,
    custodian: Custodian,
    lg_code: str,
    keys: dict[str, bytes],
    *,
    until: int | None = None,
    until_time: dt.datetime | None = None,
) -> RestoreReport:
    """Restore ``lg_code`` into the database at ``url`` (migrated here; the town must not exist there).

    Everything is written in one transaction: a part found damaged while applying rolls it all back.
    """
    started = time.monotonic()
    plan = _plan(custodian, lg_code, keys, until, until_time)
    upgrade(url)
    engine = make_engine(url)
    try:
        with read_session(engine) as session:
            if session.get(Municipality, lg_code) is not None:
                raise RestoreRefused(f"municipality {lg_code} already exists in the target database")
        with engine.begin() as conn:
            declare(conn, lg_code)  # the restored town's rows, written by whatever role restores
            _apply(conn, custodian, lg_code, keys, plan)
        return _report(engine, lg_code, plan, started)
    finally:
        engine.dispose()


def _report(engine: Engine, lg_code: str, plan: Plan, started: float) -> RestoreReport:
    at = plan.manifest["head"]["seq"]
    entries = plan.entries
    report = RestoreReport(lg_code, at, entries[-1]["seq"] if entries else at, plan.chunks, len(entries))
    with read_session(engine, tenant=lg_code) as session:
        for table in copied_tables():
            count = session.scalar(select(func.count()).select_from(table).where(table.c.lg_code == lg_code))
            if count:
                report.rows[table.name] = int(count)
        report.audit = verify_chain(session, Tenant(lg_code))
        last = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash)
            .where(AuditEntry.lg_code == lg_code)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
        report.audit_head = (last[0], last[1]) if last is not None else None
    recorded = (plan.header.get("heads") or {}).get("audit")
    if recorded:
        report.custodian_audit_head = (recorded["seq"], recorded["hash"])
    report.seconds = time.monotonic() - started
    return report


@dataclass(frozen=True)
class Verification:
    """A custodian checked against this installation's journal."""

    chunks: int
    custodian_seq: int
    local_seq: int
    heads_match: bool


def verify_custodian(
    engine: Engine, custodian: Custodian, lg_code: str, keys: dict[str, bytes]
) -> Verification:
    """Authenticate every chunk, check the journal chain, and compare the custodian's recorded journal head
    with this installation's entry at that sequence (a mismatch means the copies diverged)."""
    plan = _plan(custodian, lg_code, keys, None)
    # The newest chunk's own header, not heads.json, which a pass that died may have left one chunk behind.
    recorded = (plan.header.get("heads") or {}).get("journal") or {}
    seq = int(recorded.get("seq", plan.manifest["head"]["seq"]))
    with read_session(engine, tenant=lg_code) as session:
        local_seq, _ = journal.head(session, lg_code)
        ours = session.scalar(
            select(journal.JournalEntry.entry_hash).where(
                journal.JournalEntry.lg_code == lg_code, journal.JournalEntry.seq == seq
            )
        )
    theirs = recorded.get("hash", plan.manifest["head"]["hash"])
    newest = plan.entries[-1]["entry_hash"] if plan.entries else plan.manifest["head"]["hash"]
    match = (seq == 0 or ours == theirs) and theirs == newest
    return Verification(plan.chunks, seq, local_seq, match)


@dataclass(frozen=True)
class DrillReport:
    """A restore drill: the restore, what the custodian lacked (RPO), how long it took (RTO), and the live
    journal position the restored town was compared with, table by table."""

    restore: RestoreReport
    rpo_entries: int
    rpo_seconds: float
    rto_seconds: float
    compared_seq: int = 0
    tables_compared: int = 0


class DrillMismatch(RestoreRefused):
    """The restored town differs from the live town at the same journal position (the message names each
    table)."""


def compare_with_live(engine: Engine, scratch_url: str, lg_code: str, restored_seq: int) -> tuple[int, int]:
    """Bring the restored town to the live journal head with the live journal's own entries, then compare
    every copied table's rows with the live town's, read in the same consistent transaction as that head.

    Returns the compared journal position and the number of tables; raises :class:`DrillMismatch` naming
    every table that differs (a missing table, missing or extra rows, or changed values).
    """
    with consistent_session(engine, lg_code) as live:
        tables = checked_tables(live.connection())
        head, _ = journal.head(live, lg_code)
        rows = live.scalars(
            select(journal.JournalEntry)
            .where(journal.JournalEntry.lg_code == lg_code, journal.JournalEntry.seq > restored_seq)
            .order_by(journal.JournalEntry.seq)
        )
        entries = [journal.entry_to_dict(row) for row in rows]
        if any(e["kind"] == journal.SNAPSHOT_REQUIRED for e in entries):
            raise RestoreRefused(
                "cannot compare with the live town: a bulk load happened after the copy's snapshot "
                "(ship a snapshot, then drill again)"
            )
        expected = {name: d.as_dict() for name, d in town_digests(live, tables, lg_code).items()}
    scratch = make_engine(scratch_url)
    try:
        with scratch.begin() as conn:
            declare(conn, lg_code)
            replay(conn, tables, lg_code, entries)
            restored = town_digests(conn, tables, lg_code)
    finally:
        scratch.dispose()
    wrong = differences(expected, restored)
    if wrong:
        raise DrillMismatch(
            f"the restored town differs from the live town at journal entry {head}: " + "; ".join(wrong)
        )
    return head, len(tables)


def drill(engine: Engine, custodian: Custodian, lg_code: str, keys: dict[str, bytes]) -> DrillReport:
    """Restore into a scratch SQLite file, compare it with the live town table by table, and measure RPO
    against the live journal."""
    with tempfile.TemporaryDirectory(prefix="jichitai-drill-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'drill.db'}"
        report = restore(url, custodian, lg_code, keys)
        compared_seq, compared = compare_with_live(engine, url, lg_code, report.journal_seq)
    with read_session(engine, tenant=lg_code) as session:
        head, _ = journal.head(session, lg_code)
        oldest = session.scalar(
            select(journal.JournalEntry.recorded_at)
            .where(journal.JournalEntry.lg_code == lg_code, journal.JournalEntry.seq > report.journal_seq)
            .order_by(journal.JournalEntry.seq)
            .limit(1)
        )
    rpo_seconds = 0.0
    if oldest is not None:
        rpo_seconds = (dt.datetime.now(dt.UTC) - as_utc(oldest)).total_seconds()
    return DrillReport(report, head - report.journal_seq, rpo_seconds, report.seconds, compared_seq, compared)


__all__ = [
    "CopyIncomplete",
    "DrillMismatch",
    "DrillReport",
    "RestoreRefused",
    "RestoreReport",
    "Verification",
    "drill",
    "restore",
    "verify_custodian",
]
