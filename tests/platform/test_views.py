"""The screens' sign-in, sign-out and refusals through the real app on both engines (issue 4)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import PASSWORD, TOWN_A, make_staff
from tests.platform.test_auth_api import entries
from tests.ui import browser, csrf_of, login_form, sign_in

HOME = f"/ui/{TOWN_A.lg_code}/"


def test_front_door_leads_to_sign_in_and_home(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    door = page.get("/", follow_redirects=False)
    assert (door.status_code, door.headers["location"]) == (303, "/ui/login")
    form = page.get("/ui/login")
    assert 'lang="ja"' in form.text
    for name in ("lg_code", "login_name", "password", "purpose"):
        assert f'<label for="f-{name}">' in form.text
    home = sign_in(page, "ui-clerk")
    assert (home.status_code, home.url.path) == (200, HOME)
    for shown in ("岩手県大槌町", "試験 ui-clerk", "ui-clerk", "住民基本台帳事務", "ログアウト"):
        assert shown in home.text
    assert f'href="{HOME}registry/search"' in home.text  # the declared menu, as the roles allow
    assert "autofocus" in home.text  # on the first entry: Enter opens it
    assert page.get("/ui/login", follow_redirects=False).headers["location"] == HOME
    logins = entries(engine, action="auth:login")
    assert [(e.actor, e.outcome, e.purpose) for e in logins][-1] == ("ui-clerk", "ok", "resident_registry")


def test_wrong_password_is_explained_and_locks(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    for attempt in range(5):
        wrong = page.post(
            "/ui/login",
            data={
                "login_csrf": login_form(page),
                "lg_code": TOWN_A.lg_code,
                "login_name": "ui-clerk",
                "password": f"wrong password {attempt}",
                "purpose": "resident_registry",
            },
        )
        assert wrong.status_code == 401
        assert "jichitai_session" not in page.cookies
    assert "ログイン名またはパスワードが正しくありません。" in wrong.text
    assert 'value="ui-clerk"' in wrong.text  # the login name stays, the password does not
    locked = sign_in(page, "ui-clerk")
    assert locked.status_code == 401  # answered like a wrong password: the page does not say it is locked
    assert "ログイン名またはパスワードが正しくありません。" in locked.text


def test_sign_in_needs_the_form_token_and_a_known_town(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    before = len(entries(engine))
    forged = page.post(
        "/ui/login",
        data={"lg_code": TOWN_A.lg_code, "login_name": "ui-clerk", "password": PASSWORD},
    )
    assert forged.status_code == 403
    assert "画面の有効期限が切れました" in forged.text
    assert len(entries(engine)) == before  # refused before any password was checked
    malformed = page.post(
        "/ui/login",
        data={"login_csrf": login_form(page), "lg_code": "12", "login_name": "x", "password": "y"},
    )
    assert malformed.status_code == 422
    assert "市区町村コード (6桁)" in malformed.text


def test_a_purpose_the_roles_do_not_allow_is_refused_at_sign_in(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-cert", ["certificate_clerk"])
    page = browser(client)
    refused = sign_in(page, "ui-cert", purpose="resident_registry")
    assert refused.status_code == 403
    assert "選べる利用目的: 証明書交付事務" in refused.text
    assert page.get(HOME, follow_redirects=False).status_code == 303  # no session was opened
    last = entries(engine, actor="ui-cert")[-1]
    assert (last.action, last.outcome) == ("auth:login", "failed")
    assert last.details["reason"] == "purpose_not_allowed"
    home = sign_in(page, "ui-cert", purpose="certificate")
    assert (home.status_code, home.url.path) == (200, HOME)
    assert "証明書交付事務" in home.text


def test_pages_send_a_signed_out_browser_to_sign_in_and_back(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    wanted = f"{HOME}registry/search?kana=%E3%83%A4%E3%83%9E%E3%83%80"
    away = page.get(wanted, follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"].startswith(
        "/ui/login?reason=unauthenticated&next=%2Fui%2F034614%2Fregistry%2Fsearch"
    )
    form = page.get(away.headers["location"])
    assert "ログインしてください。" in form.text
    token = login_form(page)
    back = page.post(
        "/ui/login",
        data={
            "login_csrf": token,
            "lg_code": TOWN_A.lg_code,
            "login_name": "ui-clerk",
            "password": PASSWORD,
            "purpose": "resident_registry",
            "next": "/ui/034614/registry/search?kana=%E3%83%A4%E3%83%9E%E3%83%80",
        },
    )
    assert back.url.path == f"{HOME}registry/search"
    other = browser(client)
    elsewhere = other.post(
        "/ui/login",
        data={
            "login_csrf": login_form(other),
            "lg_code": TOWN_A.lg_code,
            "login_name": "ui-clerk",
            "password": PASSWORD,
            "purpose": "resident_registry",
            "next": "//example.com/ui/",
        },
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == HOME  # never sent to another site


def test_sign_out_needs_the_csrf_token(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    home = sign_in(page, "ui-clerk")
    forged = page.post("/ui/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    assert page.get(HOME).status_code == 200  # still signed in
    cookie = page.cookies["jichitai_session"]
    out = page.post("/ui/logout", data={"csrf_token": csrf_of(home)}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/ui/login?reason=logged_out")
    assert "ログアウトしました。" in page.get(out.headers["location"]).text
    replay = browser(client)
    replay.cookies.set("jichitai_session", cookie)
    assert replay.get(HOME, follow_redirects=False).status_code == 303  # the session is over
    assert [e.action for e in entries(engine, actor="ui-clerk")][-1] == "auth:logout"


def test_pages_load_only_their_own_files(client: TestClient) -> None:
    page = browser(client)
    policy = page.get("/ui/login").headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "http" not in policy
    css = page.get("/static/app.css")
    assert (css.status_code, css.headers["content-type"].split(";")[0]) == (200, "text/css")
    assert page.get("/static/app.js").status_code == 200
    assert (
        page.get("/api/v1/municipalities").headers["content-security-policy"].startswith("default-src 'none'")
    )


def test_refusals_on_pages_are_japanese_pages(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    sign_in(page, "ui-clerk")
    missing = page.get(f"{HOME}persons/0000000019")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "住民が見つかりません。" in missing.text
    assert "岩手県大槌町" in missing.text
    bad = page.get(f"{HOME}search", params={"status": "everyone"})
    assert (bad.status_code, bad.headers["content-type"][:9]) == (422, "text/html")
    nul = page.post(
        f"{HOME}events/death",
        content=b"atena_no=%00",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert nul.status_code == 422
