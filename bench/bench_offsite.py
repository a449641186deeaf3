"""Off-site copy (副本): RPO under sustained event load and RTO of a large town, each against a baseline.

Two parts, chosen with ``--part`` (``rpo``, ``rto`` or ``all``), on one engine (``--database``):

**RPO** — the real server (``jichitai serve``, as in ``bench_events.py``) records a mix of 転居/出生/職権修正
from ``--clients`` threads for ``--seconds``, twice on the same town: first with its off-site shipper off
(the baseline: the journal is still written in every transaction, only shipping is off), then with the
shipper on (``JICHITAI_OFFSITE_SHIP_INTERVAL=--interval``) shipping to a directory custodian registered for
the town. The custodian already holds a snapshot and the journal up to the start of the run, so the run
ships journal chunks only. Each acknowledged event's ``event_no`` and the monotonic time of its 201 answer
are recorded; afterwards the journal is read to map every ``event_no`` to the journal ``seq`` of its
transaction. A thread of this process lists the custodian every 50 ms and notes when each journal ``seq``
first became held there. For each event:

- *lag seconds* = time its journal entry was first held at the custodian − time the client had its answer;
- *lag entries* = its journal ``seq`` − the highest ``seq`` held when it was answered (what a site loss at
  that moment would lose, counted in journal entries).

Both are reported as p50/p99/max, beside the events/s of both runs (``ratio_events_shipping_to_baseline``).
After the clients stop, the server runs until the custodian holds every acknowledged event (at most three
intervals); events never held are counted in ``unshipped_events``.

**RTO** — a fresh town of ``--residents`` synthetic residents (``load_population``, the loader of
``jichitai registry generate``), then ``ship_town(…, force_snapshot=True)`` to an empty directory
custodian (timed), then
``restore()`` into a fresh, migrated database of the same engine (timed; the migration is timed apart, on
both sides). Baseline in the same run, moving the same data without the off-site machinery:

- PostgreSQL: ``COPY (SELECT * FROM <table> WHERE lg_code = …) TO STDOUT`` of every table the snapshot
  holds plus ``tenant_sequence``, written to files and fsynced, then ``COPY … FROM STDIN`` of those files in
  foreign-key order, in one transaction, into a fresh database migrated to the same schema;
- SQLite: a copy of the (checkpointed) database file, fsynced.

``ratio_restore_to_baseline`` and ``ratio_ship_to_baseline`` are the seconds over the baseline's seconds.
The restored resident count must equal the source's (``residents_match``), as must every table's row count.
Peak RSS is sampled per phase (``/proc/self/status``) and for the process (``getrusage``); a watchdog ends
the run, dropping its databases, when RSS passes ``--max-rss-gib``. ``--profile`` prints the top functions of
the ship and the restore (cProfile, by own time) to stderr.

PostgreSQL databases are named ``bench_offsite_*`` and dropped at the end; keys, custodians, SQLite files
and COPY files go to a temporary directory that is removed (``--keep`` keeps both).

Run: ``.venv/bin/python bench/bench_offsite.py --part all --database postgresql --residents 1000000``
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import gc
import io
import os
import pstats
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine, Table, func, select, text

from _common import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    create_town,
    drop_pg_database,
    emit,
    fresh_pg_database,
    fresh_sqlite_file,
    machine,
    open_engine,
    p50_p99_ms,
    percentile,
    ratio,
    sqlite_url,
    staff_headers,
)
from bench_events import EventClient, _free_port, _households, _seed, _start_server, _stop_server
from jichitai.devdata.registry.bulk import load_population
from jichitai.modules.registry.records.models import PersonRecord, ResidentStatus
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.custodian import DirectoryCustodian, parse_chunk_id
from jichitai.platform.offsite.journal import JournalEntry
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.restore import restore
from jichitai.platform.offsite.shipper import add_custodian, ship_town
from jichitai.platform.offsite.tables import copied_tables
from jichitai.platform.tenancy import TenantSequence

LG_CODE = "034614"
PREFIX = "bench_offsite_"
POLL_SECONDS = 0.05
T = TypeVar("T")


# --- memory -------------------------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_gib() -> float:
    """Peak RSS of this process so far (``getrusage``; kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class RssWatch(threading.Thread):
    """Samples RSS every 0.2 s: the peak since :meth:`reset`; past ``limit`` it cleans up and exits."""

    def __init__(self, limit_bytes: int, on_exceed: Callable[[], None]) -> None:
        super().__init__(name="rss-watch", daemon=True)
        self.limit = limit_bytes
        self.on_exceed = on_exceed
        self.peak = 0
        self.phase = "start"

    def reset(self, phase: str) -> None:
        gc.collect()
        self.phase = phase
        self.peak = rss_bytes()

    def peak_gib(self) -> float:
        return self.peak / 2**30

    def run(self) -> None:
        while True:
            now = rss_bytes()
            self.peak = max(self.peak, now)
            if now > self.limit:
                print(
                    f"RSS {now / 2**30:.2f} GiB passed the limit {self.limit / 2**30:.2f} GiB during "
                    f"{self.phase}: giving up (peak {peak_rss_gib():.2f} GiB)",
                    file=sys.stderr,
                    flush=True,
                )
                try:
                    self.on_exceed()
                finally:
                    os._exit(3)
            time.sleep(0.2)


@contextmanager
def profiled(enabled: bool, title: str) -> Iterator[None]:
    """cProfile the block and print its top functions by own time (stderr) when enabled."""
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(22)
        stats.sort_stats("cumulative").print_stats(22)
        print(f"--- profile: {title} ---\n{out.getvalue()}", file=sys.stderr)


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """The call's result and its wall seconds."""
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


# --- set-up shared by both parts ----------------------------------------------------------------------------


@dataclass
class Resources:
    """What the run created, so that it can be removed however the run ends."""

    tmp: Path
    databases: list[str] = field(default_factory=list)
    keep: bool = False

    def database(self, kind: str, name: str) -> str:
        """A fresh, empty database (not migrated): PostgreSQL ``bench_offsite_<name>`` or a SQLite file."""
        if kind == "postgresql":
            full = PREFIX + name
            self.databases.append(full)
            return fresh_pg_database(full)
        return fresh_sqlite_file(self.tmp / f"{name}.db")

    def cleanup(self) -> None:
        if self.keep:
            print(f"kept: {self.tmp} {self.databases}", file=sys.stderr)
            return
        for name in self.databases:
            try:
                drop_pg_database(name)
            except psycopg.Error as exc:
                print(f"could not drop {name}: {exc}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


def pg_conninfo(url: str) -> str:
    """psycopg conninfo of a SQLAlchemy PostgreSQL URL made by ``_common.pg_url``."""
    name = url.rsplit("/", 1)[1]
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def directory_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def held_journal_seq(custodian: DirectoryCustodian) -> int:
    """The highest journal seq the custodian holds: the end of a journal chunk or a complete snapshot's seq
    (snapshot parts and ids of other kinds are skipped)."""
    best = 0
    for cid in custodian.list(LG_CODE):
        try:
            kind, _, to = parse_chunk_id(cid)
        except ValueError:
            continue
        if kind in ("journal", "snapshot"):
            best = max(best, to)
    return best


def journal_head(engine: Engine) -> int:
    with read_session(engine) as session:
        return int(
            session.scalar(
                select(func.coalesce(func.max(JournalEntry.seq), 0)).where(JournalEntry.lg_code == LG_CODE)
            )
            or 0
        )


# --- RPO ----------------------------------------------------------------------------------------------------


class AckClient(EventClient):
    """:class:`bench_events.EventClient` that also notes each answer's time and ``event_no``."""

    def __init__(self, *args: Any, run_no: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acks: list[tuple[float, int]] = []
        self.counter = run_no * 1_000_000  # a later run's 方書 never repeats an earlier one's (no_changes)

    def acknowledged(self, at: float, answer: dict[str, Any]) -> None:
        """Note when the client had the answer and which event it was."""
        self.acks.append((at, int(answer["event_no"])))


class CustodianPoller(threading.Thread):
    """Lists the custodian every 50 ms; ``history``: (monotonic time, highest journal seq held) on change."""

    def __init__(self, custodian: DirectoryCustodian) -> None:
        super().__init__(name="custodian-poller", daemon=True)
        self.custodian = custodian
        self.stopping = threading.Event()
        self.history: list[tuple[float, int]] = [(time.monotonic(), held_journal_seq(custodian))]

    def run(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            seq = held_journal_seq(self.custodian)
            if seq > self.history[-1][1]:
                self.history.append((time.monotonic(), seq))

    @property
    def held(self) -> int:
        return self.history[-1][1]

    def held_at(self, moment: float) -> int:
        """Highest seq held at ``moment`` (as last polled before it)."""
        index = bisect.bisect_right([t for t, _ in self.history], moment) - 1
        return self.history[max(index, 0)][1]

    def first_held(self, seq: int) -> float | None:
        """When ``seq`` was first seen held, or None."""
        index = bisect.bisect_left([s for _, s in self.history], seq)
        return self.history[index][0] if index < len(self.history) else None


def event_seqs(engine: Engine, after: int) -> dict[int, int]:
    """``event_no`` → ``seq`` of the journal entry that carries the event's row (entries after ``after``)."""
    found: dict[int, int] = {}
    with read_session(engine) as session:
        rows = session.execute(
            select(JournalEntry.seq, JournalEntry.payload)
            .where(JournalEntry.lg_code == LG_CODE, JournalEntry.seq > after)
            .order_by(JournalEntry.seq)
        )
        for seq, payload in rows:
            for image in (payload or {}).get("upsert", {}).get("registry_event", []):
                found.setdefault(int(image["event_no"]), int(seq))
    return found


@dataclass
class LoadRun:
    """One timed run of the clients against the server."""

    events: int
    wall: float
    latencies: list[float]
    acks: list[tuple[float, int]]
    errors: list[str]
    by_type: Counter[str]

    @property
    def events_per_second(self) -> float:
        return ratio(self.events, self.wall)


def run_load(
    url: str,
    households: list[Any],
    headers: dict[str, str],
    args: argparse.Namespace,
    *,
    interval: float,
    run_no: int,
    key_dir: Path,
    poller: CustodianPoller | None,
    engine: Engine,
) -> LoadRun:
    """Start the server with the shipper at ``interval`` (0: off), drive the clients, stop it."""
    os.environ["JICHITAI_OFFSITE_SHIP_INTERVAL"] = str(int(interval))
    os.environ["JICHITAI_KEY_DIR"] = str(key_dir)
    port = _free_port()
    server = _start_server(url, port)
    try:
        barrier = threading.Barrier(args.clients + 1)
        clients = [
            AckClient(i, port, households[i :: args.clients], barrier, args.seconds, headers, run_no=run_no)
            for i in range(args.clients)
        ]
        for client in clients:
            client.start()
        if poller is not None:
            poller.start()
        barrier.wait()
        started = time.perf_counter()
        for client in clients:
            client.join()
        wall = time.perf_counter() - started
        if poller is not None:
            # Let the shipper catch up with everything acknowledged (at most three passes).
            target = journal_head(engine)
            deadline = time.monotonic() + 3 * interval + 10
            while poller.held < target and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
            time.sleep(2 * POLL_SECONDS)
            poller.stopping.set()
            poller.join()
    finally:
        _stop_server(server)
    acks = sorted(a for c in clients for a in c.acks)
    return LoadRun(
        len(acks),
        wall,
        [t for c in clients for t in c.result.latencies],
        acks,
        [e for c in clients for e in c.result.errors],
        sum((c.result.by_type for c in clients), Counter()),
    )


def part_rpo(args: argparse.Namespace, res: Resources) -> None:
    rng = random.Random(7)
    url = res.database(args.database, "rpo")
    upgrade(url)
    engine = open_engine(url)
    tenant = create_town(engine)
    began = time.perf_counter()
    _seed(engine, tenant, args.households, rng)
    households = _households(engine, tenant, args.households, rng)
    headers = staff_headers(engine, tenant)
    keys = KeyStore(res.tmp / "keys-rpo")
    keys.init_escrow()
    custodian = DirectoryCustodian(res.tmp / "custodian-rpo")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, LG_CODE, str(custodian.root))
    first = ship_town(engine, keys, LG_CODE, custodian)  # the seed's snapshot and journal so far
    print(
        f"seeded {len(households)} households and shipped their snapshot (seq {first.shipped_seq}) in "
        f"{time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    load_before = machine()

    baseline = run_load(
        url,
        households,
        headers,
        args,
        interval=0,
        run_no=0,
        key_dir=res.tmp / "keys-rpo",
        poller=None,
        engine=engine,
    )
    # The baseline's entries were journaled but not shipped: ship them now, outside the timed run.
    ship_town(engine, keys, LG_CODE, custodian)
    start_seq = journal_head(engine)
    poller = CustodianPoller(custodian)
    shipped = run_load(
        url,
        households,
        headers,
        args,
        interval=args.interval,
        run_no=1,
        key_dir=res.tmp / "keys-rpo",
        poller=poller,
        engine=engine,
    )
    end_seq = journal_head(engine)
    seqs = event_seqs(engine, start_seq)
    kinds = Counter(parse_chunk_id(c)[0] for c in custodian.list(LG_CODE))
    engine.dispose()

    lag_seconds: list[float] = []
    lag_entries: list[float] = []
    unmapped = unshipped = 0
    for acked, event_no in shipped.acks:
        seq = seqs.get(event_no)
        if seq is None:
            unmapped += 1
            continue
        lag_entries.append(seq - poller.held_at(acked))
        held = poller.first_held(seq)
        if held is None:
            unshipped += 1
        else:
            lag_seconds.append(max(held - acked, 0.0))
    for error in (baseline.errors + shipped.errors)[:10]:
        print(f"error: {error}", file=sys.stderr)
    base_p50, base_p99 = p50_p99_ms(baseline.latencies)
    ship_p50, ship_p99 = p50_p99_ms(shipped.latencies)
    emit(
        {
            "benchmark": "offsite_rpo",
            "database": args.database,
            "clients": args.clients,
            "seconds": args.seconds,
            "interval_s": args.interval,
            "households": len(households),
            "baseline_events": baseline.events,
            "baseline_events_per_second": baseline.events_per_second,
            "baseline_p50_ms": base_p50,
            "baseline_p99_ms": base_p99,
            "shipping_events": shipped.events,
            "shipping_events_per_second": shipped.events_per_second,
            "shipping_p50_ms": ship_p50,
            "shipping_p99_ms": ship_p99,
            "ratio_events_shipping_to_baseline": ratio(shipped.events_per_second, baseline.events_per_second),
            "errors": len(baseline.errors) + len(shipped.errors),
            "journal_entries_in_run": end_seq - start_seq,
            "journal_chunks_held": kinds["journal"],
            "snapshots_held": kinds["snapshot"],
            "lag_p50_s": percentile(lag_seconds, 50),
            "lag_p99_s": percentile(lag_seconds, 99),
            "lag_max_s": max(lag_seconds, default=float("nan")),
            "lag_entries_p50": percentile(lag_entries, 50),
            "lag_entries_p99": percentile(lag_entries, 99),
            "lag_entries_max": max(lag_entries, default=float("nan")),
            "unshipped_events": unshipped,
            "unmapped_events": unmapped,
            "custodian_bytes": directory_bytes(custodian.root),
            **load_before,
        }
    )


# --- RTO ----------------------------------------------------------------------------------------------------


def resident_count(engine: Engine) -> int:
    rec = PersonRecord
    with read_session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(rec)
                .where(
                    rec.lg_code == LG_CODE, rec.is_current.is_(True), rec.status == ResidentStatus.RESIDENT
                )
            )
            or 0
        )


def baseline_tables() -> list[Table]:
    """What the snapshot holds (every town table, foreign-key order) plus the counters."""
    counters = TenantSequence.__table__
    assert isinstance(counters, Table)
    return [*copied_tables(), counters]


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {
            t.name: int(conn.scalar(select(func.count()).select_from(t).where(t.c.lg_code == LG_CODE)) or 0)
            for t in baseline_tables()
        }
    return {k: v for k, v in counts.items() if v}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_out_pg(url: str, folder: Path) -> int:
    """COPY every table's town rows to a file each (fsynced), in one transaction; bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    with psycopg.connect(pg_conninfo(url)) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for table in baseline_tables():
            path = folder / f"{table.name}.copy"
            statement = f"COPY (SELECT * FROM {table.name} WHERE lg_code = '{LG_CODE}') TO STDOUT"
            with open(path, "wb") as f, conn.cursor().copy(statement) as copy:
                for data in copy:
                    f.write(data)
                f.flush()
                os.fsync(f.fileno())
            total += path.stat().st_size
        conn.rollback()
    _fsync(folder)
    return total


def copy_in_pg(url: str, folder: Path) -> None:
    """COPY the files into ``url`` (migrated, empty) in foreign-key order, in one transaction."""
    with psycopg.connect(pg_conninfo(url)) as conn:
        for table in baseline_tables():
            with (
                open(folder / f"{table.name}.copy", "rb") as f,
                conn.cursor().copy(f"COPY {table.name} FROM STDIN") as copy,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        conn.commit()


def copy_file_sqlite(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    _fsync(target)
    _fsync(target.parent)


def part_rto(args: argparse.Namespace, res: Resources, watch: RssWatch) -> None:
    kind = args.database
    load_before = machine()
    watch.reset("generate")
    url = res.database(kind, "source")
    upgrade(url)
    engine = open_engine(url)
    tenant = create_town(engine)
    stats = load_population(engine, tenant, args.residents, 1, actor="bench", progress=False)
    source_residents = resident_count(engine)
    source_counts = table_counts(engine)
    source_bytes = (
        int(engine.connect().execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        if kind == "postgresql"
        else (res.tmp / "source.db").stat().st_size
    )
    generate_peak = watch.peak_gib()
    print(
        f"{kind}: {stats['residents']} residents loaded in {stats['seconds']:.1f} s; rows {source_counts}",
        file=sys.stderr,
    )

    # Ship a full snapshot to an empty custodian.
    keys = KeyStore(res.tmp / "keys-rto")
    keys.init_escrow()
    keys.wrapping_keys(LG_CODE)
    custodian = DirectoryCustodian(res.tmp / "custodian-rto")
    watch.reset("ship")
    with profiled(args.profile, "ship_town(force_snapshot=True)"):
        shipped, ship_seconds = timed(
            lambda: ship_town(engine, keys, LG_CODE, custodian, force_snapshot=True)
        )
    ship_peak = watch.peak_gib()
    custodian_bytes = directory_bytes(custodian.root)
    print(f"shipped {shipped} in {ship_seconds:.1f} s, {custodian_bytes:,} bytes", file=sys.stderr)

    # Restore into a fresh database of the same engine (migrated first, timed apart).
    target = res.database(kind, "restored")
    _, migrate_seconds = timed(lambda: upgrade(target))
    watch.reset("restore")
    with profiled(args.profile, "restore()"):
        report, restore_seconds = timed(
            lambda: restore(target, custodian, LG_CODE, dict([keys.town(LG_CODE)]))
        )
    restore_peak = watch.peak_gib()
    restored_engine = open_engine(target)
    restored_residents = resident_count(restored_engine)
    restored_counts = table_counts(restored_engine)
    restored_engine.dispose()
    print(f"restored in {restore_seconds:.1f} s: {report.rows}, audit {report.audit}", file=sys.stderr)

    # Baseline: the same rows moved raw.
    watch.reset("baseline")
    baseline: dict[str, Any]
    if kind == "postgresql":
        folder = res.tmp / "copy"
        copy_bytes, out_seconds = timed(lambda: copy_out_pg(url, folder))
        copy_target = res.database(kind, "copy")
        upgrade(copy_target)
        _, in_seconds = timed(lambda: copy_in_pg(copy_target, folder))
        copy_engine = open_engine(copy_target)
        copied_residents = resident_count(copy_engine)
        copy_engine.dispose()
        baseline_seconds = out_seconds + in_seconds
        baseline = {
            "baseline": "COPY TO files + COPY FROM into a migrated database",
            "baseline_out_seconds": out_seconds,
            "baseline_in_seconds": in_seconds,
            "baseline_bytes": copy_bytes,
            "ratio_ship_to_copy_out": ratio(ship_seconds, out_seconds),
            "ratio_restore_to_copy_in": ratio(restore_seconds, in_seconds),
        }
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        copy_path = res.tmp / "copy.db"
        _, baseline_seconds = timed(lambda: copy_file_sqlite(res.tmp / "source.db", copy_path))
        copy_engine = open_engine(sqlite_url(copy_path))
        copied_residents = resident_count(copy_engine)
        copy_engine.dispose()
        baseline = {"baseline": "file copy + fsync", "baseline_bytes": copy_path.stat().st_size}
    engine.dispose()

    emit(
        {
            "benchmark": "offsite_rto",
            "database": kind,
            "residents": stats["residents"],
            "generate_seconds": stats["seconds"],
            "source_rows": sum(source_counts.values()),
            "source_bytes": source_bytes,
            "ship_seconds": ship_seconds,
            "ship_chunks": shipped.chunks,
            "custodian_bytes": custodian_bytes,
            "migrate_seconds": migrate_seconds,
            "restore_seconds": restore_seconds,
            "restore_report_seconds": report.seconds,
            "restored_rows": sum(restored_counts.values()),
            "residents_match": restored_residents == source_residents,
            "rows_match": restored_counts == source_counts,
            "copied_residents_match": copied_residents == source_residents,
            "audit_ok": bool(report.audit and report.audit.ok),
            **baseline,
            "baseline_seconds": baseline_seconds,
            "ratio_restore_to_baseline": ratio(restore_seconds, baseline_seconds),
            "ratio_ship_to_baseline": ratio(ship_seconds, baseline_seconds),
            "peak_rss_generate_gib": generate_peak,
            "peak_rss_ship_gib": ship_peak,
            "peak_rss_restore_gib": restore_peak,
            "peak_rss_process_gib": peak_rss_gib(),
            **load_before,
            "loadavg_1m_end": machine()["loadavg_1m"],
        }
    )
    if restored_residents != source_residents or restored_counts != source_counts:
        print(f"MISMATCH: source {source_counts} restored {restored_counts}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("rpo", "rto", "all"), default="all")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--residents", type=int, default=1_000_000, help="RTO: size of the town")
    parser.add_argument("--seconds", type=int, default=60, help="RPO: length of each load run")
    parser.add_argument("--interval", type=float, default=5.0, help="RPO: shipper interval (s)")
    parser.add_argument("--clients", type=int, default=8, help="RPO: concurrent clients")
    parser.add_argument("--households", type=int, default=2000, help="RPO: households driven")
    parser.add_argument("--max-rss-gib", type=float, default=8.0, help="give up past this RSS")
    parser.add_argument("--profile", action="store_true", help="RTO: cProfile the ship and the restore")
    parser.add_argument("--keep", action="store_true", help="keep the databases and temporary files")
    args = parser.parse_args()

    capture.install()  # the bench process journals its own writes, like the CLI and the server
    res = Resources(Path(tempfile.mkdtemp(prefix=PREFIX)), keep=args.keep)
    watch = RssWatch(int(args.max_rss_gib * 2**30), res.cleanup)
    watch.start()
    try:
        if args.part in ("rpo", "all"):
            part_rpo(args, res)
        if args.part in ("rto", "all"):
            part_rto(args, res, watch)
    finally:
        res.cleanup()


if __name__ == "__main__":
    main()
