"""Property-based fuzzing of the whole API from its own OpenAPI document: no input ever gets a 5xx.

Schemathesis turns each operation of ``/openapi.json`` into a Hypothesis strategy; every generated request is
sent to the real app on the real database (both engines, two towns present).
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from jichitai.platform.tenancy import Tenant
from tests.conftest import StaffHeaders


def role_for(path: str) -> tuple[str, str]:
    """The role and purpose whose permission an operation needs, so generated requests pass the door."""
    for fragment, role, purpose in (
        ("/staff", "admin", "administration"),
        ("/roles", "admin", "administration"),
        ("/permissions", "admin", "administration"),
        ("/audit", "auditor", "audit"),
        ("/support-measures", "support_officer", "support_measure"),
        ("/certificates", "support_officer", "certificate"),
    ):
        if fragment in path:
            return role, purpose
    return "registry_clerk", "resident_registry"


def fuzz(strategy: st.SearchStrategy[schemathesis.Case], headers: dict[str, str]) -> None:
    """Send every generated case with ``headers``; no answer may be a 5xx or lack the error body."""

    @given(case=strategy)
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["code"]
            assert error["message"]

    call()


def test_no_server_errors(client: TestClient, towns: tuple[Tenant, Tenant], staff: StaffHeaders) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    signed_in: dict[tuple[str, str], dict[str, str]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    checked: set[str] = set()
    for operation in operations:
        # Valid and invalid inputs, for any municipality code and for a real town (past the tenant check),
        # signed in with a role whose permission the operation needs.
        role, purpose = role_for(operation.path)
        if (role, purpose) not in signed_in:
            signed_in[role, purpose] = staff(role, purpose=purpose)
        towns_to_try: list[dict[str, str] | None] = [None]
        if "{lg_code}" in operation.path:
            towns_to_try.append({"lg_code": towns[0].lg_code})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in towns_to_try:
                strategy = operation.as_strategy(mode, path_parameters=path_parameters)
                try:
                    fuzz(strategy, signed_in[role, purpose])
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing to break in an operation without inputs
        checked.add(operation.label)
    assert any("POST /api/v1/municipalities/{lg_code}/registry/events" in label for label in checked)
    assert any("/staff" in label for label in checked)


def test_fuzzing_reaches_real_towns(client: TestClient, towns: tuple[Tenant, Tenant]) -> None:
    """Paths with the signed-in clerk's town get past the tenant check (so the fuzz above is not all 404s)."""

    @given(kana=st.text(max_size=20))
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def search(kana: str) -> None:
        response = client.get(
            f"/api/v1/municipalities/{towns[0].lg_code}/registry/residents", params={"kana": kana}
        )
        assert response.status_code in (200, 422), response.text

    search()
