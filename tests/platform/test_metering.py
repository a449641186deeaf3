"""Metering: requests counted for the town in their path, flushed in one statement, bytes estimated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError

from jichitai.platform import metering
from jichitai.platform.db import make_engine, read_session
from jichitai.platform.metering import METER, PlatformUsage
from jichitai.platform.tenancy import ALL_TOWNS, Tenant

from ..conftest import TOWN_A, TOWN_B


@pytest.fixture(autouse=True)
def empty_meter() -> Iterator[None]:
    """Each test starts (and leaves) with no counts in this process's meter."""
    METER.take()
    yield
    METER.take()


def rows(engine: Engine) -> dict[tuple[str, str, str], int]:
    with read_session(engine, tenant=ALL_TOWNS) as session:
        return {(r.lg_code, r.month, r.metric): r.value for r in session.scalars(select(PlatformUsage))}


def test_the_town_is_the_code_in_the_path() -> None:
    assert metering.town_of_path("/api/v1/municipalities/034614/registry/residents") == "034614"
    assert metering.town_of_path("/ui/046060/") == "046060"
    assert metering.town_of_path("/ui/046060") == "046060"
    assert metering.town_of_path("/api/v1/municipalities") is None
    assert metering.town_of_path("/api/v1/municipalities/0346145/x") is None
    assert metering.town_of_path("/static/app.css") is None


def test_months_are_japanese_calendar_months() -> None:
    assert metering.month_of(dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC)) == "2026-04"  # 00:30 JST
    assert metering.first_day("2026-04") == dt.date(2026, 4, 1)
    with pytest.raises(ValueError, match="not a month"):
        metering.first_day("2026-13")


def test_a_request_counts_for_its_town_only(client: TestClient, engine: Engine) -> None:
    METER.take()
    for _ in range(3):
        assert (
            client.get(f"/api/v1/municipalities/{TOWN_A.lg_code}/registry/residents?kana=サトウ").status_code
            == 200
        )
    client.get("/api/v1/municipalities")  # installation-wide: nobody's
    counts = METER.take()
    month = metering.current_month()
    assert counts[(TOWN_A.lg_code, month, metering.REQUESTS)] == 3
    assert (TOWN_A.lg_code, month, metering.CPU_MS) in counts
    assert not [key for key in counts if key[0] != TOWN_A.lg_code]


def test_a_flush_adds_the_counts_in_one_statement(towns: tuple[Tenant, Tenant], engine: Engine) -> None:
    month = metering.current_month()
    metering.add(TOWN_A.lg_code, metering.REQUESTS, 5)
    metering.add(TOWN_B.lg_code, metering.REQUESTS, 2)
    metering.add(TOWN_B.lg_code, metering.OFFSITE_BYTES, 4096)
    metering.add("999990", metering.REQUESTS, 7)  # a made-up town in a path: dropped
    inserts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PLATFORM_USAGE"):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert metering.flush(engine) == 3
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(inserts) == 1
    metering.add(TOWN_A.lg_code, metering.REQUESTS, 1)
    assert metering.flush(engine) == 1
    assert metering.flush(engine) == 0  # nothing left to write
    assert rows(engine) == {
        (TOWN_A.lg_code, month, metering.REQUESTS): 6,
        (TOWN_B.lg_code, month, metering.REQUESTS): 2,
        (TOWN_B.lg_code, month, metering.OFFSITE_BYTES): 4096,
    }


def test_counts_of_a_failed_flush_wait_for_the_next(tmp_path: Path) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    meter = metering.Meter()
    meter.add(TOWN_A.lg_code, metering.REQUESTS, 4)
    try:
        with pytest.raises(OperationalError):
            metering.flush(unmigrated, meter)
    finally:
        unmigrated.dispose()
    assert meter.take() == {(TOWN_A.lg_code, metering.current_month(), metering.REQUESTS): 4}


def test_database_bytes_follow_each_towns_rows(
    towns: tuple[Tenant, Tenant], engine: Engine, staff: Any
) -> None:
    for _ in range(6):  # accounts, roles and audit entries: town A now holds many more rows than town B
        staff("registry_clerk", TOWN_A)
    assert metering.measure(engine) >= 2
    found = rows(engine)
    month = metering.current_month()
    a = found[(TOWN_A.lg_code, month, metering.DB_BYTES)]
    b = found[(TOWN_B.lg_code, month, metering.DB_BYTES)]
    assert a > b > 0
    staff("registry_clerk", TOWN_B)
    metering.measure(engine)  # a new measurement replaces the month's figure
    assert rows(engine)[(TOWN_B.lg_code, month, metering.DB_BYTES)] > b
