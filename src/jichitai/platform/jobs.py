"""The one scheduler of periodic work: every declared :class:`JobSpec`, run under a lease in the database.

Each server worker process runs a :class:`Scheduler` thread (started and stopped by the app's lifespan).
About once a second it looks at each enabled job and, when the job is due, tries to take its lease: one
conditional UPDATE on the job's ``platform_job`` row that succeeds only when no live lease is held *and*
the job's interval has passed since it last started anywhere. So however many workers (or a cron
``run_job_once``) race, one runs the job and the others see it taken; the interval is kept installation-wide,
not per worker. The holder renews the lease while the job runs; a holder that died stops renewing, and its
lease expires after :data:`LEASE` so another worker takes over.

Each job runs in a thread of its own, so a long restore drill never holds up the once-a-second feed
dispatch. A failing job is logged and its error recorded on its row (``last_ok``, ``last_error``); nothing
is ever raised out of the scheduler's threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Boolean, Engine, String, Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.db import Base, as_utc, utcnow
from jichitai.platform.modules import JobContext, JobSpec, catalog
from jichitai.settings import Settings

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)
"""How long a lease lasts without renewal: the longest a dead holder keeps a job from running elsewhere."""
TICK = 1.0
"""Seconds between the scheduler's looks at its jobs."""


class PlatformJob(Base):
    """One periodic job of the installation: who holds it now, and how its last run went.

    Installation-wide (no ``lg_code``): a job works across every town, and its lease must be one row that
    every worker process contends for.
    """

    __tablename__ = "platform_job"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    last_started_at: Mapped[dt.datetime | None] = mapped_column()
    last_finished_at: Mapped[dt.datetime | None] = mapped_column()
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(String(1000))


def _table() -> Table:
    table = PlatformJob.__table__
    assert isinstance(table, Table)
    return table


def new_holder() -> str:
    """A name for one lease holder: host, process and a random part (two schedulers of a process differ)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Claim:
    """The answer to a lease attempt: taken, or when it is worth asking again."""

    taken: bool
    retry_at: dt.datetime


def _ensure_row(conn: Connection, name: str) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(_table()).values(name=name).on_conflict_do_nothing(index_elements=["name"]))


def claim(
    engine: Engine,
    name: str,
    holder: str,
    *,
    interval: dt.timedelta | None,
    lease: dt.timedelta = LEASE,
    now: dt.datetime | None = None,
) -> Claim:
    """Take the job's lease if nobody holds a live one and (unless ``interval`` is None) it is due.

    One atomic conditional UPDATE decides, so of several racing callers exactly one wins.
    """
    moment = now or utcnow()
    table = _table()
    with engine.begin() as conn:
        _ensure_row(conn, name)
        conditions = [table.c.name == name, or_(table.c.lease_until.is_(None), table.c.lease_until < moment)]
        if interval is not None:
            conditions.append(
                or_(table.c.last_started_at.is_(None), table.c.last_started_at <= moment - interval)
            )
        taken = conn.execute(
            update(table)
            .where(*conditions)
            .values(holder=holder, lease_until=moment + lease, last_started_at=moment)
        )
        if taken.rowcount == 1:
            return Claim(True, moment + (interval or dt.timedelta(0)))
        row = conn.execute(
            select(table.c.last_started_at, table.c.lease_until).where(table.c.name == name)
        ).one()
    started, until = as_utc(row[0]), as_utc(row[1])
    retry = moment
    if interval is not None and started is not None:
        retry = max(retry, started + interval)
    if until is not None:
        retry = max(retry, until)
    return Claim(False, retry)


def renew(engine: Engine, name: str, holder: str, lease: dt.timedelta = LEASE) -> bool:
    """Extend a lease this holder still has; False when it was lost (expired and taken by another)."""
    table = _table()
    with engine.begin() as conn:
        result = conn.execute(
            update(table)
            .where(table.c.name == name, table.c.holder == holder)
            .values(lease_until=utcnow() + lease)
        )
        return result.rowcount == 1


def finish(engine: Engine, name: str, holder: str, error: str | None) -> None:
    """Record the outcome and release the lease (only if this holder still has it)."""
    table = _table()
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.name == name, table.c.holder == holder)
            .values(
                holder=None,
                lease_until=None,
                last_finished_at=utcnow(),
                last_ok=error is None,
                last_error=error[:1000] if error else None,
            )
        )


@dataclass(frozen=True)
class JobRun:
    """What one attempt to run a job did: ``ran`` is False when another holder had it."""

    name: str
    ran: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the job ran and did not fail."""
        return self.ran and self.error is None


def execute(engine: Engine, settings: Settings, spec: JobSpec, holder: str) -> JobRun:
    """Run a job whose lease ``holder`` has taken, record the outcome and release the lease; never raises."""
    error: str | None = None
    try:
        spec.run(JobContext(engine, settings))
    except Exception as exc:
        log.exception("job %s failed", spec.name)
        error = f"{type(exc).__name__}: {exc}"
    try:
        finish(engine, spec.name, holder, error)
    except Exception:
        log.exception("recording the outcome of job %s failed", spec.name)
    return JobRun(spec.name, True, error)


def lease_of(spec: JobSpec, default: dt.timedelta = LEASE) -> dt.timedelta:
    """The job's own lease, or ``default``."""
    return default if spec.lease is None else dt.timedelta(seconds=spec.lease)


def run_job_once(engine: Engine, settings: Settings, name: str) -> JobRun:
    """Run the declared job ``name`` now, whether due or not, unless another holder is running it (cron, CLI).

    Raises KeyError for a name no module declares.
    """
    spec = catalog().jobs[name]
    holder = new_holder()
    if not claim(engine, name, holder, interval=None, lease=lease_of(spec)).taken:
        return JobRun(name, False)
    return execute(engine, settings, spec, holder)


class Scheduler:
    """A daemon thread that runs each enabled job whenever it is due, under its lease.

    ``jobs`` defaults to every declared job; a job whose ``interval(settings)`` is 0 or less is disabled, and
    with none enabled ``start`` does nothing. ``stop`` wakes the thread at once and waits (at most
    ``timeout`` seconds) for runs in progress.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        jobs: Iterable[JobSpec] | None = None,
        *,
        tick: float = TICK,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.engine = engine
        self.settings = settings
        specs = list(catalog().jobs.values() if jobs is None else jobs)
        self.jobs: dict[str, tuple[JobSpec, dt.timedelta]] = {}
        self.leases: dict[str, dt.timedelta] = {}
        for spec in specs:
            seconds = spec.interval(settings)
            if seconds > 0:
                self.jobs[spec.name] = (spec, dt.timedelta(seconds=seconds))
                self.leases[spec.name] = lease_of(spec, lease)
        self.tick_seconds = tick
        self.lease = lease
        self.holder = new_holder()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._runs: dict[str, threading.Thread] = {}
        self._next_look: dict[str, dt.datetime] = {}
        self._renewed: dict[str, float] = {}

    @property
    def running(self) -> bool:
        """True while the scheduler thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (a no-op when no job is enabled or it is already running)."""
        if not self.jobs or self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="job-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end and wait for it and for the runs in progress."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for run in list(self._runs.values()):
            run.join(max(0.0, deadline - time.monotonic()))
        self._runs = {name: run for name, run in self._runs.items() if run.is_alive()}

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.look()
            except Exception:  # e.g. the database is unreachable: try again at the next tick
                log.exception("the job scheduler's pass failed")
            self._stopping.wait(self.tick_seconds)

    def look(self) -> list[str]:
        """One pass: renew the leases of runs in progress, start the due jobs; the names started."""
        started = []
        now = utcnow()
        for name, (spec, interval) in self.jobs.items():
            if self._stopping.is_set():
                break
            run = self._runs.get(name)
            if run is not None and run.is_alive():
                self._keep(name)
                continue
            self._runs.pop(name, None)
            if now < self._next_look.get(name, now):
                continue
            lease = self.leases[name]
            taken = claim(self.engine, name, self.holder, interval=interval, lease=lease, now=now)
            self._next_look[name] = taken.retry_at
            if not taken.taken:
                continue
            self._renewed[name] = time.monotonic()
            thread = threading.Thread(
                target=execute,
                args=(self.engine, self.settings, spec, self.holder),
                name=f"job:{name}",
                daemon=True,
            )
            self._runs[name] = thread
            thread.start()
            started.append(name)
        return started

    def _keep(self, name: str) -> None:
        """Renew a running job's lease once a third of it has passed."""
        lease = self.leases[name]
        if time.monotonic() - self._renewed.get(name, 0.0) < lease.total_seconds() / 3:
            return
        self._renewed[name] = time.monotonic()
        if not renew(self.engine, name, self.holder, lease):
            log.warning("the lease of job %s was lost while it ran", name)


__all__ = [
    "LEASE",
    "TICK",
    "Claim",
    "JobRun",
    "PlatformJob",
    "Scheduler",
    "claim",
    "execute",
    "finish",
    "lease_of",
    "new_holder",
    "renew",
    "run_job_once",
]
