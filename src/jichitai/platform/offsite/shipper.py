"""Shipping a town's journal and snapshots to its custodians, resumable without gaps or duplicates.

The custodian is the record of what it holds: each pass lists its chunk ids (which carry the sequence
ranges) and ships the journal entries after the highest one, so a pass that died after storing a chunk
but before noting it here neither repeats nor skips anything. The table ``offsite_custodian`` names each
town's custodians and keeps the last outcome for ``jichitai offsite status`` and the alert.

The server's shipping job (:mod:`jichitai.platform.periodic`) does not visit every custodian on every pass:
:func:`due_custodians` finds, in one installation-wide query, the custodians whose town's journal has gone
past what they were last known to hold (or that failed a while ago, or were not checked for an hour), and
:func:`ship_due` works on those alone, so an idle installation costs a constant few statements per pass.
A manual ``jichitai offsite ship`` (:func:`ship_all`) still asks every custodian.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ForeignKeyConstraint, Integer, String, Table, case, func, or_, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform import metering
from jichitai.platform.db import LG_CODE, Base, UnitOfWork, as_utc, read_session, utcnow
from jichitai.platform.offsite import journal
from jichitai.platform.offsite.custodian import Custodian, parse_chunk_id
from jichitai.platform.offsite.drills import DrillState, OffsiteDrill, drill_state, run_drill
from jichitai.platform.offsite.drills import record as record_drill
from jichitai.platform.offsite.envelope import read_header, seal
from jichitai.platform.offsite.http_custodian import close, open_custodian
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.snapshot import PART_ROWS, dump, header, ship_snapshot
from jichitai.platform.offsite.tables import checked_tables
from jichitai.platform.tenancy import ALL_TOWNS, get_tenant

log = logging.getLogger(__name__)


class OffsiteCustodian(Base):
    """A custodian of one town's off-site copy and how shipping to it last went."""

    __tablename__ = "offsite_custodian"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    location: Mapped[str] = mapped_column(String(500), primary_key=True)
    shipped_seq: Mapped[int] = mapped_column(Integer, default=0)
    shipped_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    """One shipper at a time per custodian (server workers, a cron ``offsite ship``): see :func:`_lease`."""

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


def add_custodian(uow: UnitOfWork, lg_code: str, location: str) -> OffsiteCustodian:
    """Register a custodian (a directory, or a partner's URL) for a town (idempotent)."""
    get_tenant(uow.session, lg_code)
    row = uow.session.get(OffsiteCustodian, (lg_code, location))
    if row is None:
        row = OffsiteCustodian(lg_code=lg_code, location=location, shipped_seq=0)
        uow.session.add(row)
    uow.commit()
    return row


def _audit_head(images: dict[str, list[dict[str, Any]]], previous: Any) -> Any:
    audit = images.get("audit_entry") or []
    if not audit:
        return previous
    last = max(audit, key=lambda row: int(row["seq"]))
    return {"seq": last["seq"], "hash": last["entry_hash"]}


def _current_heads(custodian: Custodian, lg_code: str, ids: list[str]) -> dict[str, Any]:
    """The chain heads of the newest chunk held. ``heads.json`` is written after each chunk, so a pass that
    died between the two leaves it one chunk behind: then the newest chunk's clear header is the truth, and
    ``heads.json`` is repaired from it (the next chunk's audit head must continue from the right one)."""
    heads = custodian.heads(lg_code) or {}
    newest = max(
        (
            (to, kind == "journal", cid)
            for (kind, _, to), cid in zip(map(parse_chunk_id, ids), ids, strict=True)
            if kind in ("journal", "snapshot")
        ),
        default=None,
    )
    if newest is None or (heads.get("journal") or {}).get("seq") == newest[0]:
        return heads
    recorded = read_header(newest[2], custodian.get(lg_code, newest[2]))[0].get("heads") or {}
    custodian.put_heads(lg_code, recorded)
    return dict(recorded)


def _bulk_load_after(session: Session, lg_code: str, seq: int) -> bool:
    """True when a bulk load (a ``snapshot_required`` entry) happened after journal entry ``seq``."""
    found = session.scalar(
        select(journal.JournalEntry.seq)
        .where(
            journal.JournalEntry.lg_code == lg_code,
            journal.JournalEntry.seq > seq,
            journal.JournalEntry.kind == journal.SNAPSHOT_REQUIRED,
        )
        .limit(1)
    )
    return found is not None


@dataclass
class ShipResult:
    """What one pass shipped to one custodian."""

    lg_code: str
    custodian: str
    chunks: int = 0
    entries: int = 0
    snapshot: bool = False
    shipped_seq: int = 0
    pruned: int = 0
    busy: bool = False
    """Another shipper held this custodian, so this pass left it alone."""


def _put(
    custodian: Custodian,
    lg_code: str,
    header: dict[str, Any],
    body: dict[str, Any],
    wrapping: dict[str, bytes],
) -> None:
    sealed = seal(header, dump(body), wrapping)
    custodian.put(lg_code, sealed.chunk_id, sealed.blob, sealed.wraps)
    custodian.put_heads(lg_code, header["heads"])
    metering.add(lg_code, metering.OFFSITE_BYTES, len(sealed.blob))


def prune(custodian: Custodian, lg_code: str, keep: int) -> int:
    """Remove what the newest ``keep`` complete snapshots make unnecessary; the number of chunks removed.

    Kept: those snapshots, and every journal chunk reaching past the oldest of them (so a restore can stop
    at any point after it). Removed: older snapshots and their parts, journal chunks wholly before it, and
    parts of interrupted snapshot attempts older than the newest snapshot. Manifests go first, so a
    snapshot is never left complete-looking with parts missing.
    """
    held = [(parse_chunk_id(cid), cid) for cid in custodian.list(lg_code)]
    manifests = sorted(at for (kind, _, at), _ in held if kind == "snapshot")
    if not manifests:
        return 0
    oldest = manifests[-keep] if len(manifests) >= keep else manifests[0]
    newest = manifests[-1]
    kept = set(manifests[-keep:])
    doomed = [cid for (kind, _, at), cid in held if kind == "snapshot" and at < oldest]
    doomed += [
        cid
        for (kind, _, at), cid in held
        if kind == "snapshot-part" and (at < oldest or (at not in kept and at < newest))
    ]
    doomed += [cid for (kind, _, to), cid in held if kind == "journal" and to <= oldest]
    for cid in doomed:
        custodian.delete(lg_code, cid)
    return len(doomed)


def _unshipped(engine: Engine, lg_code: str, after: int, batch: int) -> list[dict[str, Any]]:
    with read_session(engine, tenant=lg_code) as session:
        entries = session.scalars(
            select(journal.JournalEntry)
            .where(journal.JournalEntry.lg_code == lg_code, journal.JournalEntry.seq > after)
            .order_by(journal.JournalEntry.seq)
            .limit(batch)
        )
        return [journal.entry_to_dict(e) for e in entries]


def ship_town(
    engine: Engine,
    keys: KeyStore,
    lg_code: str,
    custodian: Custodian,
    *,
    batch: int = 500,
    snapshot_every: int = 10_000,
    force_snapshot: bool = False,
    keep_snapshots: int = 3,
    part_rows: int = PART_ROWS,
) -> ShipResult:
    """Ship what the custodian lacks: a snapshot when due, then journal chunks of up to ``batch`` entries."""
    result = ShipResult(lg_code, custodian.name)
    wrapping = keys.wrapping_keys(lg_code)
    ids = custodian.list(lg_code)
    held = [parse_chunk_id(c) for c in ids]
    # Journal chunks continue from the custodian's last journal entry even across snapshots, so that the
    # custodian can replay to any point after its oldest snapshot (``--until``).
    shipped = max((to for kind, _, to in held if kind == "journal"), default=0)
    snapshot_at = max((to for kind, _, to in held if kind == "snapshot"), default=None)
    heads = _current_heads(custodian, lg_code, ids)
    with read_session(engine, tenant=lg_code) as session:
        head_seq, _ = journal.head(session, lg_code)
        marked = snapshot_at is not None and _bulk_load_after(session, lg_code, snapshot_at)
    due = snapshot_at is None or marked or head_seq - snapshot_at >= snapshot_every
    if (force_snapshot or due) and snapshot_at != head_seq:
        shipped_snapshot = ship_snapshot(
            engine, custodian, lg_code, wrapping, heads.get("audit"), part_rows=part_rows
        )
        heads = shipped_snapshot.heads
        result.chunks += shipped_snapshot.parts + 1
        result.snapshot = True
        result.pruned = prune(custodian, lg_code, keep_snapshots)
    while items := _unshipped(engine, lg_code, shipped, batch):
        more = len(items) == batch  # a short batch was the end of the journal: no further (empty) read
        first, last = items[0]["seq"], items[-1]["seq"]
        audit = [row for item in items for row in item["payload"].get("upsert", {}).get("audit_entry", [])]
        heads = {
            "journal": {"seq": last, "hash": items[-1]["entry_hash"]},
            "audit": _audit_head({"audit_entry": audit}, heads.get("audit")),
        }
        chunk_header = header(lg_code, "journal", first, last, heads=heads)
        _put(custodian, lg_code, chunk_header, {"entries": items}, wrapping)
        result.chunks += 1
        result.entries += len(items)
        shipped = last
        if not more:
            break
    result.shipped_seq = shipped
    return result


def _record(
    engine: Engine,
    lg_code: str,
    location: str,
    *,
    shipped: int | None,
    error: str | None,
    release: str | None = None,
) -> None:
    """Note the attempt's outcome on the custodian's row and, given the lease's owner, release the lease:
    one UPDATE in one write transaction (a pass writes twice per custodian: the lease and this)."""
    table = OffsiteCustodian.__table__
    assert isinstance(table, Table)
    now = utcnow()
    values: dict[str, Any] = {"last_attempt_at": now, "last_error": error[:500] if error else None}
    if shipped is not None:
        values.update(shipped_seq=shipped, shipped_at=now)
    if release is not None:
        mine = table.c.lease_owner == release
        values.update(
            lease_owner=case((mine, None), else_=table.c.lease_owner),
            lease_until=case((mine, None), else_=table.c.lease_until),
        )
    with UnitOfWork(engine, tenant=lg_code) as uow:
        uow.session.execute(
            update(table).where(table.c.lg_code == lg_code, table.c.location == location).values(**values)
        )
        uow.commit()


def ship_all(
    engine: Engine,
    keys: KeyStore,
    *,
    lg_code: str | None = None,
    snapshot_every: int = 10_000,
    force_snapshot: bool = False,
    keep_snapshots: int = 3,
) -> list[ShipResult | str]:
    """One pass over every registered custodian (of one town or all); a failure is recorded, not raised.

    Refused as a whole (:class:`~.tables.CopyIncomplete`) when the declared town tables and the database's
    differ: what is shipped must be the whole town.
    """
    with read_session(engine, tenant=lg_code or ALL_TOWNS) as session:
        query = select(OffsiteCustodian.lg_code, OffsiteCustodian.location)
        if lg_code is not None:
            query = query.where(OffsiteCustodian.lg_code == lg_code)
        rows = session.execute(query.order_by(OffsiteCustodian.lg_code, OffsiteCustodian.location))
        targets = [(str(code), str(location)) for code, location in rows]
    return _ship_targets(
        engine,
        keys,
        targets,
        snapshot_every=snapshot_every,
        force_snapshot=force_snapshot,
        keep_snapshots=keep_snapshots,
    )


RETRY_AFTER_ERROR = dt.timedelta(seconds=30)
"""A custodian whose last attempt failed is tried again after this long, not on every (one-second) pass:
an unreachable partner must not slow every pass down by its timeouts."""
RECHECK_EVERY = dt.timedelta(hours=1)
"""A custodian that seems current is asked what it holds at least this often (one whose copy was lost or
pruned by hand gets it back without waiting for the town's next change)."""


@dataclass(frozen=True)
class DueCustodian:
    """A custodian with something to do: its town's journal head and what it was last known to hold."""

    lg_code: str
    location: str
    journal_seq: int
    shipped_seq: int


def due_custodians(
    session: Session, *, now: dt.datetime | None = None, lg_codes: Sequence[str] | None = None
) -> list[DueCustodian]:
    """The custodians with something to ship, found in ONE statement whatever the number of towns.

    Due: the town's journal head (an index probe per custodian: the newest entry by primary key) is past the
    custodian's ``shipped_seq``, or the custodian was never tried, or it was not tried for
    :data:`RECHECK_EVERY`; one whose last attempt failed waits :data:`RETRY_AFTER_ERROR` first. The caller
    declares the transaction installation-wide (``'*'``) or for the town it names.
    """
    moment = now or utcnow()
    entry = journal.JournalEntry
    custodian = OffsiteCustodian
    head = (
        select(entry.seq)
        .where(entry.lg_code == custodian.lg_code)
        .order_by(entry.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    behind = func.coalesce(head, 0) > custodian.shipped_seq
    query = (
        select(custodian.lg_code, custodian.location, func.coalesce(head, 0), custodian.shipped_seq)
        .where(
            or_(
                custodian.last_attempt_at.is_(None),
                custodian.last_attempt_at < moment - RECHECK_EVERY,
                behind
                & (custodian.last_error.is_(None) | (custodian.last_attempt_at < moment - RETRY_AFTER_ERROR)),
            )
        )
        .order_by(custodian.lg_code, custodian.location)
    )
    if lg_codes is not None:
        query = query.where(custodian.lg_code.in_(list(lg_codes)))
    return [DueCustodian(str(c), str(loc), int(h), int(s)) for c, loc, h, s in session.execute(query)]


SHIP_THREADS = 4
"""Custodians shipped at once by one pass (:func:`ship_due`): most of a chunk's cost is waiting — fsyncs
of a directory custodian, a partner's answer — so a few threads keep a pass over many due towns short."""


def ship_due(
    engine: Engine,
    keys: KeyStore,
    *,
    snapshot_every: int = 10_000,
    keep_snapshots: int = 3,
    threads: int = SHIP_THREADS,
    now: dt.datetime | None = None,
) -> list[ShipResult | str]:
    """One pass of the server's shipper: ship to the custodians :func:`due_custodians` names, and no other.

    An idle installation costs the one discovery query (and its declaration); each due custodian is then
    shipped as by :func:`ship_all`, under its lease, in transactions declared for its town.
    """
    with read_session(engine, tenant=ALL_TOWNS) as session:
        targets = [(d.lg_code, d.location) for d in due_custodians(session, now=now)]
    return _ship_targets(
        engine,
        keys,
        targets,
        snapshot_every=snapshot_every,
        force_snapshot=False,
        keep_snapshots=keep_snapshots,
        threads=threads,
        cached_check=True,
    )


TABLES_RECHECK = 60.0
"""Seconds the server's shipper trusts its last check that the declared town tables are the database's
(:func:`~.tables.checked_tables` reads the catalogue: on SQLite one statement per table, on every pass)."""
_tables_checked: dict[str, float] = {}


def _check_tables(engine: Engine, *, cached: bool) -> None:
    """Refuse to ship when the declared and the present town tables differ; with ``cached``, at most every
    :data:`TABLES_RECHECK` seconds per database (a pass after a failed check checks again)."""
    key = engine.url.render_as_string(hide_password=True)
    if cached and time.monotonic() - _tables_checked.get(key, -TABLES_RECHECK) < TABLES_RECHECK:
        return
    with engine.connect() as conn:
        checked_tables(conn)
    _tables_checked[key] = time.monotonic()


def _ship_targets(
    engine: Engine,
    keys: KeyStore,
    targets: list[tuple[str, str]],
    *,
    snapshot_every: int,
    force_snapshot: bool,
    keep_snapshots: int,
    threads: int = 1,
    cached_check: bool = False,
) -> list[ShipResult | str]:
    """Ship to each (town, custodian) under its lease, in order of ``targets`` (results likewise)."""
    if not targets:
        return []
    _check_tables(engine, cached=cached_check)
    owner = uuid.uuid4().hex

    def one(target: tuple[str, str]) -> ShipResult | str:
        code, location = target
        if not _lease(engine, code, location, owner):
            return ShipResult(code, location, busy=True)
        try:
            return _ship_one(
                engine, keys, code, location, snapshot_every, force_snapshot, keep_snapshots, owner
            )
        except BaseException:
            _release(engine, code, location, owner)  # recording the outcome failed: at least let go
            raise

    if threads <= 1 or len(targets) == 1:
        return [one(target) for target in targets]
    with ThreadPoolExecutor(
        max_workers=min(threads, len(targets)), thread_name_prefix="offsite-ship"
    ) as pool:
        return list(pool.map(one, targets))


LEASE = dt.timedelta(hours=1)
"""How long a shipper may hold a custodian before another may take it over (a pass that died)."""


def _lease(engine: Engine, lg_code: str, location: str, owner: str) -> bool:
    """Take the custodian for this pass, unless another shipper holds it (one atomic conditional UPDATE).

    A unit of work, so that on SQLite it queues with the requests' writers instead of polling for the lock.
    """
    table = OffsiteCustodian.__table__
    assert isinstance(table, Table)
    now = utcnow()
    with UnitOfWork(engine, tenant=lg_code) as uow:
        taken = uow.session.execute(
            update(table)
            .where(
                table.c.lg_code == lg_code,
                table.c.location == location,
                or_(table.c.lease_until.is_(None), table.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + LEASE)
        )
        uow.commit()
        return cast(CursorResult[Any], taken).rowcount == 1


def _release(engine: Engine, lg_code: str, location: str, owner: str) -> None:
    table = OffsiteCustodian.__table__
    assert isinstance(table, Table)
    with UnitOfWork(engine, tenant=lg_code) as uow:
        uow.session.execute(
            update(table)
            .where(table.c.lg_code == lg_code, table.c.location == location, table.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        uow.commit()


def _ship_one(
    engine: Engine,
    keys: KeyStore,
    code: str,
    location: str,
    snapshot_every: int,
    force_snapshot: bool,
    keep_snapshots: int,
    owner: str,
) -> ShipResult | str:
    """Ship to one custodian whose lease ``owner`` holds; the outcome is recorded and the lease released."""
    try:
        custodian = open_custodian(location, code, keys.root.parent)
    except Exception as exc:  # e.g. the partner's custody token is missing
        message = f"{type(exc).__name__}: {exc}"
        _record(engine, code, location, shipped=None, error=message, release=owner)
        return f"{code} {location}: {message}"
    try:
        result = ship_town(
            engine,
            keys,
            code,
            custodian,
            snapshot_every=snapshot_every,
            force_snapshot=force_snapshot,
            keep_snapshots=keep_snapshots,
        )
    except Exception as exc:  # an unreachable custodian must not stop the others
        message = f"{type(exc).__name__}: {exc}"
        log.warning("offsite shipping to a custodian failed", extra={"lg_code": code, "error": message})
        _record(engine, code, location, shipped=None, error=message, release=owner)
        return f"{code} {location}: {message}"
    finally:
        close(custodian)
    _record(engine, code, location, shipped=result.shipped_seq, error=None, release=owner)
    return result


@dataclass(frozen=True)
class CustodianStatus:
    """How far one custodian is behind and whether that warrants an alert."""

    lg_code: str
    location: str
    journal_seq: int
    shipped_seq: int
    shipped_at: dt.datetime | None
    last_error: str | None
    alert: bool
    drill: DrillState | None = None

    @property
    def drill_alert(self) -> bool:
        """True when no restore drill from this custodian succeeded recently enough, or the last failed."""
        return self.drill is not None and self.drill.overdue

    @property
    def unshipped(self) -> int:
        """Journal entries not yet at the custodian (the RPO in entries)."""
        return self.journal_seq - self.shipped_seq


def status(
    engine: Engine,
    *,
    alert_after: dt.timedelta,
    lg_code: str | None = None,
    drill_max_age: dt.timedelta | None = None,
) -> list[CustodianStatus]:
    """Each custodian's lag; ``alert`` when it has not taken a chunk for longer than ``alert_after``
    while the journal has entries it lacks. With ``drill_max_age``, also whether its drills are current."""
    now = utcnow()
    out = []
    with read_session(engine, tenant=lg_code or ALL_TOWNS) as session:
        query = select(OffsiteCustodian).order_by(OffsiteCustodian.lg_code, OffsiteCustodian.location)
        if lg_code is not None:
            query = query.where(OffsiteCustodian.lg_code == lg_code)
        for row in session.scalars(query):
            seq, _ = journal.head(session, row.lg_code)
            since = as_utc(row.shipped_at) or as_utc(row.created_at) or now
            behind = seq > row.shipped_seq
            out.append(
                CustodianStatus(
                    row.lg_code,
                    row.location,
                    seq,
                    row.shipped_seq,
                    as_utc(row.shipped_at),
                    row.last_error,
                    behind and now - since > alert_after,
                    None
                    if drill_max_age is None
                    else drill_state(session, row.lg_code, row.location, row.created_at, drill_max_age),
                )
            )
    return out


def rotate_town_key(keys: KeyStore, lg_code: str, custodians: list[Custodian]) -> tuple[str, int]:
    """Give the town a new key and re-wrap every stored chunk's data key for it (ciphertext untouched).

    The old key is kept as ``*.retired`` so that a rotation interrupted half-way can be run again.
    """
    from jichitai.platform.offsite.envelope import rewrap

    escrow_id, escrow = keys.escrow()
    old_id, old = keys.town(lg_code)
    new_id, new, _ = keys.replace_town(lg_code)
    count = 0
    for custodian in custodians:
        for cid in custodian.list(lg_code):
            wraps = custodian.get_wraps(lg_code, cid)
            if new_id in wraps and old_id not in wraps:
                continue
            fresh = rewrap(cid, wraps, {old_id: old, escrow_id: escrow}, {new_id: new, escrow_id: escrow})
            custodian.put_wraps(lg_code, cid, fresh)
            count += 1
    return new_id, count


def drills_due(
    session: Session, interval: dt.timedelta, *, now: dt.datetime | None = None
) -> list[tuple[str, str]]:
    """(town, custodian) of every custodian that was shipped to and whose last drill is older than
    ``interval`` (or that never had one): ONE grouped statement over every town and custodian."""
    moment = now or utcnow()
    last = (
        select(
            OffsiteDrill.lg_code, OffsiteDrill.location, func.max(OffsiteDrill.started_at).label("last_at")
        )
        .group_by(OffsiteDrill.lg_code, OffsiteDrill.location)
        .subquery()
    )
    query = (
        select(OffsiteCustodian.lg_code, OffsiteCustodian.location)
        .outerjoin(
            last,
            (last.c.lg_code == OffsiteCustodian.lg_code) & (last.c.location == OffsiteCustodian.location),
        )
        .where(
            OffsiteCustodian.shipped_seq > 0,
            or_(last.c.last_at.is_(None), last.c.last_at <= moment - interval),
        )
        .order_by(OffsiteCustodian.lg_code, OffsiteCustodian.location)
    )
    return [(str(code), str(location)) for code, location in session.execute(query)]


def run_due_drills(engine: Engine, keys: KeyStore, interval: dt.timedelta) -> int:
    """Drill every custodian whose last drill is older than ``interval``; the number run."""
    with read_session(engine, tenant=ALL_TOWNS) as session:
        targets = drills_due(session, interval)
    for code, location in targets:
        run_drill_at(engine, keys, code, location)
    return len(targets)


def run_drill_at(engine: Engine, keys: KeyStore, lg_code: str, location: str) -> OffsiteDrill:
    """Drill one town from one registered custodian and record the outcome (never raises for it)."""
    try:
        custodian = open_custodian(location, lg_code, keys.root.parent)
    except Exception as exc:  # e.g. the partner's custody token is missing
        return record_drill(engine, lg_code, location, utcnow(), None, f"{type(exc).__name__}: {exc}")
    try:
        return run_drill(engine, keys, lg_code, location, custodian)
    finally:
        close(custodian)
