"""The auditors' API on both engines: only ``audit:log:read`` gets in, every reading is itself audited, the
filters reach the queries, bad input is a 422, and /verify names the first bad entry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from jichitai.platform.audit import Entry, append_entries
from jichitai.platform.audit_heads import load_or_create_key, sign_head
from jichitai.platform.clock import JST
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import Tenant
from jichitai.settings import Settings

from ..conftest import TOWN_A, TOWN_B, StaffHeaders, anonymous

BASE = f"/api/v1/municipalities/{TOWN_A.lg_code}/audit"
UNCHECKED = "定期署名が無効 (JICHITAI_AUDIT_SIGN_INTERVAL=0) のため、ヘッドの鮮度は検査していません。"
READ = "registry:resident:read"


@pytest.fixture
def auditor(staff: StaffHeaders) -> dict[str, str]:
    return staff("auditor")


def write(engine: Engine, tenant: Tenant, entries: list[Entry]) -> None:
    with UnitOfWork(engine) as uow:
        append_entries(uow.session, tenant, entries)
        uow.commit()


def last_seq(engine: Engine, tenant: Tenant) -> int:
    with Session(engine) as session:
        value: int = session.execute(
            text("SELECT max(seq) FROM audit_entry WHERE lg_code = :c"), {"c": tenant.lg_code}
        ).scalar_one()
    return value


def entries(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}/entries", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_auditor_reads_the_log_and_the_reading_is_logged(
    client: TestClient, engine: Engine, auditor: dict[str, str]
) -> None:
    write(engine, TOWN_A, [Entry(actor="suzuki", action=READ, subject="0000000001")])
    before = last_seq(engine, TOWN_A)
    page = entries(client, auditor, per_page=2)
    assert [e["seq"] for e in page["items"]] == [before, before - 1]
    assert page["items"][0]["actor"] == "suzuki"
    assert page["items"][0]["recorded_at"].endswith("+09:00")
    assert (page["page"], page["per_page"], page["has_next"]) == (1, 2, True)
    assert last_seq(engine, TOWN_A) == before + 1
    logged = entries(client, auditor, action="audit:log:read", per_page=1)["items"][0]
    assert logged["seq"] == before + 1
    assert (logged["role"], logged["purpose"], logged["outcome"]) == ("auditor", "audit", "ok")
    assert logged["actor"].startswith("auditor")
    assert logged["details"] == {"query": "entries", "page": 1, "count": 2}


def test_filters_reach_the_query(client: TestClient, engine: Engine, auditor: dict[str, str]) -> None:
    write(
        engine,
        TOWN_A,
        [
            Entry(actor="suzuki", action=READ, subject="0000000001"),
            Entry(actor="tanaka", action=READ, subject="0000000002"),
            Entry(actor="tanaka", action=READ, subject="0000000001", outcome="denied"),
        ],
    )
    write(engine, TOWN_B, [Entry(actor="b-sato", action=READ, subject="0000000001")])
    who_read = entries(client, auditor, subject="0000000001")
    assert [(e["actor"], e["outcome"]) for e in who_read["items"]] == [("tanaka", "denied"), ("suzuki", "ok")]
    assert [e["subject"] for e in entries(client, auditor, actor="tanaka", outcome="ok")["items"]] == [
        "0000000002"
    ]
    assert entries(client, auditor, since="2000-01-01", until="2000-01-31")["items"] == []
    recorded = entries(client, auditor, action="audit:log:read", per_page=1)["items"][0]["details"]
    assert recorded == {
        "query": "entries",
        "since": "1999-12-31T15:00:00+00:00",
        "until": "2000-01-31T15:00:00+00:00",
        "page": 1,
        "count": 0,
    }
    hour = dt.datetime.now(JST).hour  # the entries were just written, in this JST hour
    this_hour = {"night_only": "true", "night_start": hour, "night_end": (hour + 1) % 24}
    other_hours = {"night_only": "true", "night_start": (hour + 1) % 24, "night_end": hour}
    assert len(entries(client, auditor, actor="suzuki", **this_hour)["items"]) == 1
    assert entries(client, auditor, actor="suzuki", **other_hours)["items"] == []


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"since": "2026-02-30"}, "invalid_format", "since"),
        ({"since": "yesterday"}, "invalid_string_pattern_mismatch", "since"),
        ({"since": "2026-12-02", "until": "2026-12-01"}, "invalid_range", "since"),
        ({"until": "1800-01-01"}, "invalid_range", "until"),
        ({"night_only": "true", "night_start": 3, "night_end": 3}, "invalid_range", "night_end"),
        ({"night_start": 24}, "invalid_less_than_equal", "night_start"),
        ({"per_page": 201}, "invalid_less_than_equal", "per_page"),
        ({"page": 0}, "invalid_greater_than_equal", "page"),
        ({"subject": "1" * 41}, "invalid_string_too_long", "subject"),
    ],
)
def test_bad_criteria_are_refused_and_write_nothing(
    client: TestClient,
    engine: Engine,
    auditor: dict[str, str],
    params: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = last_seq(engine, TOWN_A)
    response = client.get(f"{BASE}/entries", headers=auditor, params=params)
    assert response.status_code == 422, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)
    assert last_seq(engine, TOWN_A) == before


def test_only_auditors_of_the_town_get_in(
    client: TestClient, engine: Engine, staff: StaffHeaders, auditor: dict[str, str]
) -> None:
    for path in ("/entries", "/mass-reads", "/verify"):
        clerk = client.get(f"{BASE}{path}", headers=staff("registry_clerk"))
        assert (clerk.status_code, clerk.json()["error"]["code"]) == (403, "forbidden")
        admin = client.get(f"{BASE}{path}", headers=staff("admin"))
        assert admin.status_code == 403
        assert anonymous(client).get(f"{BASE}{path}").status_code == 401
        other_town = client.get(f"{BASE}{path}", headers=staff("auditor", town=TOWN_B))
        assert (other_town.status_code, other_town.json()["error"]["code"]) == (404, "not_found")
    # None of the refused requests read the log: no audit:log:read entry exists yet.
    assert entries(client, auditor, action="audit:log:read")["items"] == []


def test_mass_reads(client: TestClient, engine: Engine, auditor: dict[str, str]) -> None:
    write(
        engine,
        TOWN_A,
        [Entry(actor="suzuki", action=READ, subject=f"{n % 2:010d}") for n in range(3)]
        + [Entry(actor="tanaka", action=READ, subject="0000000009")] * 2
        + [Entry(actor="sato", action=READ, subject="0000000009", outcome="denied")] * 5,
    )
    response = client.get(f"{BASE}/mass-reads", headers=auditor, params={"threshold": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["items"] == [
        {"actor": "suzuki", "reads": 3, "subjects": 2},
        {"actor": "tanaka", "reads": 2, "subjects": 1},
    ]
    assert body["threshold"] == 2
    assert body["since"].endswith("+09:00")
    assert client.get(f"{BASE}/mass-reads", headers=auditor).json()["items"] == []  # default threshold 100
    past = client.get(
        f"{BASE}/mass-reads", headers=auditor, params={"since": "2020-01-01", "until": "2020-01-02"}
    )
    assert (past.status_code, past.json()["items"]) == (200, [])
    assert client.get(f"{BASE}/mass-reads", headers=auditor, params={"threshold": 0}).status_code == 422
    logged = entries(client, auditor, action="audit:log:read", per_page=4)["items"]
    assert [e["details"]["query"] for e in logged] == ["mass_reads"] * 3
    assert logged[-1]["details"]["threshold"] == 2
    assert logged[-1]["details"]["count"] == 2


def test_verify_names_the_first_bad_entry(
    client: TestClient, engine: Engine, auditor: dict[str, str], app_settings: Settings
) -> None:
    key = load_or_create_key(app_settings.resolved_audit_key_dir(), TOWN_A.lg_code)  # the app's key directory
    with UnitOfWork(engine) as uow:
        assert sign_head(uow.session, TOWN_A, key) is not None
        uow.commit()
    count = last_seq(engine, TOWN_A)
    clean = client.get(f"{BASE}/verify", headers=auditor)
    assert clean.status_code == 200, clean.text
    assert clean.json() == {
        "ok": True,
        "checked": count,
        "heads_checked": 1,
        "first_bad": None,
        "reason": None,
        "notes": [{"code": "freshness_unchecked", "message": UNCHECKED}],  # the test app never signs
    }
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entry SET actor = 'intruder' WHERE lg_code = :c AND seq = 2"),
            {"c": TOWN_A.lg_code},
        )
    broken = client.get(f"{BASE}/verify", headers=auditor).json()
    assert (broken["ok"], broken["first_bad"], broken["reason"]) == (False, 2, "entry altered")
    logged = entries(client, auditor, action="audit:log:read", per_page=2)["items"]
    assert [e["details"] for e in logged] == [
        {"query": "verify", "ok": False, "count": 1, "first_bad": 2},
        {"query": "verify", "ok": True, "count": count, "first_bad": None},
    ]
