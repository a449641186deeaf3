"""Sign-in hardening (issue 11): a locked account answers like a wrong password, new passwords are checked
for strength and for the town's and the user's names, a credential's purpose cannot be changed by a header,
and nothing is issued for a purpose the user's roles do not allow. Through the real app on both engines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from jichitai.cli import DEMO_TOWNS
from jichitai.platform.auth import passwords
from jichitai.platform.auth.models import StaffUser
from jichitai.platform.auth.services import DEMO_PASSWORD
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import InvalidInput
from jichitai.platform.tenancy import declare_all_towns
from tests.conftest import PASSWORD, TOWN_A, TOWN_B, anonymous, make_staff
from tests.modules.registry.test_api_life_story import BASE
from tests.platform.test_auth_api import counts, entries, refused_only_with_audit
from tests.ui import LOGIN_CSRF, browser, login_form, sign_in

TOWN = f"/api/v1/municipalities/{TOWN_A.lg_code}"
WRONG = "wrong horse battery staple"


def token(client: TestClient, login_name: str, password: str = PASSWORD, **extra: Any) -> Any:
    body = {"lg_code": TOWN_A.lg_code, "login_name": login_name, "password": password, **extra}
    return anonymous(client).post("/api/v1/auth/token", json=body)


def code_of(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


# --- locked and wrong answer alike ---------------------------------------------------------------------


class CountingHasher(PasswordHasher):
    """The suite's cheap argon2id, counting verifications (the work that makes a sign-in's timing)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher() -> Iterator[CountingHasher]:
    counting = CountingHasher()
    previous = passwords.use_hasher(counting)
    yield counting
    passwords.use_hasher(previous)


def test_a_locked_account_answers_exactly_like_a_wrong_password(
    client: TestClient, engine: Engine, staff: Any, hasher: CountingHasher
) -> None:
    make_staff(engine, TOWN_A, "sato", ["tax"])
    make_staff(engine, TOWN_A, "suzuki", ["tax"])
    make_staff(engine, TOWN_A, "takeda", ["tax"])
    for _ in range(5):
        token(client, "sato", WRONG)  # the fifth locks it
    admin = staff("admin")
    assert client.post(f"{TOWN}/staff/takeda/disable", headers=admin).status_code == 200
    cases = {
        "locked, right password": ("sato", PASSWORD),
        "locked, wrong password": ("sato", WRONG),
        "wrong password": ("suzuki", WRONG),
        "unknown name": ("nobody", PASSWORD),
        "disabled, right password": ("takeda", PASSWORD),
    }
    answers = {}
    for case, (login_name, password) in cases.items():
        before = hasher.verified
        answer = token(client, login_name, password)
        answers[case] = (answer.status_code, answer.json(), dict(answer.headers).get("www-authenticate"))
        assert hasher.verified - before == 1, case  # the same argon2 work: one verification each
    assert len({repr(a) for a in answers.values()}) == 1, answers
    assert answers["wrong password"][:2] == (
        401,
        {
            "error": {
                "code": "invalid_credentials",
                "message": "ログイン名またはパスワードが正しくありません。",
                "field": None,
            }
        },
    )
    reasons = [e.details["reason"] for e in entries(engine, action="auth:login") if e.outcome == "failed"]
    assert reasons[-5:] == ["locked", "locked", "wrong_password", "unknown_user", "disabled"]


def test_the_sign_in_page_does_not_tell_a_locked_account(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)

    def attempt(password: str) -> tuple[int, str]:
        form = {
            "login_csrf": login_form(page),
            "lg_code": TOWN_A.lg_code,
            "login_name": "ui-clerk",
            "password": password,
            "purpose": "resident_registry",
        }
        answer = page.post("/ui/login", data=form)
        return answer.status_code, LOGIN_CSRF.sub("", answer.text)

    wrong = [attempt(f"{WRONG} {n}") for n in range(5)]  # the fifth locks the account
    locked = attempt(PASSWORD)
    assert locked == wrong[0] == wrong[-1]
    assert locked[0] == 401
    assert "ログイン名またはパスワードが正しくありません。" in locked[1]
    assert "ロックされています" not in locked[1]


def test_a_locked_operator_answers_like_a_wrong_password(client: TestClient, operator: Any) -> None:
    body = {"login_name": "ops", "password": WRONG}
    wrong = [anonymous(client).post("/api/v1/auth/token", json=body) for _ in range(5)]
    locked = anonymous(client).post("/api/v1/auth/token", json={**body, "password": PASSWORD})
    assert (locked.status_code, locked.json()) == (wrong[0].status_code, wrong[0].json())
    assert code_of(locked) == (401, "invalid_credentials")


# --- new passwords -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "common",
    [
        "password1234",
        "Password2026!",
        "passw0rd1234",
        "qwertyuiop123",
        "1qaz2wsx3edc",
        "123456789012",
        "iloveyou1234",
        "letmein12345",
        "trustno1trustno1",
        "administrator",
        "sunshine2024",
    ],
)
def test_common_and_guessable_passwords_are_refused(common: str) -> None:
    with pytest.raises(InvalidInput, match="推測されやすい") as refused:
        passwords.check_policy(common, "sato")
    assert refused.value.code == "weak_password"


TOWN_NAMES = [
    "大槌町の静かな港と灯台の夜",  # kanji
    "大槌 harbor lantern 19",  # kanji without 町
    "おおつちの静かな港と灯台",  # hiragana
    "オオツチの静かな港と灯台",  # katakana
    "ｵｵﾂﾁの静かな港と灯台です",  # half-width katakana
    "Otsuchi-harbor-lantern-77",  # romaji
    "ＯＴＳＵＣＨＩ lantern harbor",  # full-width romaji
    "OHTSUCHI harbor lantern",  # long vowel as "oh"
    "ootsuchi harbor lantern",  # long vowel written out
    "otuti harbor lantern 9",  # Kunrei-shiki
    "O-tsu-chi harbor lantern",  # split up
    "minami harbor Oot suchi",  # split by a space
]


def test_a_password_with_the_towns_name_is_refused(client: TestClient, engine: Engine, staff: Any) -> None:
    make_staff(engine, TOWN_A, "sato", ["tax"])
    admin = staff("admin")
    for password in TOWN_NAMES:
        answer = client.put(f"{TOWN}/staff/sato/password", json={"password": password}, headers=admin)
        assert code_of(answer) == (422, "weak_password"), password
        assert "市区町村名" in answer.json()["error"]["message"], password
    body = {"login_name": "newbie", "display_name": "新人", "password": TOWN_NAMES[5], "roles": []}
    assert code_of(client.post(f"{TOWN}/staff", json=body, headers=admin)) == (422, "weak_password")
    # The name is the town's own: another town's member may use it.
    make_staff(engine, TOWN_B, "sato", ["tax"])
    other = staff("admin", town=TOWN_B)
    town_b = f"/api/v1/municipalities/{TOWN_B.lg_code}/staff/sato/password"
    assert client.put(town_b, json={"password": TOWN_NAMES[5]}, headers=other).status_code == 204


@pytest.mark.parametrize(
    "password",
    [
        "K-SATO harbor lantern 77",
        "ｋ－ｓａｔｏ harbor lantern",
        "k.sato harbor lantern 7",
        "KSato harbor lantern 7",
    ],
)
def test_a_password_with_the_login_name_in_any_case_or_width_is_refused(password: str) -> None:
    with pytest.raises(InvalidInput, match="ログイン名"):
        passwords.check_policy(password, "k-sato", town=passwords.town_words("大槌町", "オオツチチョウ"))


def test_the_suites_and_the_demos_passwords_pass_the_rule() -> None:
    towns = [("大槌町", "オオツチチョウ"), ("南三陸町", "ミナミサンリクチョウ")]
    towns += [(name, kana) for _code, name, kana, *_ in DEMO_TOWNS]
    for name, kana in towns:
        for login_name in ("sato", "demo-admin", "demo-clerk"):
            passwords.check_policy(PASSWORD, login_name, town=passwords.town_words(name, kana))
            passwords.check_policy(DEMO_PASSWORD, login_name, town=passwords.town_words(name, kana))


def test_a_password_set_before_the_rule_still_signs_in(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "sato", ["tax"])
    with UnitOfWork(engine) as uow:
        declare_all_towns(uow.session)
        hashed = passwords.hash_password("password1234")
        uow.session.execute(
            update(StaffUser).where(StaffUser.login_name == "sato").values(password_hash=hashed)
        )
        uow.commit()
    assert token(client, "sato", "password1234").status_code == 201


# --- purposes ------------------------------------------------------------------------------------------


def search(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get(f"{BASE}/residents", params={"kana": "ア"}, headers=headers)


def test_a_header_cannot_repurpose_a_bound_token(client: TestClient, engine: Engine) -> None:
    as_tax = make_staff(engine, TOWN_A, "two-hats", ["tax", "registry_clerk"], "resident_tax")
    assert search(client, as_tax).status_code == 200
    assert search(client, {**as_tax, "X-Jichitai-Purpose": "resident_tax"}).status_code == 200
    before = counts(engine)
    attempts = [
        ("X-Jichitai-Purpose", "resident_registry"),  # a purpose the user's other role allows
        ("x-jichitai-purpose", "certificate"),  # any spelling of the header
        ("X-Jichitai-Purpose", "health_insurance"),  # one no role allows
        ("X-Jichitai-Purpose", "RESIDENT_TAX"),  # not the bound one, whatever it looks like
    ]
    for name, value in attempts:
        assert code_of(search(client, {**as_tax, name: value})) == (403, "purpose_bound"), value
    record = client.post(
        f"{BASE}/events", json={}, headers={**as_tax, "X-Jichitai-Purpose": "resident_registry"}
    )
    assert code_of(record) == (403, "purpose_bound")
    refused_only_with_audit(engine, before, len(attempts) + 1)
    denial = entries(engine, action="auth:denied")[-1]
    assert (denial.actor, denial.purpose, denial.details["code"]) == (
        "two-hats",
        "resident_registry",
        "purpose_bound",
    )
    # A token issued for no purpose still takes the header (the user chooses per request).
    unbound = make_staff(engine, TOWN_A, "free-hats", ["tax", "registry_clerk"])
    assert search(client, {**unbound, "X-Jichitai-Purpose": "resident_registry"}).status_code == 200


def test_a_header_cannot_repurpose_a_cookie_session(client: TestClient, engine: Engine) -> None:
    make_staff(engine, TOWN_A, "two-hats", ["tax", "registry_clerk"])
    api = anonymous(client)
    body = {
        "lg_code": TOWN_A.lg_code,
        "login_name": "two-hats",
        "password": PASSWORD,
        "purpose": "resident_tax",
    }
    assert api.post("/api/v1/auth/session", json=body).status_code == 201
    assert api.get(f"{BASE}/residents", params={"kana": "ア"}).status_code == 200
    header = {"X-Jichitai-Purpose": "resident_registry"}
    assert code_of(api.get(f"{BASE}/residents", params={"kana": "ア"}, headers=header)) == (
        403,
        "purpose_bound",
    )
    page = browser(client)
    home = sign_in(page, "two-hats", purpose="resident_tax")
    assert home.status_code == 200, home.text
    answer = page.get(f"{BASE}/residents", params={"kana": "ア"}, headers=header)
    assert code_of(answer) == (403, "purpose_bound")


def test_no_credential_is_issued_for_a_purpose_the_roles_do_not_allow(
    client: TestClient, engine: Engine
) -> None:
    make_staff(engine, TOWN_A, "sato", ["tax"])
    make_staff(engine, TOWN_A, "roleless", [])
    issued = counts(engine)["auth_credential"]
    for purpose in ("resident_registry", "administration", "audit"):
        assert code_of(token(client, "sato", purpose=purpose)) == (403, "purpose_not_allowed")
        body = {"lg_code": TOWN_A.lg_code, "login_name": "sato", "password": PASSWORD, "purpose": purpose}
        session = anonymous(client).post("/api/v1/auth/session", json=body)
        assert code_of(session) == (403, "purpose_not_allowed")
        assert "set-cookie" not in session.headers
    assert (
        "選べる利用目的: 個人住民税事務" in token(client, "sato", purpose="audit").json()["error"]["message"]
    )
    assert code_of(token(client, "roleless", purpose="resident_tax")) == (403, "no_role")
    # A wrong password is answered first: the purpose's answer tells nothing to someone without it.
    assert code_of(token(client, "sato", WRONG, purpose="administration")) == (401, "invalid_credentials")
    assert code_of(token(client, "sato", purpose="no_such_purpose")) == (422, "unknown_purpose")
    assert counts(engine)["auth_credential"] == issued
    failed = [e for e in entries(engine, action="auth:login", actor="sato") if e.outcome == "failed"]
    assert {e.details["reason"] for e in failed} == {"purpose_not_allowed", "wrong_password"}
    assert token(client, "sato", purpose="resident_tax").status_code == 201


def test_the_sign_in_page_opens_no_session_for_a_purpose_not_allowed(
    client: TestClient, engine: Engine
) -> None:
    make_staff(engine, TOWN_A, "ui-cert", ["certificate_clerk"])
    issued = counts(engine)["auth_credential"]
    refused = sign_in(browser(client), "ui-cert", purpose="resident_registry")
    assert refused.status_code == 403
    assert re.search("選べる利用目的: 証明書交付事務", refused.text)
    assert counts(engine)["auth_credential"] == issued
