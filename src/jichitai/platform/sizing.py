"""How many server processes, request threads and database connections an installation runs, sized together.

The rule (operations guide, "Sizing"):

- **Worker processes**: one per usable core on PostgreSQL (a Python process runs on one core at a time),
  one on SQLite (one writer at a time; see :attr:`jichitai.settings.Settings.workers`).
- **Request threads** per worker: as many as its pooled connections (``db_pool_size``). A synchronous route
  runs on a thread of anyio's pool (40 by default) and holds a connection while it works; with more threads
  than connections, the extra requests would only wait inside the pool, holding a thread, and past the
  overflow time out after 30 s instead of queueing in the event loop.
- **Connections** per worker: the pool plus as many again in overflow
  (:func:`jichitai.platform.db.make_engine`), for the moments a request, a periodic job and a PDF print hold
  more than one.
- **PDF renderers** per worker (``pdf_renderers``): threads of their own beside the request threads, each
  holding a connection while it prints; within the overflow.
- PostgreSQL must admit ``workers × (pool + overflow) + JOB_CONNECTIONS`` connections: at startup the server
  reads ``max_connections`` and the reserved slots and logs ``db_connections_exceed_limit`` when it would not.

The rule itself is pure functions of numbers, tested without a server; the last three functions apply it
at startup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

JOB_CONNECTIONS = 5
"""Connections taken outside the servers' pools: ``jichitai`` commands run from timers (ship, drill, verify),
a restore drill's scratch database, an operator's ``psql``."""


@dataclass(frozen=True)
class Sizing:
    """One installation's processes, threads and connections."""

    workers: int
    pool_size: int
    max_overflow: int
    pdf_renderers: int = 1
    job_connections: int = JOB_CONNECTIONS

    @property
    def request_threads(self) -> int:
        """Threads for synchronous routes in each worker: one per pooled connection."""
        return request_threads(self.pool_size)

    @property
    def connections_per_worker(self) -> int:
        """The most connections one worker process may open."""
        return self.pool_size + self.max_overflow

    @property
    def connections(self) -> int:
        """The most connections the installation may open at once."""
        return self.workers * self.connections_per_worker + self.job_connections


def request_threads(pool_size: int) -> int:
    """The sync-route thread limit of a worker whose pool keeps ``pool_size`` connections."""
    return max(1, pool_size)


def usable_connections(max_connections: int, superuser_reserved: int, reserved: int = 0) -> int:
    """Connections an ordinary role may open: ``max_connections`` less the slots kept for superusers
    (``superuser_reserved_connections``) and, from PostgreSQL 16, for ``pg_use_reserved_connections``."""
    return max(0, max_connections - superuser_reserved - reserved)


def connection_warning(sizing: Sizing, usable: int) -> str | None:
    """The warning to log when the installation may open more connections than PostgreSQL admits, else None.

    One line, starting with its stable code, naming the numbers and the two ways out.
    """
    if sizing.connections <= usable:
        return None
    budget = max(0, usable - sizing.job_connections) // sizing.workers  # connections each worker may open
    pool = max(1, budget * sizing.pool_size // sizing.connections_per_worker)
    return (
        f"db_connections_exceed_limit: {sizing.workers} workers x ({sizing.pool_size} pool + "
        f"{sizing.max_overflow} overflow) + {sizing.job_connections} for commands = {sizing.connections} "
        f"connections, but PostgreSQL admits {usable}; set JICHITAI_DB_POOL_SIZE={pool} or fewer, "
        "or raise max_connections"
    )


def set_request_threads(threads: int) -> None:
    """Limit the running event loop's pool for synchronous routes to ``threads`` (call inside the loop)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def database_usable_connections(engine: Engine) -> int | None:
    """What PostgreSQL admits for ordinary roles (see :func:`usable_connections`); None on SQLite or when
    the server cannot be asked (the readiness check reports an unreachable database)."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT current_setting('max_connections')::int,"
                " current_setting('superuser_reserved_connections')::int,"
                " coalesce(current_setting('reserved_connections', true), '0')::int"
            ).one()
    except SQLAlchemyError:
        return None
    return usable_connections(row[0], row[1], row[2])


def check_database_limit(engine: Engine, sizing: Sizing) -> str | None:
    """Log (and return) :func:`connection_warning` for this installation's PostgreSQL server."""
    usable = database_usable_connections(engine)
    warning = None if usable is None else connection_warning(sizing, usable)
    if warning is not None:
        log.warning(warning, extra={"code": "db_connections_exceed_limit", "usable": usable})
    return warning
