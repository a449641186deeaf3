"""The test-only module (tests/probe_module) plugs in through its declaration alone and works end to end:
its table is part of the town's copy, its route and permission work, its setting has its default and is
validated, its consumer takes in every registry change exactly once across an app restart, its job runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from jichitai.app import create_app
from jichitai.bootstrap import load
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import InvalidInput
from jichitai.platform.feeds import dispatch
from jichitai.platform.jobs import run_job_once
from jichitai.platform.modules import Catalog
from jichitai.platform.tenancy import Tenant, set_setting
from jichitai.settings import Settings

from .conftest import TOWN_A, TOWN_B, StaffHeaders, make_staff
from .modules.registry.test_api_life_story import move_in_family
from .probe_module import module as probe

PROBE = "tests.probe_module.module"


@pytest.fixture
def probe_catalog(engine: Engine) -> Iterator[Catalog]:
    """The product plus the probe, loaded before the towns exist (so they get its role); its table made."""
    loaded = load([PROBE])
    probe.Seen.metadata.create_all(engine)
    yield loaded
    probe.Seen.metadata.drop_all(engine)
    load(())


@pytest.fixture
def probe_client(
    probe_catalog: Catalog, engine: Engine, app_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    request.getfixturevalue("towns")
    staff: StaffHeaders = request.getfixturevalue("staff")
    headers = staff("registry_clerk", purpose="resident_registry")
    with TestClient(create_app(app_settings, engine), raise_server_exceptions=False, headers=headers) as c:
        yield c


def seen(engine: Engine, tenant: Tenant) -> list[tuple[int, str]]:
    with read_session(engine) as session:
        rows = session.execute(
            select(probe.Seen.position, probe.Seen.kind)
            .where(probe.Seen.lg_code == tenant.lg_code)
            .order_by(probe.Seen.seen_no)
        )
        return [(row[0], row[1]) for row in rows]


def test_the_probe_is_declared_like_any_module(probe_catalog: Catalog) -> None:
    assert "probe_seen" in {t.name for t in probe_catalog.town_tables}
    assert probe_catalog.permissions["probe:seen:read"].description
    assert probe_catalog.settings["probe_threshold"].default == 5
    assert probe_catalog.consumers["probe.registry"].feed == "registry.changes"
    assert "probe.tick" in probe_catalog.jobs
    assert "probe_reader" in probe_catalog.roles


def test_every_registry_change_reaches_the_consumer_exactly_once_across_a_restart(
    probe_client: TestClient, engine: Engine, app_settings: Settings
) -> None:
    family = move_in_family(probe_client)
    dispatch(engine)
    dispatch(engine)  # nothing new: nothing taken in twice
    assert seen(engine, TOWN_A) == [(1, "domestic_move_in")]
    # A restart: a new app on the same database, another change, delivery resumes from the cursor.
    headers = dict(probe_client.headers)
    with TestClient(
        create_app(app_settings, engine), raise_server_exceptions=False, headers=headers
    ) as again:
        response = again.post(
            f"/api/v1/municipalities/{TOWN_A.lg_code}/registry/events",
            json={
                "type": "death",
                "event_date": today_jst().isoformat(),
                "atena_no": family["persons"][-1]["atena_no"],
            },
        )
        assert response.status_code == 201, response.text
    dispatch(engine)
    dispatch(engine)
    assert seen(engine, TOWN_A) == [(1, "domestic_move_in"), (2, "death")]
    assert seen(engine, TOWN_B) == []


def test_the_route_permission_and_setting(probe_client: TestClient, engine: Engine) -> None:
    base = f"/api/v1/municipalities/{TOWN_A.lg_code}/probe/seen"
    assert probe_client.get(base).status_code == 403  # a registry clerk does not hold probe:seen:read
    reader = make_staff(engine, TOWN_A, "probe-reader", ["probe_reader"], "audit")
    answer = probe_client.get(base, headers=reader)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"seen": 0, "threshold": 5, "by": "probe-reader"}
    with UnitOfWork(engine) as uow, pytest.raises(InvalidInput):
        set_setting(uow, TOWN_A, "probe_threshold", -1, today_jst(), actor="test")
    with UnitOfWork(engine) as uow:
        set_setting(uow, TOWN_A, "probe_threshold", 7, today_jst(), actor="test")
    assert probe_client.get(base, headers=reader).json()["threshold"] == 7
    other = make_staff(engine, TOWN_B, "probe-reader", ["probe_reader"], "audit")
    assert probe_client.get(base, headers=other).status_code == 404  # another town's staff: as missing


def test_the_probe_job_runs_under_the_scheduler(probe_catalog: Catalog, engine: Engine) -> None:
    before = len(probe.TICKS)
    run_job_once(engine, Settings(), "probe.tick")
    assert len(probe.TICKS) == before + 1
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(probe.Seen)) == 0
