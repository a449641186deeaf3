"""Driving the screens in-process: sign in through the login form, read tokens and messages from pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx2 import Response

from tests.conftest import PASSWORD, TOWN_A

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')
FIELD_ERROR = re.compile(
    r'<p class="field-error"[^>]*>(?:<span class="visually-hidden">エラー: </span>)?(.*?)</p>', re.S
)


def browser(client: TestClient) -> TestClient:
    """A client on the same app with no credentials, keeping cookies like a browser."""
    return TestClient(client.app, raise_server_exceptions=False)


def login_form(page: TestClient) -> str:
    """Open the sign-in page; its one-time form token."""
    response = page.get("/ui/login")
    assert response.status_code == 200, response.text
    match = LOGIN_CSRF.search(response.text)
    assert match is not None
    return match[1]


def sign_in(
    page: TestClient, login_name: str, purpose: str = "resident_registry", lg_code: str = TOWN_A.lg_code
) -> Response:
    """Sign in through the form (following the redirect to the town's home page)."""
    token = login_form(page)
    return page.post(
        "/ui/login",
        data={
            "login_csrf": token,
            "lg_code": lg_code,
            "login_name": login_name,
            "password": PASSWORD,
            "purpose": purpose,
        },
    )


def csrf_of(response: Response) -> str:
    """The session's CSRF token, as every signed-in page carries it."""
    match = CSRF.search(response.text)
    assert match is not None, response.text[:500]
    return match[1]


def field_errors(response: Response) -> list[str]:
    """The inline messages shown next to inputs."""
    return [m.strip() for m in FIELD_ERROR.findall(response.text)]
