"""Separation of duties among a town's administrators, through the real app on both engines (issue 11).

No administrator changes its own roles or widens a role it holds; a grant of a privileged permission (reading
residents, managing staff) waits for a second, different administrator; every refusal answers 403 with a
stable code and leaves only its ``auth:denied`` entry.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine

from jichitai.platform.auth.permissions import (
    privileged_permissions,
    resident_reading_permissions,
    standard_roles,
)
from jichitai.platform.modules import catalog
from tests.conftest import PASSWORD, TOWN_A, TOWN_B, make_staff
from tests.modules.registry.test_api_life_story import BASE
from tests.platform.test_auth_api import counts, entries, refused_only_with_audit

TOWN = f"/api/v1/municipalities/{TOWN_A.lg_code}"
Headers = dict[str, str]


def admin(engine: Engine, login_name: str, *more_roles: str, town: Any = TOWN_A) -> Headers:
    """Headers of an administrator (holding ``admin`` and ``more_roles``) acting for 'administration'."""
    return make_staff(engine, town, login_name, ["admin", *more_roles], "administration")


def roles_of(client: TestClient, login_name: str, headers: Headers) -> list[str]:
    answer = client.get(f"{TOWN}/staff/{login_name}", headers=headers)
    assert answer.status_code == 200, answer.text
    roles: list[str] = answer.json()["roles"]
    return roles


def put_roles(client: TestClient, login_name: str, roles: list[str], headers: Headers) -> Response:
    return client.put(f"{TOWN}/staff/{login_name}/roles", json={"roles": roles}, headers=headers)


def approve(client: TestClient, number: int, headers: Headers) -> Response:
    return client.post(f"{TOWN}/grant-requests/{number}/approve", headers=headers)


def role(client: TestClient, code: str, headers: Headers) -> dict[str, Any]:
    found = [r for r in client.get(f"{TOWN}/roles", headers=headers).json() if r["code"] == code]
    assert len(found) == 1
    return {k: found[0][k] for k in ("name", "purposes", "permissions")}


def refused(answer: Response, code: str, status: int = 403) -> None:
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text


def test_privileged_permissions_come_from_the_declarations() -> None:
    loaded = catalog()
    reading = resident_reading_permissions()
    assert loaded.my_number_permissions() <= reading
    keepers = [m for m in loaded.modules if any(a.personal_read for a in m.audit_actions)]
    assert keepers, "some module declares personal reads"
    assert {p.code for m in keepers for p in m.permissions} <= reading
    assert "registry:resident:read" in reading
    assert "registry:certificate:issue" in reading  # a certificate shows a resident's record too
    assert privileged_permissions() == reading | {"admin:user:manage"}
    assert "audit:log:read" not in privileged_permissions()
    plain = {r.code for r in standard_roles() if not r.permissions & privileged_permissions()}
    assert plain == {"auditor"}


def test_an_administrator_cannot_change_its_own_roles(client: TestClient, engine: Engine) -> None:
    alice = admin(engine, "alice")
    before = counts(engine)
    for roles in (["admin", "registry_clerk"], ["admin", "auditor"], [], ["admin"]):
        refused(put_roles(client, "alice", roles, alice), "self_grant")
    refused_only_with_audit(engine, before, 4)
    denial = entries(engine, action="auth:denied")[-1]
    assert (denial.actor, denial.details["code"], denial.details["login_name"]) == (
        "alice",
        "self_grant",
        "alice",
    )
    assert roles_of(client, "alice", alice) == ["admin"]


def test_an_administrator_cannot_widen_a_role_it_holds(client: TestClient, engine: Engine) -> None:
    alice = admin(engine, "alice")
    original = role(client, "admin", alice)
    attempts = [
        {**original, "permissions": [*original["permissions"], "audit:log:read"]},
        {**original, "permissions": [*original["permissions"], "registry:resident:read"]},
        {**original, "purposes": [*original["purposes"], "resident_registry"]},
    ]
    before = counts(engine)
    for body in attempts:
        refused(client.put(f"{TOWN}/roles/admin", json=body, headers=alice), "self_grant")
    refused_only_with_audit(engine, before, len(attempts))
    assert role(client, "admin", alice) == original
    # A change that widens nothing (a new name) is not a grant.
    renamed = client.put(f"{TOWN}/roles/admin", json={**original, "name": "システム管理者"}, headers=alice)
    assert renamed.status_code == 200, renamed.text


def test_a_resident_reading_role_waits_for_a_second_administrator(client: TestClient, engine: Engine) -> None:
    alice, bob = admin(engine, "alice"), admin(engine, "bob")
    clerk = make_staff(engine, TOWN_A, "tanaka", [])
    asked = put_roles(client, "tanaka", ["tax"], alice)
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert (request["status"], request["kind"], request["subject"]) == ("pending", "staff", "tanaka")
    assert (request["before"], request["after"], request["privileged"]) == ([], ["tax"], ["tax"])
    assert request["requested_by"] == "alice"
    staff = client.get(f"{TOWN}/staff/tanaka", headers=alice).json()
    assert (staff["roles"], staff["pending_requests"]) == ([], [request["request_no"]])
    as_tax = {**clerk, "X-Jichitai-Purpose": "resident_tax"}
    refused(client.get(f"{BASE}/residents", params={"kana": "ア"}, headers=as_tax), "no_role")
    filed = entries(engine, action="admin:grant:request")[-1]
    assert (filed.actor, filed.details["after"]) == ("alice", ["tax"])

    approved = approve(client, request["request_no"], bob)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "bob")
    actions = [(e.action, e.actor) for e in entries(engine)][-2:]
    assert actions == [("admin:grant:approve", "bob"), ("admin:user:roles", "bob")]
    assert roles_of(client, "tanaka", alice) == ["tax"]
    assert client.get(f"{BASE}/residents", params={"kana": "ア"}, headers=as_tax).status_code == 200
    listed = client.get(f"{TOWN}/grant-requests", params={"status": "pending"}, headers=bob).json()
    assert listed == []


def test_every_privileged_role_and_widening_needs_approval(client: TestClient, engine: Engine) -> None:
    alice = admin(engine, "alice")
    make_staff(engine, TOWN_A, "tanaka", ["auditor"])
    for roles in (["registry_clerk"], ["auditor", "certificate_clerk"], ["support_officer"], ["admin"]):
        assert put_roles(client, "tanaka", roles, alice).status_code == 202
    assert roles_of(client, "tanaka", alice) == ["auditor"]
    # Narrowing and non-privileged roles apply at once.
    assert put_roles(client, "tanaka", [], alice).json()["roles"] == []
    assert put_roles(client, "tanaka", ["auditor"], alice).json()["roles"] == ["auditor"]
    tax = role(client, "tax", alice)
    for body in (
        {**tax, "permissions": [*tax["permissions"], "registry:mynumber:read"]},
        {**tax, "purposes": [*tax["purposes"], "resident_registry"]},
        {**tax, "permissions": [*tax["permissions"], "admin:user:manage"]},
    ):
        held = client.put(f"{TOWN}/roles/tax", json=body, headers=alice)
        assert (held.status_code, held.json()["kind"], held.json()["status"]) == (202, "role", "pending")
    assert role(client, "tax", alice) == tax
    narrowed = client.put(f"{TOWN}/roles/tax", json={**tax, "permissions": []}, headers=alice)
    assert (narrowed.status_code, narrowed.json()["permissions"]) == (200, [])


def test_a_role_widening_applies_once_approved(client: TestClient, engine: Engine) -> None:
    alice, bob = admin(engine, "alice"), admin(engine, "bob")
    taxman = admin(engine, "carol", "tax")  # an administrator who also holds the role being widened
    tax = role(client, "tax", alice)
    widened = {**tax, "permissions": sorted([*tax["permissions"], "registry:mynumber:read"])}
    number = client.put(f"{TOWN}/roles/tax", json=widened, headers=alice).json()["request_no"]
    refused(approve(client, number, taxman), "self_grant")
    assert role(client, "tax", alice) == tax
    assert approve(client, number, bob).status_code == 200
    assert role(client, "tax", alice) == widened
    update = entries(engine, action="admin:role:update")[-1]
    assert (update.actor, update.details["after"]["permissions"]) == ("bob", widened["permissions"])


def test_approval_is_refused_to_the_requester_the_grantee_and_non_administrators(
    client: TestClient, engine: Engine
) -> None:
    alice, bob, carol = admin(engine, "alice"), admin(engine, "bob"), admin(engine, "carol")
    clerk = make_staff(engine, TOWN_A, "tanaka", ["tax"], "resident_tax")
    other_town = admin(engine, "dave", town=TOWN_B)
    number = put_roles(client, "bob", ["admin", "registry_clerk"], alice).json()["request_no"]
    before = counts(engine)
    refused(approve(client, number, alice), "approval_by_requester")  # approving one's own request
    refused(approve(client, number, bob), "self_grant")  # the grantee approving its own grant
    refused(approve(client, number, clerk), "forbidden")  # a member without admin:user:manage
    assert approve(client, number, other_town).status_code == 404  # another town's administrator
    refused_only_with_audit(engine, before, 4)
    codes = [e.details["code"] for e in entries(engine, action="auth:denied")][-3:]
    assert codes == ["approval_by_requester", "self_grant", "forbidden"]
    assert roles_of(client, "bob", alice) == ["admin"]
    assert approve(client, number, carol).status_code == 200
    assert roles_of(client, "bob", alice) == ["admin", "registry_clerk"]
    refused(approve(client, number, carol), "grant_request_closed", 409)  # approving twice
    refused(
        approve(client, number, make_staff(engine, TOWN_A, "eve", ["admin"])), "grant_request_closed", 409
    )
    assert client.get(f"{TOWN}/grant-requests/999", headers=carol).status_code == 404


def test_one_administrator_cannot_make_an_accomplice(client: TestClient, engine: Engine) -> None:
    """An administrator alone registers a second account, but cannot give it the power to approve."""
    alice = admin(engine, "alice")
    body = {"login_name": "puppet", "display_name": "手先", "password": PASSWORD, "roles": ["admin", "tax"]}
    created = client.post(f"{TOWN}/staff", json=body, headers=alice)
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == []
    (number,) = created.json()["pending_requests"]
    puppet = anonymous_token(client, "puppet")
    refused(approve(client, number, puppet), "no_role")
    refused(approve(client, number, alice), "approval_by_requester")
    auditor = client.post(
        f"{TOWN}/staff", json={**body, "login_name": "kansa", "roles": ["auditor"]}, headers=alice
    )
    assert (auditor.json()["roles"], auditor.json()["pending_requests"]) == (["auditor"], [])


def anonymous_token(client: TestClient, login_name: str) -> Headers:
    body = {"lg_code": TOWN_A.lg_code, "login_name": login_name, "password": PASSWORD}
    answer = TestClient(client.app).post("/api/v1/auth/token", json=body)
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_an_approval_applies_only_what_was_requested(client: TestClient, engine: Engine) -> None:
    alice, bob = admin(engine, "alice"), admin(engine, "bob")
    make_staff(engine, TOWN_A, "tanaka", [])
    number = put_roles(client, "tanaka", ["welfare"], alice).json()["request_no"]
    assert put_roles(client, "tanaka", ["auditor"], bob).status_code == 200  # changed meanwhile
    refused(approve(client, number, bob), "grant_request_stale", 409)
    assert roles_of(client, "tanaka", alice) == ["auditor"]
    withdrawn = client.post(f"{TOWN}/grant-requests/{number}/reject", headers=alice)
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "rejected")
    refused(approve(client, number, bob), "grant_request_closed", 409)
    assert entries(engine, action="admin:grant:reject")[-1].actor == "alice"


def test_an_operator_still_registers_a_towns_first_administrator(
    client: TestClient, operator: dict[str, str]
) -> None:
    body = {"login_name": "first", "display_name": "最初の管理者", "password": PASSWORD, "roles": ["admin"]}
    created = TestClient(client.app).post(f"{TOWN}/staff", json=body, headers=operator)
    assert created.status_code == 201, created.text
    assert (created.json()["roles"], created.json()["pending_requests"]) == (["admin"], [])
