"""The cookies' Secure flag (issue 11): on over HTTPS, behind a trusted proxy that says HTTPS, or when forced;
never on a spoofed ``X-Forwarded-Proto`` from anyone else. In-process on both engines, and once through the
real server, whose uvicorn believes forwarded headers only from ``JICHITAI_TRUSTED_PROXIES``."""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from jichitai.app import create_app
from jichitai.platform.web.auth import trusted_networks
from jichitai.platform.web.views import LOGIN_CSRF_COOKIE
from jichitai.settings import Settings
from tests.conftest import PASSWORD, TOWN_A, make_staff
from tests.test_cli import ADD_OTSUCHI, free_port, run, run_env
from tests.ui import LOGIN_CSRF

HTTPS = {"X-Forwarded-Proto": "https"}
AppFor = Callable[..., TestClient]
"""``app_for(base_url=…, peer=(address, port), **settings)``: a client of the app with those settings."""
PROXY = ("10.1.2.3", 40000)
"""The address of the reverse proxy in the tests that have one."""


def session_cookies(client: TestClient, headers: dict[str, str] | None = None) -> list[str]:
    """The Set-Cookie lines of an API sign-in."""
    body = {"lg_code": TOWN_A.lg_code, "login_name": "sess", "password": PASSWORD, "purpose": "resident_tax"}
    answer = client.post("/api/v1/auth/session", json=body, headers=headers or {})
    assert answer.status_code == 201, answer.text
    return answer.headers.get_list("set-cookie")


def page_cookies(client: TestClient, headers: dict[str, str] | None = None) -> list[str]:
    """The Set-Cookie lines of the sign-in form and of a sign-in through it (session and town cookies)."""
    client.cookies.clear()  # signed out; the form's token cookie is sent by hand (a Secure one would not be)
    form = client.get("/ui/login", headers=headers or {})
    match = LOGIN_CSRF.search(form.text)
    assert match is not None, form.text
    client.cookies.clear()
    data = {
        "login_csrf": match[1],
        "lg_code": TOWN_A.lg_code,
        "login_name": "sess",
        "password": PASSWORD,
        "purpose": "resident_tax",
    }
    sent = {**(headers or {}), "Cookie": f"{LOGIN_CSRF_COOKIE}={match[1]}"}
    signed_in = client.post("/ui/login", data=data, headers=sent, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    return form.headers.get_list("set-cookie") + signed_in.headers.get_list("set-cookie")


def secure(lines: list[str]) -> set[bool]:
    """Whether each cookie set (not deleted) is marked Secure."""
    kept = [line for line in lines if "max-age=0" not in line.lower()]
    assert kept
    return {"; secure" in line.lower() for line in kept}


@pytest.fixture
def app_for(engine: Engine, towns: object, app_settings: Settings) -> Iterator[AppFor]:
    make_staff(engine, TOWN_A, "sess", ["tax"])
    made: list[TestClient] = []

    def client(
        base_url: str = "http://testserver", peer: tuple[str, int] = ("192.0.2.7", 50000), **setting: object
    ) -> TestClient:
        app = create_app(app_settings.model_copy(update=setting), engine)
        made.append(TestClient(app, base_url=base_url, client=peer, raise_server_exceptions=False))
        return made[-1]

    yield client
    for c in made:
        c.close()


def test_no_secure_flag_over_plain_http(app_for: AppFor) -> None:
    plain = app_for()
    assert secure(session_cookies(plain)) == {False}
    assert secure(page_cookies(app_for())) == {False}


def test_secure_flag_over_https(app_for: AppFor) -> None:
    assert secure(session_cookies(app_for("https://testserver"))) == {True}
    assert secure(page_cookies(app_for("https://testserver"))) == {True}


def test_a_spoofed_forwarded_proto_is_ignored(app_for: AppFor) -> None:
    # No proxy trusted at all, and a client that is not the listed proxy, both claiming HTTPS.
    for client in (app_for(), app_for(peer=("192.0.2.7", 50000), trusted_proxies="10.0.0.0/8")):
        assert secure(session_cookies(client, HTTPS)) == {False}
        assert secure(page_cookies(client, HTTPS)) == {False}


def test_a_trusted_proxy_saying_https_turns_it_on(app_for: AppFor) -> None:
    behind = app_for(peer=PROXY, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    assert secure(session_cookies(behind, HTTPS)) == {True}
    assert secure(page_cookies(app_for(peer=PROXY, trusted_proxies="10.1.2.3"), HTTPS)) == {True}
    assert secure(session_cookies(behind, {"X-Forwarded-Proto": "http"})) == {False}
    assert secure(session_cookies(behind)) == {False}


def test_the_setting_still_forces_it_on(app_for: AppFor) -> None:
    assert secure(session_cookies(app_for(secure_cookies=True))) == {True}
    assert secure(page_cookies(app_for(secure_cookies=True))) == {True}


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert trusted_networks("") == ()
    assert trusted_networks(" 127.0.0.1 , 10.0.0.0/24,::1") == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/24"),
        ipaddress.ip_network("::1/128"),
    )
    assert ipaddress.ip_address("203.0.113.9") in trusted_networks("*")[0]
    with pytest.raises(ValueError, match="JICHITAI_TRUSTED_PROXIES"):
        trusted_networks("proxy.example")


def _serve_and_sign_in(tmp_path: Path, trusted: str) -> str:
    """Run ``jichitai serve`` with ``trusted_proxies``, sign in from 127.0.0.1 claiming HTTPS; the cookie."""
    port = free_port()
    env = {
        **os.environ,
        "JICHITAI_VAR_DIR": str(tmp_path / "var"),
        "JICHITAI_DATABASE_URL": "",
        "JICHITAI_TRUSTED_PROXIES": trusted,
        "JICHITAI_AUDIT_SIGN_INTERVAL": "0",
        "JICHITAI_OFFSITE_SHIP_INTERVAL": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jichitai.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = json.dumps(
            {"lg_code": TOWN_A.lg_code, "login_name": "sess", "password": PASSWORD, "purpose": "resident_tax"}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request(
                    "POST",
                    "/api/v1/auth/session",
                    body,
                    {"Content-Type": "application/json", **HTTPS},
                )
                answer = conn.getresponse()
                break
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert answer.status == 201, answer.read()
        return answer.getheader("set-cookie") or ""
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_server_believes_forwarded_proto_only_from_listed_proxies(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, *ADD_OTSUCHI).returncode == 0
    new = {"JICHITAI_NEW_PASSWORD": PASSWORD}
    added = run_env(tmp_path, new, "staff", "add", TOWN_A.lg_code, "sess", "--name", "試験", "--role", "tax")
    assert added.returncode == 0, added.stdout + added.stderr
    # uvicorn on its own would believe 127.0.0.1; the product believes no one it was not told to.
    assert "; secure" not in _serve_and_sign_in(tmp_path, "").lower()
    assert "; secure" in _serve_and_sign_in(tmp_path, "127.0.0.1").lower()
