"""Worker processes, request threads and database connections are sized together (platform/sizing.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from jichitai.app import create_app
from jichitai.platform import sizing
from jichitai.platform.sizing import Sizing, connection_warning, usable_connections
from jichitai.settings import Settings, default_workers

PG_URL = "postgresql+psycopg://app@db.invalid/jichitai"


def test_request_threads_are_the_pooled_connections() -> None:
    assert Sizing(workers=2, pool_size=10, max_overflow=10).request_threads == 10
    assert Sizing(workers=2, pool_size=1, max_overflow=1).request_threads == 1


def test_connections_count_every_worker_its_overflow_and_the_commands() -> None:
    size = Sizing(workers=4, pool_size=10, max_overflow=10, job_connections=5)
    assert size.connections_per_worker == 20
    assert size.connections == 85


def test_usable_connections_leave_the_reserved_slots() -> None:
    assert usable_connections(100, 3) == 97
    assert usable_connections(100, 3, 5) == 92  # PostgreSQL 16: reserved_connections too
    assert usable_connections(2, 3) == 0


def test_no_warning_while_the_installation_fits() -> None:
    size = Sizing(workers=2, pool_size=10, max_overflow=10, job_connections=5)
    assert connection_warning(size, usable_connections(100, 3)) is None
    assert connection_warning(size, 45) is None  # exactly full is allowed


def test_the_warning_is_one_line_with_its_code_and_a_pool_that_fits() -> None:
    size = Sizing(workers=8, pool_size=10, max_overflow=10, job_connections=5)
    warning = connection_warning(size, usable_connections(100, 3))
    assert warning is not None
    assert warning.startswith("db_connections_exceed_limit: ")
    assert "\n" not in warning
    assert "= 165 connections, but PostgreSQL admits 97" in warning
    suggested = int(warning.split("JICHITAI_DB_POOL_SIZE=")[1].split()[0])
    assert suggested == 5
    assert connection_warning(Sizing(8, suggested, suggested, job_connections=5), 97) is None


def test_a_pool_of_one_is_suggested_when_nothing_fits() -> None:
    warning = connection_warning(Sizing(workers=64, pool_size=10, max_overflow=10), 20)
    assert warning is not None
    assert "JICHITAI_DB_POOL_SIZE=1 " in warning


def test_workers_default_to_the_cores_on_postgresql_and_one_on_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_workers("") == 1  # the embedded SQLite file
    assert default_workers("sqlite:////var/lib/jichitai/jichitai.db") == 1
    assert default_workers(PG_URL) == cores
    monkeypatch.delenv("JICHITAI_WORKERS", raising=False)
    assert Settings(database_url=PG_URL).workers == cores
    assert Settings(database_url="").workers == 1
    monkeypatch.setenv("JICHITAI_DATABASE_URL", PG_URL)
    assert Settings().workers == cores
    monkeypatch.setenv("JICHITAI_WORKERS", "3")
    assert Settings().workers == 3
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings(workers=0)


def test_the_app_limits_sync_routes_to_the_pool(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path, log_format="text", audit_sign_interval=0, offsite_ship_interval=0, db_pool_size=3
    )
    with TestClient(create_app(settings, engine)) as client:
        portal = client.portal
        assert portal is not None
        tokens = portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 3


def test_the_startup_check_reads_the_servers_limit(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    usable = sizing.database_usable_connections(engine)
    if engine.dialect.name == "sqlite":
        assert usable is None
        assert sizing.check_database_limit(engine, Sizing(workers=999, pool_size=99, max_overflow=99)) is None
        return
    assert usable is not None
    assert usable > 0
    assert (
        sizing.check_database_limit(engine, Sizing(workers=1, pool_size=1, max_overflow=1, job_connections=0))
        is None
    )
    with caplog.at_level(logging.WARNING, logger="jichitai.platform.sizing"):
        warning = sizing.check_database_limit(engine, Sizing(workers=usable, pool_size=1, max_overflow=1))
    assert warning is not None
    assert [r.getMessage() for r in caplog.records] == [warning]
    assert caplog.records[0].code == "db_connections_exceed_limit"  # type: ignore[attr-defined]
