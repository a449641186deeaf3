"""DV等支援措置 and certificates through HTTP with real staff tokens, on both engines (issue 3 acceptance)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from jichitai.platform.audit import AuditEntry
from jichitai.platform.db import read_session

from ...conftest import TOWN_B, StaffHeaders
from .test_api_life_story import BASE, days, move_in_family

THIRD_PARTY = {"category": "third_party", "name": "調査　株式会社"}


def family(client: TestClient) -> tuple[str, str, str]:
    """山田太郎 (the 相手方), 花子 (protected) and 一郎, one household moved in by a 住民記録担当."""
    taro, hanako, ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    return taro, hanako, ichiro


def measure(hanako: str, taro: str, **extra: Any) -> dict[str, Any]:
    return {
        "atena_no": hanako,
        "kind": "spousal_violence",
        "counterparty": {
            "name": "山田　太郎",
            "kana": "ヤマダ　タロウ",
            "atena_no": taro,
            "birth_date": "1980-05-05",
        },
        "reason": "配偶者暴力相談支援センターの意見",
        **extra,
    }


def request(subject: str, requester: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "resident_record",
        "style": "individual",
        "atena_nos": [subject],
        "requester": requester,
        "purpose": "債権の確認",
        **extra,
    }


def certificate_entries(engine: Engine) -> list[tuple[str | None, str, str | None, str, dict[str, Any]]]:
    with read_session(engine) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "registry:certificate:issue")
            .order_by(AuditEntry.seq)
        )
        return [(e.subject, e.outcome, e.role, e.actor, e.details) for e in rows]


def test_acceptance_block_refused_then_overridden_and_both_audited(
    client: TestClient, engine: Engine, staff: StaffHeaders
) -> None:
    taro, hanako, _ichiro = family(client)
    officer = staff("support_officer", purpose="support_measure")
    created = client.post(f"{BASE}/support-measures", json=measure(hanako, taro), headers=officer)
    assert created.status_code == 201, created.text
    assert (created.json()["measure_no"], created.json()["state"]) == (1, "provisional")

    # A 証明発行担当 is refused, with a reason code and no address in the message.
    clerk = staff("certificate_clerk")
    refused = client.post(f"{BASE}/certificates", json=request(hanako, THIRD_PARTY), headers=clerk)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "support_measure_block"
    assert "本町" not in error["message"]
    # Giving a reason does not help without the permission.
    attempt = request(hanako, THIRD_PARTY, override={"reason": "急ぎのため"})
    assert client.post(f"{BASE}/certificates", json=attempt, headers=clerk).json()["error"]["code"] == (
        "support_measure_block"
    )

    # The 支援措置担当, acting for 証明書交付事務, lifts it with a recorded reason.
    officer_at_counter = staff("support_officer", purpose="certificate")
    reason = "訴訟の提出先を確認し、住所を伏せて交付"
    body = request(hanako, THIRD_PARTY, override={"reason": reason})
    issued = client.post(f"{BASE}/certificates", json=body, headers=officer_at_counter)
    assert issued.status_code == 201, issued.text
    content = issued.json()
    assert (content["issue_no"], content["overridden"], content["type_label"]) == (1, True, "住民票の写し")
    person = content["pages"][0]["persons"][0]
    assert (person["atena_no"], person["my_number"], person["juminhyo_code"]) == (hanako, None, None)

    log = client.get(f"{BASE}/certificates/1", headers=clerk)
    assert log.status_code == 200, log.text
    assert (log.json()["override_reason"], log.json()["overridden_measures"]) == (reason, [1])

    trail = certificate_entries(engine)
    assert [(s, o, r) for s, o, r, _a, _d in trail] == [
        (hanako, "denied", "certificate_clerk"),
        (hanako, "denied", "certificate_clerk"),
        (hanako, "override", "support_officer"),
    ]
    assert trail[0][4]["code"] == "support_measure_block"
    assert trail[1][4]["override_requested"] is True
    assert trail[2][4]["override_reason"] == reason
    assert trail[0][3].startswith("certificate-clerk")


def test_the_counterparty_is_refused_for_good(
    client: TestClient, engine: Engine, staff: StaffHeaders
) -> None:
    taro, hanako, _ichiro = family(client)
    officer = staff("support_officer", purpose="support_measure")
    assert (
        client.post(f"{BASE}/support-measures", json=measure(hanako, taro), headers=officer).status_code
        == 201
    )
    counter = staff("support_officer", purpose="certificate")
    as_household = {"category": "household", "name": "山田太郎", "atena_no": taro}
    body = request(hanako, as_household, override={"reason": "審査済み"})
    refused = client.post(f"{BASE}/certificates", json=body, headers=counter)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "counterparty_request"
    assert [(s, o, d["code"]) for s, o, _r, _a, d in certificate_entries(engine)] == [
        (hanako, "denied", "counterparty_request")
    ]


def test_support_measure_routes(client: TestClient, staff: StaffHeaders) -> None:
    taro, hanako, ichiro = family(client)
    officer = staff("support_officer", purpose="support_measure")
    first = client.post(
        f"{BASE}/support-measures", json=measure(hanako, taro, provisional=False), headers=officer
    )
    assert first.status_code == 201, first.text
    joined = client.post(
        f"{BASE}/support-measures",
        json=measure(ichiro, taro, kind="child_abuse", related_measure_no=1, starts_on=days(-340)),
        headers=officer,
    )
    assert joined.status_code == 201, joined.text
    assert joined.json()["related_measure_no"] == 1

    one = client.get(f"{BASE}/support-measures/1", headers=officer).json()
    assert (one["state"], one["kind_label"], one["counterparty"]["name"]) == (
        "active",
        "配偶者暴力",
        "山田　太郎",
    )
    listed = client.get(f"{BASE}/support-measures", params={"atena_no": ichiro}, headers=officer).json()
    assert [m["measure_no"] for m in listed["items"]] == [2]
    alerts = client.get(f"{BASE}/support-measures", params={"alerts": "true"}, headers=officer).json()
    assert [m["measure_no"] for m in alerts["items"]] == [2]  # its year ends within the month
    assert alerts["items"][0]["alert"] is True

    confirmed = client.post(f"{BASE}/support-measures/2/confirm", json={}, headers=officer)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "active"
    too_early = client.post(f"{BASE}/support-measures/1/extend", json={"reason": "延長"}, headers=officer)
    assert (too_early.status_code, too_early.json()["error"]["code"]) == (409, "extension_too_early")
    ended = client.post(f"{BASE}/support-measures/1/end", json={"reason": "取下げ"}, headers=officer)
    assert (ended.status_code, ended.json()["state"]) == (200, "ended")
    again = client.post(f"{BASE}/support-measures/1/end", json={"reason": "取下げ"}, headers=officer)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "support_measure_ended")


def test_permissions_and_tenancy(client: TestClient, staff: StaffHeaders) -> None:
    taro, hanako, _ichiro = family(client)
    body = measure(hanako, taro)
    for role in ("certificate_clerk", "registry_clerk", "tax", "auditor"):
        refused = client.post(f"{BASE}/support-measures", json=body, headers=staff(role))
        assert refused.status_code == 403, (role, refused.text)
    assert client.get(f"{BASE}/support-measures", headers=staff("tax")).status_code == 403
    tax = client.post(f"{BASE}/certificates", json=request(hanako, THIRD_PARTY), headers=staff("tax"))
    assert tax.status_code == 403
    officer = staff("support_officer", purpose="support_measure")
    assert client.post(f"{BASE}/support-measures", json=body, headers=officer).status_code == 201
    other_town = staff("support_officer", town=TOWN_B, purpose="support_measure")
    assert client.get(f"{BASE}/support-measures/1", headers=other_town).status_code == 404
    b_base = f"/api/v1/municipalities/{TOWN_B.lg_code}/registry"
    assert client.get(f"{b_base}/support-measures/1", headers=other_town).status_code == 404
    assert client.get(f"{BASE}/certificates/1", headers=staff("certificate_clerk")).status_code == 404


def test_bodies_are_strict(client: TestClient, staff: StaffHeaders) -> None:
    taro, hanako, _ichiro = family(client)
    officer = staff("support_officer", purpose="support_measure")
    clerk = staff("certificate_clerk")
    cases: list[tuple[str, dict[str, Any], dict[str, str], int, str]] = [
        ("support-measures", {**measure(hanako, taro), "extra": 1}, officer, 422, "invalid_extra_forbidden"),
        ("support-measures", measure(hanako, taro, reason="   "), officer, 422, "invalid_string_too_short"),
        ("support-measures", measure(hanako, taro, starts_on="2999-01-01"), officer, 422, "future_date"),
        (
            "certificates",
            request(hanako, THIRD_PARTY, override={"reason": ""}),
            clerk,
            422,
            "invalid_string_too_short",
        ),
        (
            "certificates",
            request(hanako, THIRD_PARTY, items={"my_number": True}),
            clerk,
            422,
            "item_not_allowed",
        ),
        (
            "certificates",
            {**request(hanako, THIRD_PARTY), "household_no": "0000000019"},
            clerk,
            422,
            "subjects_required",
        ),
    ]
    for path, body, headers, status, code in cases:
        response = client.post(f"{BASE}/{path}", json=body, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), (path, body)
    big = client.get(f"{BASE}/support-measures/{2**31}", headers=officer)
    assert big.status_code == 422
