"""Metering: how much each town used the installation, per month, collected cheaply in the background.

Figures are rows of ``platform_usage`` (town, month ``YYYY-MM`` in JST, metric, value). Two kinds:

- **counted** as they happen, in this process's memory, and added to the table by the ``metering.flush``
  job about once a minute (one multi-row statement per flush): requests and CPU time per town (from the
  ``{lg_code}`` of ``/api/v1/municipalities/{lg_code}/…`` and ``/ui/{lg_code}/…``, by
  :class:`MeteringMiddleware`), and the bytes the off-site copy ships for each town (:func:`add`);
- **measured** by the ``metering.measure`` job every few hours, the last answer of a month standing for the
  month: the database bytes each town's rows take (every town-keyed table, audit trail and history
  included, estimated from the table sizes the database reports, shared out by each town's row count), and
  the figures the modules declare (:class:`~jichitai.platform.modules.MeterSpec`: e.g. certificates issued,
  residents), each read by the module's own function.

CPU time is an estimate: a request's work runs partly on the event loop and partly in a worker thread, so
the process's CPU time is shared out among the requests in flight while it is spent (each of ``n`` requests
in flight is charged ``1/n`` of it). Work done while no request is in flight (the periodic jobs) is charged
to nobody: it is the installation's own overhead, which the 均等割 of the cost split carries.

Counts a process has not yet flushed are lost if it is killed (a clean shutdown flushes them): metering is
for sharing costs, not for billing to the request.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import anyio
from sqlalchemy import BigInteger, Engine, ForeignKey, String, Table, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jichitai.platform.clock import JST
from jichitai.platform.db import LG_CODE, Base, UnitOfWork, read_session
from jichitai.platform.modules import JobContext, JobSpec, MeterSpec, catalog, is_town_keyed
from jichitai.platform.tenancy import ALL_TOWNS, Municipality, Tenant

log = logging.getLogger(__name__)

REQUESTS = "requests"
CPU_MS = "cpu_ms"
DB_BYTES = "db_bytes"
OFFSITE_BYTES = "offsite_bytes"

METERS = (
    MeterSpec(REQUESTS, "要求数 (API・画面)", "件"),
    MeterSpec(CPU_MS, "CPU 時間 (推定)", "ミリ秒"),
    MeterSpec(DB_BYTES, "データベース容量 (履歴・監査ログを含む推定値)", "バイト"),
    MeterSpec(OFFSITE_BYTES, "副本の送付量 (暗号化後)", "バイト"),
)
"""The platform's own figures (collected by the platform, so ``measure`` is None)."""

FLUSH_EVERY = 60.0
"""Seconds after which a worker that ran no flush job flushes its counts itself (after a request)."""
MEASURES_PER_FLUSHES = 360
"""Measurements (``metering.measure``) run once per this many flush intervals (``metering_interval``): every
6 hours by default. The last measurement of a month stands for the month."""
MAX_KEYS = 20_000
"""Most (town, month, metric) counts a process holds between flushes; a flood of made-up town codes in
paths cannot grow memory past it (counts of towns that do not exist are dropped at the flush anyway)."""

_TOWN_PATH = re.compile(r"^/(?:api/v1/municipalities|ui)/([0-9]{6})(?:/|$)")


class PlatformUsage(Base):
    """One figure of one town's use of the installation in one month (JST)."""

    __tablename__ = "platform_usage"

    lg_code: Mapped[str] = mapped_column(LG_CODE, ForeignKey("municipality.lg_code"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    """``YYYY-MM``."""
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def _table() -> Table:
    table = PlatformUsage.__table__
    assert isinstance(table, Table)
    return table


def month_of(moment: datetime | date) -> str:
    """The metering month (``YYYY-MM``, Japanese calendar) of a time or a date."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(JST).date()
    return f"{moment.year:04d}-{moment.month:02d}"


def current_month() -> str:
    """This month in Japan."""
    return month_of(datetime.now(JST))


def first_day(month: str) -> date:
    """The first day of ``YYYY-MM`` (ValueError when malformed)."""
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"not a month: {month!r}")
    return date(int(month[:4]), int(month[5:]), 1)


def town_of_path(path: str) -> str | None:
    """The town code a request path acts for, or None (installation-wide routes, static files)."""
    found = _TOWN_PATH.match(path)
    return found[1] if found else None


class _CpuShare:
    """Shares the process's CPU time among the requests in flight (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = time.process_time()
        self._per_request = 0.0
        """CPU seconds charged so far to a request that has been in flight all along."""

    def _advance(self) -> None:
        now = time.process_time()
        if self._in_flight:
            self._per_request += (now - self._last) / self._in_flight
        self._last = now

    def start(self) -> float:
        """A request begins; returns the mark to give to :meth:`stop`."""
        with self._lock:
            self._advance()
            self._in_flight += 1
            return self._per_request

    def stop(self, mark: float) -> float:
        """The request that began at ``mark`` ends; returns the CPU seconds charged to it."""
        with self._lock:
            self._advance()
            self._in_flight -= 1
            return self._per_request - mark


class Meter:
    """The counts of this process not yet flushed, keyed by (town, month, metric)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], int] = {}
        self.cpu = _CpuShare()
        self.flushed_at = time.monotonic()

    def add(self, lg_code: str, metric: str, amount: int, month: str | None = None) -> None:
        """Count ``amount`` of ``metric`` for the town in ``month`` (default: this month)."""
        key = (lg_code, month or current_month(), metric)
        with self._lock:
            if key in self._counts or len(self._counts) < MAX_KEYS:
                self._counts[key] = self._counts.get(key, 0) + amount

    def take(self) -> dict[tuple[str, str, str], int]:
        """Every count so far, leaving none."""
        with self._lock:
            taken, self._counts = self._counts, {}
            self.flushed_at = time.monotonic()
            return taken

    def put_back(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Return counts a failed flush could not write (they go with the next one)."""
        for (lg_code, month, metric), amount in counts.items():
            self.add(lg_code, metric, amount, month)

    def due(self, after: float) -> bool:
        """Whether nothing was flushed for ``after`` seconds."""
        return time.monotonic() - self.flushed_at >= after


METER = Meter()
"""This process's counts (every app and job of the process shares them)."""


def add(lg_code: str, metric: str, amount: int) -> None:
    """Count ``amount`` of ``metric`` for the town this month (cheap: memory only; flushed by a job)."""
    METER.add(lg_code, metric, amount)


def _upsert(session: Session, rows: list[dict[str, Any]], *, accumulate: bool) -> None:
    table = _table()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table).values(rows)
    value = table.c.value + stmt.excluded.value if accumulate else stmt.excluded.value
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c.lg_code, table.c.month, table.c.metric], set_={"value": value}
        )
    )


def _known_towns(session: Session, codes: Iterable[str]) -> set[str]:
    wanted = sorted(set(codes))
    return set(session.scalars(select(Municipality.lg_code).where(Municipality.lg_code.in_(wanted))))


def flush(engine: Engine, meter: Meter = METER) -> int:
    """Add the meter's counts to ``platform_usage`` in one statement; the number of rows written.

    Counts of towns that do not exist (a path with a made-up code) are dropped; on failure the counts go
    back to the meter for the next flush.
    """
    counts = meter.take()
    if not counts:
        return 0
    try:
        with UnitOfWork(engine, tenant=ALL_TOWNS) as uow:
            known = _known_towns(uow.session, (lg_code for lg_code, _, _ in counts))
            rows = [
                {"lg_code": lg_code, "month": month, "metric": metric, "value": value}
                for (lg_code, month, metric), value in sorted(counts.items())
                if lg_code in known and value
            ]
            if rows:
                _upsert(uow.session, rows, accumulate=True)
            uow.commit()
    except Exception:
        meter.put_back(counts)
        raise
    return len(rows)


def _bytes_per_table(session: Session, names: list[str]) -> dict[str, int]:
    """Bytes each table takes with its indexes (and TOAST on PostgreSQL), as the database reports them."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "WHERE c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid) AND c.relname = ANY(:names)"
            ),
            {"names": names},
        )
        return {name: int(size) for name, size in rows}
    try:  # SQLite: the dbstat table, per table and index, indexes folded into their table
        rows = session.execute(
            text(
                "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
                "GROUP BY m.tbl_name"
            )
        )
        return {name: int(size) for name, size in rows if name in names}
    except Exception:  # a SQLite built without dbstat: the file shared out by row counts instead
        pages = session.execute(text("PRAGMA page_count")).scalar_one()
        size = session.execute(text("PRAGMA page_size")).scalar_one()
        return {"*": int(pages) * int(size)}


def database_bytes(session: Session) -> dict[str, int]:
    """Each town's estimated database bytes: every town-keyed table's size shared out by its rows per town.

    The session must have declared every town (``'*'``). One grouped count per table, and one catalogue
    query for the sizes.
    """
    tables = [t for t in catalog().tables if is_town_keyed(t)]
    counts: dict[str, dict[str, int]] = {}
    for table in tables:
        lg = table.c.lg_code
        counts[table.name] = {
            code: int(n) for code, n in session.execute(select(lg, func.count()).group_by(lg)).all()
        }
    sizes = _bytes_per_table(session, [t.name for t in tables])
    if "*" in sizes:  # fallback: the whole file by rows
        every = sum(n for per_town in counts.values() for n in per_town.values()) or 1
        sizes = {name: sizes["*"] * sum(per_town.values()) // every for name, per_town in counts.items()}
    found: dict[str, int] = {}
    for name, per_town in counts.items():
        rows = sum(per_town.values())
        for code, n in per_town.items():
            found[code] = found.get(code, 0) + sizes.get(name, 0) * n // max(rows, 1)
    return found


def measure(engine: Engine, month: str | None = None) -> int:
    """Measure this month's figures of every town (database bytes and the declared meters) and record
    them, replacing the month's earlier measurement; the number of rows written."""
    month = month or current_month()
    start = first_day(month)
    specs = [spec for spec in catalog().meters.values() if spec.measure is not None]
    with read_session(engine, tenant=ALL_TOWNS) as session:
        towns = list(session.scalars(select(Municipality.lg_code).order_by(Municipality.lg_code)))
        per_town = database_bytes(session)
    rows = [
        {"lg_code": code, "month": month, "metric": DB_BYTES, "value": per_town.get(code, 0)}
        for code in towns
    ]
    for code in towns:
        with read_session(engine, tenant=code) as session:
            for spec in specs:
                assert spec.measure is not None
                value = int(spec.measure(session, Tenant(code), start))
                rows.append({"lg_code": code, "month": month, "metric": spec.code, "value": value})
    if rows:
        with UnitOfWork(engine, tenant=ALL_TOWNS) as uow:
            _upsert(uow.session, rows, accumulate=False)
            uow.commit()
    return len(rows)


def usage_in(session: Session, month: str) -> dict[str, dict[str, int]]:
    """The recorded figures of ``month`` by town and metric (of the towns the session declared: ``'*'``
    for all)."""
    query = select(PlatformUsage).where(PlatformUsage.month == month)
    found: dict[str, dict[str, int]] = {}
    for row in session.scalars(query.order_by(PlatformUsage.lg_code, PlatformUsage.metric)):
        found.setdefault(row.lg_code, {})[row.metric] = int(row.value)
    return found


def meters() -> list[MeterSpec]:
    """Every declared figure, the platform's first, in declaration order."""
    return list(catalog().meters.values())


class MeteringMiddleware:
    """Count each request and its CPU time for the town in its path (memory only: a dict and a lock).

    Also flushes this process's counts when no flush ran for a while (the ``metering.flush`` job runs in one
    worker at a time; the others flush here, after the answer has gone), and at shutdown.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._flushing_at_shutdown(scope, receive), send)
            return
        lg_code = town_of_path(scope["path"]) if scope["type"] == "http" else None
        if lg_code is None:
            await self.app(scope, receive, send)
            return
        mark = METER.cpu.start()
        try:
            await self.app(scope, receive, send)
        finally:
            cpu = METER.cpu.stop(mark)
            METER.add(lg_code, REQUESTS, 1)
            METER.add(lg_code, CPU_MS, round(cpu * 1000))
        if METER.due(2 * FLUSH_EVERY):
            await _flush_in_thread(scope)

    def _flushing_at_shutdown(self, scope: Scope, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await _flush_in_thread(scope)
            return message

        return wrapped


async def _flush_in_thread(scope: Scope) -> None:
    engine = getattr(getattr(scope.get("app"), "state", None), "engine", None)
    if engine is None:
        return
    try:
        await anyio.to_thread.run_sync(flush, engine)
    except Exception:
        log.exception("flushing the usage counts failed (kept for the next flush)")


def _flush_job(context: JobContext) -> None:
    flush(context.engine)


def _measure_job(context: JobContext) -> None:
    measure(context.engine)


JOBS = (
    JobSpec(
        name="metering.flush",
        description="団体ごとの利用量 (要求数・CPU 時間・副本送付量) の集計をデータベースへ書き出す",
        interval=lambda settings: float(settings.metering_interval),
        run=_flush_job,
        # Racing flushes are harmless (each adds only the counts it took), so a dead holder need not stop
        # the flush for long.
        lease=15.0,
    ),
    JobSpec(
        name="metering.measure",
        description="団体ごとのデータベース容量と各業務の計数 (証明書交付数、人口など) を測る",
        interval=lambda settings: float(settings.metering_interval) * MEASURES_PER_FLUSHES,
        run=_measure_job,
    ),
)

__all__ = [
    "CPU_MS",
    "DB_BYTES",
    "FLUSH_EVERY",
    "JOBS",
    "MEASURES_PER_FLUSHES",
    "METER",
    "METERS",
    "OFFSITE_BYTES",
    "REQUESTS",
    "Meter",
    "MeteringMiddleware",
    "PlatformUsage",
    "add",
    "current_month",
    "database_bytes",
    "first_day",
    "flush",
    "measure",
    "meters",
    "month_of",
    "town_of_path",
    "usage_in",
]
