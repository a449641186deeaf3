"""Health probes, request ids, the municipality API, OpenAPI and error shapes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text


def test_health_and_readiness(client: TestClient, engine: Engine) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    with engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        stale = client.get("/readyz")
        assert (stale.status_code, stale.json()["error"]["code"]) == (503, "schema_outdated")
    finally:  # the PostgreSQL database is shared by the tests of one worker
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert len(made) == 32


def test_municipalities(client: TestClient, operator: dict[str, str]) -> None:
    listed = client.get("/api/v1/municipalities").json()
    assert [m["lg_code"] for m in listed] == ["034614", "046060"]
    assert listed[0]["settings"]["mayor_title"] == "町長"
    created = client.post(
        "/api/v1/municipalities",
        json={
            "lg_code": "032107",
            "name": "陸前高田市",
            "name_kana": "リクゼンタカタシ",
            "prefecture": "岩手県",
            "settings": {"mayor_title": "市長", "fee_juminhyo": 300},
        },
        headers=operator,
    )
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/municipalities/032107").json()["settings"]["fee_juminhyo"] == 300
    bad = client.post(
        "/api/v1/municipalities",
        json={"lg_code": "032108", "name": "x", "name_kana": "x", "prefecture": "岩手県"},
        headers=operator,
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_check_digit")
    dup = client.post(
        "/api/v1/municipalities",
        json={"lg_code": "032107", "name": "x", "name_kana": "x", "prefecture": "岩手県"},
        headers=operator,
    )
    assert (dup.status_code, dup.json()["error"]["code"]) == (409, "municipality_exists")
    staff_only = client.post(
        "/api/v1/municipalities",
        json={"lg_code": "032140", "name": "x", "name_kana": "x", "prefecture": "岩手県"},
    )
    assert (staff_only.status_code, staff_only.json()["error"]["code"]) == (403, "operator_only")


def test_unknown_routes_and_methods_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong = client.delete("/api/v1/municipalities")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_openapi_describes_every_event_type(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/municipalities/{lg_code}/registry/events" in spec["paths"]
    schemas = spec["components"]["schemas"]
    for name in (
        "MoveIn",
        "Relocation",
        "MoveOut",
        "Birth",
        "Death",
        "HouseholdSplit",
        "HouseholdMerge",
        "HouseholdTransfer",
        "HeadChange",
        "ExOfficioEntry",
        "ExOfficioRemoval",
        "ExOfficioCorrection",
        "Cancellation",
    ):
        assert name in schemas


def test_text_that_cannot_be_stored_is_refused(client: TestClient) -> None:
    base = "/api/v1/municipalities/034614/registry"
    for response in (
        client.get(f"{base}/residents", params={"kana": "ヤ\x00マ"}),
        client.post(
            f"{base}/events",
            content=b'{"type": "death", "atena_no": "a\\u0000"}',
            headers={"content-type": "application/json"},
        ),
        client.post(
            f"{base}/events",
            content=b'{"type": "death", "atena_no": "\\ud800"}',
            headers={"content-type": "application/json"},
        ),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_characters")
    big = client.post(
        f"{base}/events", content=b"[" + b"1," * 600_000 + b"1]", headers={"content-type": "application/json"}
    )
    assert (big.status_code, big.json()["error"]["code"]) == (413, "payload_too_large")


def test_security_headers_on_every_answer(client: TestClient) -> None:
    for url in ("/healthz", "/api/v1/municipalities", "/nowhere"):
        headers = client.get(url).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert headers["content-security-policy"].startswith("default-src 'none'")
    assert "content-security-policy" not in client.get("/docs").headers
