"""Long batches over a whole town, committed in chunks, without holding the town's audit counter.

A module's yearly or monthly run (現況届 checks, 課税計算, 通知書) touches every resident of a town
while the counter keeps working. Two things would stall the counter if the batch ran as one transaction:
its row locks, held until the very end, and the town's audit counter row, locked by the first audit append
and held to the commit. So :func:`run_in_chunks` commits every ``chunk_size`` items, and inside each chunk the
audit appends are deferred (:func:`jichitai.platform.audit.defer_appends`) and written just before the commit,
so the counter's events wait milliseconds per chunk at most, not for the batch.

A failing item rolls back its chunk only; the chunks already committed stay, and the report says how far the
run got, so the caller can resume after the last committed key.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine

from jichitai.platform.audit import Actor, append_deferred, append_entries, as_actor, defer_appends
from jichitai.platform.db import UnitOfWork, is_sqlite
from jichitai.platform.tenancy import Tenant

T = TypeVar("T")

CHUNK = 200
"""Items per transaction by default: long enough to amortise the commit, short enough to stall nothing."""

SQLITE_PAUSE = 0.1
"""Seconds a batch waits between chunks on SQLite. SQLite has one writer, and a writer waiting in another
process polls (its busy handler sleeps up to 100 ms between tries): a batch that began its next chunk at once
would take the lock again before the counter's next try, for seconds on end (measured). PostgreSQL queues
lock waiters, so there the batch goes straight on."""


@dataclass(frozen=True)
class BatchReport:
    """How a run went: items and chunks committed, the last item's key, and the error that stopped it."""

    name: str
    items: int
    chunks: int
    last_key: str | None
    seconds: float
    error: str | None = None

    @property
    def complete(self) -> bool:
        """True when every item was committed."""
        return self.error is None


def run_in_chunks(
    engine: Engine,
    tenant: Tenant,
    items: Iterable[T],
    handle: Callable[[UnitOfWork, Tenant, T], Any],
    *,
    name: str,
    action: str,
    actor: str | Actor,
    key: Callable[[T], str] = str,
    chunk_size: int = CHUNK,
    pause: float | None = None,
) -> BatchReport:
    """Apply ``handle(uow, tenant, item)`` to every item, one transaction per ``chunk_size`` items.

    ``handle`` writes its module's rows and may call services that append audit entries; it never commits.
    Each chunk also appends one ``action`` entry naming the batch, the chunk and its first and last keys, so
    the audit trail shows what the batch did and when. Items are consumed lazily: pass a generator over keys,
    not a list of a town's rows. ``pause`` is the wait between chunks (default: :data:`SQLITE_PAUSE` on
    SQLite, none on PostgreSQL).
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if pause is None:
        pause = SQLITE_PAUSE if is_sqlite(engine) else 0.0
    who = as_actor(actor)
    started = time.perf_counter()
    done = chunks = 0
    last: str | None = None
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, chunk_size)):
        try:
            with UnitOfWork(engine, tenant=tenant.lg_code) as uow:
                defer_appends(uow.session)
                for item in chunk:
                    handle(uow, tenant, item)
                first_key, last_key = key(chunk[0]), key(chunk[-1])
                summary = {"batch": name, "chunk": chunks + 1, "items": len(chunk)}
                details = {**summary, "first": first_key, "last": last_key}
                append_entries(uow.session, tenant, [who.entry(action, details=details)])  # collected, last
                append_deferred(uow.session)  # the audit counter is locked from here to the commit only
                uow.commit()
        except Exception as exc:  # the chunk rolled back; what was committed stays, and the report says so
            return BatchReport(
                name, done, chunks, last, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
            )
        done += len(chunk)
        chunks += 1
        last = last_key
        if pause:
            time.sleep(pause)
    return BatchReport(name, done, chunks, last, time.perf_counter() - started)


__all__ = ["CHUNK", "SQLITE_PAUSE", "BatchReport", "run_in_chunks"]
