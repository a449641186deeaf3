"""``jichitai offsite`` as an operator runs it: keys, custodian, ship, status, restore, drill."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from jichitai.platform.db import UnitOfWork
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import add_custodian, ship_all, status
from jichitai.platform.tenancy import Tenant

from ...conftest import TOWN_A, TOWN_B, StaffHeaders
from ...test_cli import ADD_OTSUCHI, run


def test_ship_restore_and_drill_from_the_command_line(tmp_path: Path) -> None:
    custodian = tmp_path / "custodian"
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, *ADD_OTSUCHI).returncode == 0
    keys = run(tmp_path, "offsite", "keys", "init")
    assert keys.returncode == 0, keys.stderr
    added = run(tmp_path, "offsite", "custodian", "add", "--municipality", "034614", "--dir", str(custodian))
    assert added.returncode == 0, added.stdout + added.stderr
    shipped = run(tmp_path, "offsite", "ship")
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert "スナップショット" in shipped.stdout
    state = run(tmp_path, "offsite", "status")
    assert state.returncode == 0, state.stdout
    assert "OK 034614" in state.stdout
    fresh = tmp_path / "fresh.db"
    restored = run(
        tmp_path, "offsite", "restore", "--municipality", "034614", "--from", str(custodian),
        "--database-url", f"sqlite:///{fresh}",
    )  # fmt: skip
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "監査証跡: OK" in restored.stdout
    drill = run(
        tmp_path, "offsite", "drill", "--municipality", "034614", "--from", str(custodian), "--escrow"
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "RPO: 0 件" in drill.stdout
    assert "RTO:" in drill.stdout
    key_hex = {p.read_text().strip() for p in (tmp_path / "var" / "keys" / "offsite").glob("*.key")}
    for output in (keys, shipped, state, restored, drill):
        assert not [k for k in key_hex if k in output.stdout + output.stderr]


def test_an_unreachable_custodian_raises_the_alert(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    town_a, _ = towns
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town_a.lg_code, str(blocked))
    results = ship_all(engine, keys, lg_code=town_a.lg_code)
    assert isinstance(results[0], str)
    (row,) = status(engine, alert_after=dt.timedelta(seconds=0), lg_code=town_a.lg_code)
    assert row.alert
    assert row.last_error
    assert row.unshipped > 0
    (calm,) = status(engine, alert_after=dt.timedelta(hours=1), lg_code=town_a.lg_code)
    assert not calm.alert
    blocked.unlink()
    ship_all(engine, keys, lg_code=town_a.lg_code)
    (healed,) = status(engine, alert_after=dt.timedelta(seconds=0), lg_code=town_a.lg_code)
    assert not healed.alert
    assert healed.last_error is None
    assert DirectoryCustodian(blocked).list(town_a.lg_code)


def test_the_town_administrator_sees_the_alert(
    client: TestClient, engine: Engine, staff: StaffHeaders, keys: KeyStore, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, TOWN_A.lg_code, str(blocked))
    ship_all(engine, keys, lg_code=TOWN_A.lg_code)
    client.app.state.offsite_alert_after = 0  # type: ignore[attr-defined]
    path = f"/api/v1/municipalities/{TOWN_A.lg_code}/offsite/status"
    answer = client.get(path, headers=staff("admin"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["alert"] is True
    assert body["custodians"][0]["location"] == str(blocked)
    assert body["custodians"][0]["unshipped"] > 0
    assert client.get(path).status_code == 403  # a registry clerk is not an administrator
    other = client.get(f"/api/v1/municipalities/{TOWN_B.lg_code}/offsite/status", headers=staff("admin"))
    assert other.status_code in (403, 404)


def test_verify_scheduled_drills_and_custody_grants_from_the_command_line(tmp_path: Path) -> None:
    custodian = tmp_path / "custodian"
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, *ADD_OTSUCHI).returncode == 0
    assert run(tmp_path, "offsite", "keys", "init").returncode == 0
    add = ("offsite", "custodian", "add", "--municipality", "034614")
    assert run(tmp_path, *add, "--dir", str(custodian)).returncode == 0
    assert run(tmp_path, "offsite", "ship").returncode == 0
    verified = run(tmp_path, "offsite", "verify", "--municipality", "034614", "--from", str(custodian))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "一致" in verified.stdout
    drilled = run(tmp_path, "offsite", "drill")  # every registered custodian, recorded (the weekly timer)
    assert drilled.returncode == 0, drilled.stdout + drilled.stderr
    assert "OK 034614" in drilled.stdout
    state = run(tmp_path, "offsite", "status")
    assert state.returncode == 0, state.stdout
    assert "復元訓練: 最終成功 20" in state.stdout
    bad_time = run(
        tmp_path, "offsite", "restore", "--municipality", "034614", "--from", str(custodian),
        "--until-time", "昨日", "--database-url", f"sqlite:///{tmp_path / 'x.db'}",
    )  # fmt: skip
    assert bad_time.returncode == 2
    assert "ISO 8601" in bad_time.stdout
    no_token = run(tmp_path, *add, "--url", "https://partner.example.jp")
    assert no_token.returncode == 2
    assert "--token-file" in no_token.stdout
    granted = run(tmp_path, "custody", "grant", "--municipality", "046060", "--label", "宮城県石巻市")
    assert granted.returncode == 0, granted.stdout + granted.stderr
    assert "jcus_" in granted.stdout
    listed = run(tmp_path, "custody", "list")
    assert "046060 宮城県石巻市 (有効)" in listed.stdout
    assert run(tmp_path, "custody", "revoke", "--municipality", "046060").returncode == 0
    again = run(tmp_path, "custody", "revoke", "--municipality", "046060")
    assert again.returncode == 2
    assert "許可していません" in again.stdout
    assert "取消済み" in run(tmp_path, "custody", "list").stdout
