"""A partner installation as custodian over HTTP: the shipper, the restore and the custody endpoint."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from jichitai.app import create_app
from jichitai.platform.db import UnitOfWork, make_engine
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite.custody import grant, revoke
from jichitai.platform.offsite.envelope import seal
from jichitai.platform.offsite.http_custodian import HttpCustodian, save_token
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.restore import restore
from jichitai.platform.offsite.shipper import ShipResult, add_custodian, rotate_town_key, ship_all, status
from jichitai.platform.tenancy import Tenant
from jichitai.settings import Settings

from ...test_cli import free_port
from .test_journal_shipping import _all_rows, _make_history


@dataclass
class Partner:
    """Another installation on loopback, acting as custodian."""

    url: str
    app: FastAPI
    engine: Engine
    custody_dir: Path

    def grant(self, lg_code: str) -> str:
        with UnitOfWork(self.engine) as uow:
            return grant(uow, lg_code, "テスト")


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[Partner]:
    home = tmp_path / "partner"
    home.mkdir()
    settings = Settings(
        var_dir=home, log_format="text", log_level="WARNING", audit_sign_interval=0, offsite_ship_interval=0
    )
    url = settings.resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    app = create_app(settings, engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield Partner(f"http://127.0.0.1:{port}", app, engine, settings.resolved_custody_dir())
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


def test_shipping_to_a_partner_and_restoring_from_it(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, partner: Partner, tmp_path: Path
) -> None:
    town_a, _ = towns
    token = partner.grant(town_a.lg_code)
    save_token(keys.root.parent, partner.url, town_a.lg_code, token)
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town_a.lg_code, partner.url)
    _make_history(engine, town_a, 3)
    (first,) = ship_all(engine, keys, lg_code=town_a.lg_code)
    assert isinstance(first, ShipResult), first
    assert first.snapshot
    _make_history(engine, town_a, 2)
    (second,) = ship_all(engine, keys, lg_code=town_a.lg_code)
    assert isinstance(second, ShipResult), second
    assert not second.snapshot
    assert second.entries > 0
    (row,) = status(engine, alert_after=dt.timedelta(seconds=0), lg_code=town_a.lg_code)
    assert (row.unshipped, row.alert, row.last_error) == (0, False, None)
    assert (partner.custody_dir / town_a.lg_code / "heads.json").exists()
    # Rotation re-wraps the data keys held by the partner; the new key alone then restores.
    custodian = HttpCustodian(partner.url, token)
    new_id, rewrapped = rotate_town_key(keys, town_a.lg_code, [custodian])
    assert rewrapped == len(custodian.list(town_a.lg_code))
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    report = restore(target, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    custodian.close()
    assert keys.town(town_a.lg_code)[0] == new_id
    assert report.audit is not None
    assert report.audit.ok
    assert report.heads_match
    fresh = make_engine(target)
    try:
        assert _all_rows(fresh, town_a) == _all_rows(engine, town_a)
    finally:
        fresh.dispose()


def test_an_unreachable_partner_raises_the_alert(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore
) -> None:
    town_a, _ = towns
    nowhere = f"http://127.0.0.1:{free_port()}"
    save_token(keys.root.parent, nowhere, town_a.lg_code, "jcus_nothing-listens-there")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town_a.lg_code, nowhere)
    (result,) = ship_all(engine, keys, lg_code=town_a.lg_code)
    assert isinstance(result, str)
    assert "CustodianUnreachable" in result
    (row,) = status(engine, alert_after=dt.timedelta(seconds=0), lg_code=town_a.lg_code)
    assert row.alert
    assert row.last_error is not None
    assert "jcus_" not in row.last_error  # the token never reaches a message


def _chunk(lg_code: str, cid: str, keys: KeyStore) -> tuple[bytes, dict[str, str]]:
    header = {"chunk_id": cid, "lg_code": lg_code, "kind": "journal", "seq_from": 1, "seq_to": 1}
    sealed = seal(header, b'{"entries":[]}', keys.wrapping_keys(lg_code))
    return sealed.blob, sealed.wraps


def test_the_custody_endpoint_refuses_what_it_must(partner: Partner, keys: KeyStore) -> None:
    town, other = "034614", "046060"
    token = partner.grant(town)
    other_token = partner.grant(other)
    client = TestClient(partner.app, raise_server_exceptions=False)
    base = f"/api/v1/custody/{town}"
    auth = {"Authorization": f"Bearer {token}"}
    cid = "j000000000001-000000000001"
    blob, wraps = _chunk(town, cid, keys)

    def code(answer: object) -> tuple[int, str]:
        assert hasattr(answer, "status_code")
        assert hasattr(answer, "json")
        return answer.status_code, answer.json()["error"]["code"]

    assert code(client.get(f"{base}/chunks")) == (401, "custody_unauthorized")
    wrong = {"Authorization": f"Bearer {other_token}"}
    assert code(client.get(f"{base}/chunks", headers=wrong)) == (401, "custody_unauthorized")
    assert code(client.get(f"{base}/chunks", headers={"Authorization": "Bearer jcus_guess"})) == (
        401,
        "custody_unauthorized",
    )
    assert code(client.get(f"{base}/chunks/..%2F..%2Fetc", headers=auth))[0] in (404, 422)
    assert code(client.get(f"{base}/chunks/not-a-chunk", headers=auth)) == (422, "invalid_chunk_id")
    octet = {**auth, "Content-Type": "application/octet-stream"}
    assert code(client.put(f"{base}/chunks/{cid}", content=blob, headers=octet)) == (
        409,
        "chunk_keys_missing",
    )
    assert client.put(f"{base}/chunks/{cid}/keys", json={"zz": "x"}, headers=auth).status_code == 422
    assert client.put(f"{base}/chunks/{cid}/keys", json=wraps, headers=auth).status_code == 204
    assert code(client.put(f"{base}/chunks/{cid}", content=b"plain text", headers=octet)) == (
        422,
        "not_a_chunk",
    )
    foreign, _ = _chunk(other, cid, keys)  # a chunk of another town under this town's name
    assert code(client.put(f"{base}/chunks/{cid}", content=foreign, headers=octet)) == (422, "not_a_chunk")
    assert client.get(f"{base}/chunks", headers=auth).json() == {"chunks": []}
    assert client.put(f"{base}/chunks/{cid}", content=blob, headers=octet).status_code == 204
    assert client.get(f"{base}/chunks", headers=auth).json() == {"chunks": [cid]}
    assert client.get(f"{base}/chunks/{cid}", headers=auth).content == blob
    assert code(client.delete(f"{base}/chunks/{cid}", headers=auth)) == (409, "chunk_not_superseded")
    bad_head = {"journal": {"seq": 1, "hash": "x"}}
    assert client.put(f"{base}/heads", json=bad_head, headers=auth).status_code == 422
    head = {"journal": {"seq": 1, "hash": "a" * 64}, "audit": None}
    assert client.put(f"{base}/heads", json=head, headers=auth).status_code == 204
    assert client.get(f"{base}/heads", headers=auth).json() == head
    assert client.get(f"/api/v1/custody/{other}/chunks", headers=wrong).json() == {"chunks": []}
    with UnitOfWork(partner.engine) as uow:
        revoke(uow, town)
    assert code(client.get(f"{base}/chunks", headers=auth)) == (401, "custody_unauthorized")
    files = {p.name for p in (partner.custody_dir / town).iterdir()}
    assert files == {f"{cid}.chunk", f"{cid}.keys", "heads.json"}
