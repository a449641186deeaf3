"""The access-log line of each request carries the number of SQL statements it ran (web/request_stats.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from jichitai.platform.web.request_stats import current
from jichitai.settings import Settings


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    """As the suite's, with the periodic jobs it knows off (the listener below also skips job threads)."""
    return Settings(
        var_dir=tmp_path,
        log_format="text",
        log_level="WARNING",
        audit_sign_interval=0,
        offsite_ship_interval=0,
        feed_dispatch_interval=0,
    )


class Lines(logging.Handler):
    """Keeps the access lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_lines() -> Iterator[Lines]:
    """The access logger's lines at INFO, whatever level the app configured for the root logger."""
    logger = logging.getLogger("jichitai.access")
    handler = Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/me", "/api/v1/municipalities/034614/registry/residents?kana=ヤマダ"],
)
def test_access_line_counts_the_statements_the_request_ran(
    client: TestClient, access_lines: Lines, path: str
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []
    listening = threading.Event()

    def listener(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        # Periodic jobs the settings do not turn off run in threads of their own ("job-scheduler", "job:…").
        if listening.is_set() and not threading.current_thread().name.startswith("job"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        listening.set()
        response = client.get(path)
        listening.clear()
    finally:
        event.remove(engine, "before_cursor_execute", listener)

    assert response.status_code == 200, response.text
    [line] = [r for r in access_lines.records if r.getMessage() == "request"]
    assert line.path == path.split("?")[0]  # type: ignore[attr-defined]
    assert line.statements > 0  # type: ignore[attr-defined]
    assert line.statements == len(seen), seen  # type: ignore[attr-defined]


def test_only_the_requests_own_statements_count(client: TestClient, access_lines: Lines) -> None:
    """Statements outside any request are nobody's; a request without the database ran none."""
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("SELECT 1")
    assert current() is None
    assert client.get("/healthz").status_code == 200  # says nothing about the database
    assert client.get("/readyz").status_code == 200  # the schema revision (and BEGIN on SQLite)
    lines = [r for r in access_lines.records if r.getMessage() == "request"]
    counts = {r.path: r.statements for r in lines}  # type: ignore[attr-defined]
    assert counts["/healthz"] == 0
    assert counts["/readyz"] == (2 if client.app.state.engine.dialect.name == "sqlite" else 1)  # type: ignore[attr-defined]
