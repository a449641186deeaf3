"""Scheduled restore drills and the alert when one is missed or fails (reliability R21)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.jobs import run_job_once
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.drills import OffsiteDrill, drills
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import (
    OffsiteCustodian,
    add_custodian,
    run_due_drills,
    ship_all,
    status,
)
from jichitai.platform.tenancy import Tenant
from jichitai.settings import Settings

from ...conftest import TOWN_A, StaffHeaders, make_staff
from ...ui import browser, sign_in
from .test_journal_shipping import _make_history

WEEK = dt.timedelta(days=7)


def _age(engine: Engine, lg_code: str, days: int) -> None:
    """Pretend the custodian was registered, and its drills run, ``days`` ago."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(
            update(OffsiteCustodian).where(OffsiteCustodian.lg_code == lg_code).values(created_at=past)
        )
        conn.execute(update(OffsiteDrill).where(OffsiteDrill.lg_code == lg_code).values(started_at=past))


def test_a_due_drill_runs_once_and_is_recorded(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, custodian: DirectoryCustodian
) -> None:
    town_a, _ = towns
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town_a.lg_code, str(custodian.root))
    assert run_due_drills(engine, keys, WEEK) == 0  # nothing shipped yet: nothing to drill
    _make_history(engine, town_a, 2)
    ship_all(engine, keys)
    assert run_due_drills(engine, keys, WEEK) == 1
    assert run_due_drills(engine, keys, WEEK) == 0  # not due again for a week
    with read_session(engine) as session:
        (done,) = drills(session, town_a.lg_code)
    assert done.ok
    assert done.error is None
    assert done.rpo_entries == 0
    assert done.restored_seq
    assert done.restored_seq > 0
    assert done.rto_seconds is not None
    (row,) = status(engine, alert_after=WEEK, lg_code=town_a.lg_code, drill_max_age=dt.timedelta(days=8))
    assert not row.drill_alert
    _age(engine, town_a.lg_code, 9)
    (late,) = status(engine, alert_after=WEEK, lg_code=town_a.lg_code, drill_max_age=dt.timedelta(days=8))
    assert late.drill_alert  # a missed drill reaches a human
    assert run_due_drills(engine, keys, WEEK) == 1


def test_a_failed_drill_raises_the_alert_at_once(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, custodian: DirectoryCustodian
) -> None:
    town_a, _ = towns
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town_a.lg_code, str(custodian.root))
    _make_history(engine, town_a, 1)
    ship_all(engine, keys)
    victim = next(custodian.root.glob(f"{town_a.lg_code}/j*.chunk"))
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0x40
    victim.write_bytes(bytes(data))
    settings = Settings(key_dir=keys.root.parent, offsite_drill_interval=WEEK.total_seconds())
    assert run_job_once(engine, settings, "offsite.drills").ran  # what the server's scheduler runs
    with read_session(engine) as session:
        (failed,) = drills(session, town_a.lg_code)
    assert not failed.ok
    assert failed.error is not None
    assert victim.stem in failed.error
    (row,) = status(engine, alert_after=WEEK, lg_code=town_a.lg_code, drill_max_age=dt.timedelta(days=8))
    assert row.drill_alert
    assert row.drill is not None
    assert row.drill.last_error == failed.error


def test_the_town_administrator_sees_an_overdue_drill(
    client: TestClient, engine: Engine, staff: StaffHeaders, keys: KeyStore, tmp_path: Path
) -> None:
    with UnitOfWork(engine) as uow:
        add_custodian(uow, TOWN_A.lg_code, str(tmp_path / "custodian"))
    ship_all(engine, keys, lg_code=TOWN_A.lg_code)
    path = f"/api/v1/municipalities/{TOWN_A.lg_code}/offsite/status"
    fresh = client.get(path, headers=staff("admin")).json()
    assert fresh["alert"] is False
    assert fresh["custodians"][0]["drill_alert"] is False
    _age(engine, TOWN_A.lg_code, 30)
    body = client.get(path, headers=staff("admin")).json()
    assert body["alert"] is True
    assert body["custodians"][0]["drill_alert"] is True
    assert body["custodians"][0]["last_good_drill_at"] is None


def test_the_administrator_home_screen_shows_the_off_site_alerts(
    client: TestClient, engine: Engine, keys: KeyStore, tmp_path: Path
) -> None:
    make_staff(engine, TOWN_A, "boss", ["admin"])
    make_staff(engine, TOWN_A, "clerk", ["registry_clerk"])
    admin = browser(client)
    home = sign_in(admin, "boss", purpose="administration")
    assert home.status_code == 200, home.text
    assert "副本の保管先が登録されていません" in home.text
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, TOWN_A.lg_code, str(blocked))
    ship_all(engine, keys, lg_code=TOWN_A.lg_code)
    client.app.state.offsite_alert_after = 0  # type: ignore[attr-defined]
    again = admin.get(f"/ui/{TOWN_A.lg_code}/")
    assert "件の変更が届いていません" in again.text
    assert "副本 (遠隔地の複製) の警告" in again.text
    clerk = browser(client)
    assert "副本" not in sign_in(clerk, "clerk").text  # only administrators are told
