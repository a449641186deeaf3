"""SQL statements per request: a counter opened for each request, advanced by every statement an engine runs.

The access-log middleware opens a counter when a request arrives and writes its value as ``statements`` on the
request's one access line. The counter lives in a context variable holding a mutable object: a route's work
runs in a worker thread in a copy of the request's context, which still holds the same object, so statements
run there are counted too. Statements outside any request (the scheduler's jobs, commands) are not counted.

Every cursor execution counts as one statement, ``executemany`` included (one round of the driver), as do the
statements the product issues itself (``BEGIN IMMEDIATE`` on SQLite, ``set_config`` of the tenant on
PostgreSQL). The bench ``bench/bench_load.py`` reads the figure from the log to report statements per request.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

from sqlalchemy import Engine, event


class StatementCounter:
    """The number of statements run so far for one request."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_current: ContextVar[StatementCounter | None] = ContextVar("statement_counter", default=None)


def start() -> tuple[StatementCounter, Token[StatementCounter | None]]:
    """Open a counter for the request being handled (the caller passes the token to :func:`finish`)."""
    counter = StatementCounter()
    return counter, _current.set(counter)


def finish(token: Token[StatementCounter | None]) -> None:
    """Close the request's counter (statements after this are no longer counted for it)."""
    _current.reset(token)


def current() -> StatementCounter | None:
    """The counter of the request being handled, or None outside a request."""
    return _current.get()


def _count(
    _conn: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any, _executemany: bool
) -> None:
    counter = _current.get()
    if counter is not None:
        counter.count += 1


def count_statements(engine: Engine) -> None:
    """Count every statement ``engine`` runs towards the current request's counter (idempotent)."""
    if not event.contains(engine, "before_cursor_execute", _count):
        event.listen(engine, "before_cursor_execute", _count)
