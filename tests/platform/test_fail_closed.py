"""Row-level security fails closed, and the product works as an ordinary database role (PostgreSQL).

The suite otherwise connects as the ``postgres`` superuser, which row-level security does not bind; here the
product runs as a login role without superuser or BYPASSRLS, as production does (docs/operations.md). A
transaction that declared no tenant sees and writes no town row; the command line (demo, off-site ship,
restore, drill), the API (sign-in, search, 異動, 支援措置, 証明書, audit) and the periodic jobs all still
do their work, which shows that each of them declares the town, or the whole installation, it works on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from jichitai.app import create_app
from jichitai.platform.audit_heads import AuditChainHead as AuditHead
from jichitai.platform.db import UnitOfWork, make_engine, read_session
from jichitai.platform.feeds import FeedCursor
from jichitai.platform.jobs import run_job_once
from jichitai.platform.migrate import upgrade
from jichitai.platform.modules import catalog
from jichitai.platform.tenancy import declare_all_towns, get_tenant
from jichitai.settings import Settings

from ..conftest import PG_ADMIN
from ..ui import browser, login_form
from .offsite.test_copy_is_whole import TOWN, jichitai, ok, ship_to_directory, town_rows

ROLE = "jichitai_app_probe"
PASSWORD = "demo-password-2026"
MOVE_IN = {
    "type": "domestic_move_in",
    "event_date": "2026-11-02",
    "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
    "address": {"area": "本町一丁目", "number": "77番7号"},
    "persons": [
        {
            "family_name": "閉鎖",
            "given_name": "確認",
            "family_kana": "ヘイサ",
            "given_kana": "カクニン",
            "kana_confirmed": True,
            "birth_date": "1985-04-01",
            "sex": "female",
            "relationship": "世帯主",
        }
    ],
}


def measure_of(atena_no: str) -> dict[str, object]:
    return {
        "atena_no": atena_no,
        "kind": "spousal_violence",
        "counterparty": {"name": "加害　太郎", "kana": "カガイ　タロウ", "birth_date": "1980-01-02"},
        "reason": "警察署の意見書あり",
    }


def certificate_of(atena_no: str) -> dict[str, object]:
    return {
        "type": "resident_record",
        "style": "individual",
        "atena_nos": [atena_no],
        "requester": {"category": "self", "name": "本人", "atena_no": atena_no},
    }


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """A live and a restore-target database, migrated by the superuser; URLs as superuser and as the role."""
    names = {k: f"jichitai_closed_{uuid.uuid4().hex[:10]}_{k}" for k in ("live", "restored")}
    try:
        for name in names.values():
            _admin(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("JICHITAI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    create = f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"
    _admin(f"DO $$ BEGIN {create}; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    urls: dict[str, str] = {}
    for key, name in names.items():
        admin = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        upgrade(admin)
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:
            conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
            conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
        urls[f"{key}_admin"] = admin
        urls[key] = f"postgresql+psycopg://{ROLE}@127.0.0.1:5432/{name}"
    yield urls
    for name in names.values():
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count(engine: Engine, table: str, declare: str | None = None) -> int:
    with engine.begin() as conn:
        if declare is not None:
            conn.execute(select(func.set_config("jichitai.tenant", declare, True)))
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_the_product_works_as_an_ordinary_role_and_an_undeclared_transaction_sees_nothing(
    tmp_path: Path, databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, target = databases["live"], databases["restored"]
    monkeypatch.setenv("JICHITAI_DB_ROLE", "")  # the login is the ordinary role itself
    # The command line as the role: demo towns, then the whole off-site copy and a drill.
    ok(jichitai(tmp_path, live, "demo", "--residents", "20"))
    ship_to_directory(tmp_path, live)
    restore = ("offsite", "restore", "--municipality", TOWN, "--from", "./custody", "--database-url", target)
    ok(jichitai(tmp_path, live, *restore))
    assert ok(jichitai(tmp_path, live, "offsite", "drill", "--municipality", TOWN)).startswith("OK")
    expected = town_rows(databases["live_admin"])
    assert expected["registry_person"]
    assert expected["staff_user"]
    assert town_rows(databases["restored_admin"]) == expected

    engine = make_engine(live)
    admin = make_engine(databases["live_admin"])
    try:
        # Fail closed: nothing without a declaration, one town with its own, every town with '*'.
        for table in catalog().town_tables:
            if table.name == "municipality":
                continue  # the tenant directory is read before any tenant is known (sign-in, town list)
            assert count(engine, table.name) == 0, table.name
        assert count(engine, "registry_person", TOWN) == len(expected["registry_person"])
        assert count(engine, "registry_person", "*") > count(engine, "registry_person", TOWN)
        with pytest.raises(Exception, match="row-level security"), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO municipality_setting (lg_code, key, effective_from, value) "
                    "VALUES (:lg, 'mayor_name', '2030-01-01', '\"x\"')"
                ),
                {"lg": TOWN},
            )

        # The API and the screens as the role.
        settings = Settings(var_dir=tmp_path / "var", audit_sign_interval=0, offsite_ship_interval=0)
        with TestClient(create_app(settings, engine)) as client:

            def signed(login_name: str, purpose: str) -> dict[str, str]:
                body = {"lg_code": TOWN, "login_name": login_name, "password": PASSWORD, "purpose": purpose}
                token = client.post("/api/v1/auth/token", json=body)
                assert token.status_code == 201, token.text
                return {"Authorization": f"Bearer {token.json()['token']}"}

            clerk = signed("demo-clerk", "resident_registry")
            base = f"/api/v1/municipalities/{TOWN}/registry"
            with admin.connect() as conn:
                someone = conn.execute(
                    text(
                        "SELECT atena_no FROM registry_person_record WHERE lg_code = :lg AND is_current "
                        "AND status = 'resident' ORDER BY atena_no LIMIT 1"
                    ),
                    {"lg": TOWN},
                ).scalar_one()
            found = client.get(f"{base}/residents", params={"atena_no": someone}, headers=clerk)
            assert found.status_code == 200, found.text
            assert [r["atena_no"] for r in found.json()["items"]] == [someone]
            assert client.get(f"{base}/residents/{someone}", headers=clerk).status_code == 200
            moved_in = client.post(f"{base}/events", json=MOVE_IN, headers=clerk)
            assert moved_in.status_code == 201, moved_in.text
            newcomer = moved_in.json()["persons"][0]["atena_no"]
            assert client.get(f"{base}/changes", headers=clerk).json()["items"]
            officer = signed("demo-support", "support_measure")
            measure = client.post(f"{base}/support-measures", json=measure_of(newcomer), headers=officer)
            assert measure.status_code == 201, measure.text
            desk = signed("demo-cert", "certificate")
            issued = client.post(f"{base}/certificates", json=certificate_of(someone), headers=desk)
            assert issued.status_code == 201, issued.text
            auditor = signed("demo-auditor", "audit")
            verified = client.get(f"/api/v1/municipalities/{TOWN}/audit/verify", headers=auditor)
            assert verified.status_code == 200, verified.text
            assert verified.json()["ok"] is True
            administrator = signed("demo-admin", "administration")
            staff = client.get(f"/api/v1/municipalities/{TOWN}/staff", headers=administrator)
            assert staff.status_code == 200, staff.text
            assert len(staff.json()) >= 6
            assert len(client.get("/api/v1/municipalities").json()) == 3
            assert client.get(f"/api/v1/municipalities/{TOWN}").json()["settings"]["mayor_title"]
            page = browser(client)
            home = page.post(
                "/ui/login",
                data={
                    "login_csrf": login_form(page),
                    "lg_code": TOWN,
                    "login_name": "demo-clerk",
                    "password": PASSWORD,
                    "purpose": "resident_registry",
                },
            )
            assert home.status_code == 200, home.text
            assert "住民記録" in home.text
            shown = page.get(f"/ui/{TOWN}/registry/persons/{someone}")
            assert shown.status_code == 200, shown.text

        # The periodic jobs as the role: they find the towns' work.
        with read_session(engine) as session:
            declare_all_towns(session)
            heads_before = session.scalar(select(func.count()).select_from(AuditHead))
        run = run_job_once(engine, settings, "audit.sign")
        assert run.ran
        assert run.error is None
        with read_session(engine) as session:
            declare_all_towns(session)
            assert session.scalar(select(func.count()).select_from(AuditHead)) > (heads_before or 0)
        with admin.connect() as conn:
            shipped_before = conn.execute(text("SELECT max(shipped_seq) FROM offsite_custodian")).scalar_one()
        for job in ("feeds.dispatch", "offsite.ship"):
            run = run_job_once(engine, settings, job)
            assert run.ran, run
            assert run.error is None, run
        with admin.connect() as conn:  # the new journal entries (the API's writes and reads) were shipped
            shipped = conn.execute(text("SELECT max(shipped_seq) FROM offsite_custodian")).scalar_one()
            journal_head = conn.execute(
                text("SELECT max(seq) FROM offsite_journal WHERE lg_code = :lg"), {"lg": TOWN}
            ).scalar_one()
        assert shipped_before < shipped == journal_head
        with UnitOfWork(engine) as uow:
            get_tenant(uow.session, TOWN)
            assert uow.session.scalar(select(func.count()).select_from(FeedCursor)) is not None
    finally:
        engine.dispose()
        admin.dispose()
