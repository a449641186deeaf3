"""The wake-up of the server's shipper: given after every commit that appended journal entries.

The capture (:mod:`.capture`) calls :func:`notify` once a transaction that journaled a town's change has
committed, and on PostgreSQL the transaction itself also sends ``NOTIFY jichitai_offsite``
(:func:`announce`; delivered by the server only if and when it commits). The shipping job
(:mod:`jichitai.platform.periodic`) waits for either between passes (:class:`Waiter`), so a change reaches
its custodians within about one pass of its commit instead of within a polling interval — on PostgreSQL
whichever worker process committed it, on SQLite when it was committed in the process that runs the job
(other processes' commits are found by the job's fallback poll, every ``offsite_ship_interval`` seconds).

The job clears the wake-up *before* a pass looks for due work, so whatever commits while the pass runs wakes
it again and is shipped by the next pass, together with everything else that arrived meanwhile.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

CHANNEL = "jichitai_offsite"
"""The PostgreSQL notification channel of committed journal entries (no payload: a wake-up only)."""

_event = threading.Event()


def notify() -> None:
    """A transaction that appended journal entries has committed in this process (sets a flag)."""
    _event.set()


def announce(session: Session) -> None:
    """On PostgreSQL, have the committing transaction wake the shippers of every process at its commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, "")))


def clear() -> None:
    """Forget the wake-ups so far (a pass is about to look for everything that is due)."""
    _event.clear()


def wait(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for a wake-up of this process; True when one came (or was pending)."""
    return _event.wait(timeout)


def pending() -> bool:
    """True when a commit in this process has woken the shipper since the last :func:`clear`."""
    return _event.is_set()


class Waiter:
    """What the shipping job waits on: this process's wake-ups and, on PostgreSQL, the channel's."""

    def __init__(self, connection: Any | None) -> None:
        self._connection = connection
        """A psycopg connection in autocommit mode that LISTENs on :data:`CHANNEL`, or None (SQLite)."""

    def clear(self) -> None:
        """Forget the wake-ups so far, of this process and, without waiting, of the channel."""
        clear()
        if self._connection is not None:
            for _ in self._connection.notifies(timeout=0):
                pass

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a wake-up; True when one came."""
        if pending():
            return True
        if self._connection is None:
            return wait(timeout)
        for _ in self._connection.notifies(timeout=timeout, stop_after=1):
            return True
        return pending()


@contextlib.contextmanager
def waiter(engine: Engine) -> Iterator[Waiter]:
    """A :class:`Waiter` for the job's session; on PostgreSQL it holds one connection of its own, which it
    closes at the end (never handed back to the pool while listening)."""
    if engine.dialect.name != "postgresql":
        yield Waiter(None)
        return
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        yield Waiter(connection)
    finally:
        raw.invalidate()  # closes it: a listening connection must not serve anyone else


__all__ = ["CHANNEL", "Waiter", "announce", "clear", "notify", "pending", "wait", "waiter"]
