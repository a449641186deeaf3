"""Hostile request bodies on every route of the app, signed in and not (issue 11).

Every route the app serves (the modules' routers, the OpenAPI and static routes) gets every body a parser
could choke on: deep or oversized JSON, invalid UTF-8, lone surrogates, NaN, numbers no field can hold,
duplicate names, truncated JSON, the wrong media type, a compressed body, a body on GET. Each is refused with
a 4xx: the API's error body on the API, an error page on the screens, and exactly one short access log line
naming the code; never a 500, never a traceback. Hypothesis then sends odd JSON and forms.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

import anyio
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message

from jichitai.bootstrap import load
from jichitai.platform.web.middleware import CUSTODY_MAX_BODY, MAX_BODY, MAX_DEPTH
from jichitai.settings import Settings
from tests.conftest import TOWN_A, make_staff
from tests.ui import browser, csrf_of, sign_in

REFUSALS = {400, 401, 403, 404, 405, 413, 415, 422}
BODYLESS = {"GET", "HEAD", "DELETE", "OPTIONS"}
SAMPLE_PARAMETERS = {
    "lg_code": TOWN_A.lg_code,
    "atena_no": "0000000019",
    "household_no": "0000000027",
    "event_type": "death",
    "login_name": "nobody",
    "chunk_id": "j1-2",
    "code": "registry_clerk",
}
"""Values for path parameters (others get ``1``); the refusal comes before any lookup anyway."""


@pytest.fixture
def app_settings(app_settings: Settings) -> Settings:
    """No rate limit in the way: the walk sends thousands of requests from one address."""
    return app_settings.model_copy(
        update={"anonymous_rate_limit": "1000000/minute", "login_rate_limit": "1000000/minute"}
    )


@dataclass(frozen=True)
class Hostile:
    """A body and how the guard answers it on a route taking its kind of body (``json`` or ``form``)."""

    name: str
    kind: str
    body: bytes
    status: int
    code: str
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _json(name: str, body: bytes, status: int, code: str, **headers: str) -> Hostile:
    return Hostile(name, "json", body, status, code, "application/json", headers)


def _form(name: str, body: bytes, status: int, code: str) -> Hostile:
    return Hostile(name, "form", body, status, code, "application/x-www-form-urlencoded")


HOSTILE = [
    _json("deeply nested arrays", b"[" * 50_000 + b"]" * 50_000, 400, "json_too_deep"),
    _json("deeply nested objects", b'{"a":' * 20_000 + b"1" + b"}" * 20_000, 400, "json_too_deep"),
    _json("one level too deep", b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), 400, "json_too_deep"),
    _json("oversized", b'{"note": "' + b"x" * MAX_BODY + b'"}', 413, "payload_too_large"),
    _json("invalid UTF-8", b'{"note": "\xff\xfe"}', 400, "malformed_json"),
    _json("UTF-16", '{"note": "x"}'.encode("utf-16"), 400, "malformed_json"),
    _json("byte order mark", b'\xef\xbb\xbf{"note": "x"}', 400, "malformed_json"),
    _json("encoded surrogate", b'{"note": "\xed\xa0\x80"}', 400, "malformed_json"),
    _json("escaped lone surrogate", b'{"note": "\\ud800"}', 422, "invalid_characters"),
    _json("surrogate in a name", b'{"\\udfff": 1}', 422, "invalid_characters"),
    _json("NUL", b'{"note": "a\\u0000b"}', 422, "invalid_characters"),
    _json("NaN", b'{"copies": NaN}', 400, "malformed_json"),
    _json("Infinity", b'{"copies": -Infinity}', 400, "malformed_json"),
    _json("1e999999", b'{"copies": 1e999999}', 400, "number_too_large"),
    _json("5000 digits", b'{"copies": ' + b"9" * 5000 + b"}", 400, "number_too_large"),
    _json("duplicate names", b'{"type": "death", "type": "birth"}', 400, "duplicate_key"),
    _json("truncated", b'{"type": "death", "atena_no": "00', 400, "malformed_json"),
    _json("not JSON", b"<xml/>", 400, "malformed_json"),
    Hostile(
        "UTF-16 declared", "json", b"{}", 415, "unsupported_media_type", "application/json; charset=utf-16"
    ),
    _json(
        "gzip",
        gzip.compress(b'{"type": "death"}'),
        415,
        "unsupported_encoding",
        **{"content-encoding": "gzip"},
    ),
    Hostile("no content type", "none", b'{"type": "death"}', 415, "unsupported_media_type"),
    Hostile("text/plain", "text", b'{"type": "death"}', 415, "unsupported_media_type", "text/plain"),
    Hostile(
        "multipart",
        "multipart",
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
        415,
        "unsupported_media_type",
        "multipart/form-data; boundary=b",
    ),
    _form("form: invalid UTF-8", b"note=%FF%FE", 400, "malformed_form"),
    _form("form: raw bytes", "note=山田".encode(), 400, "malformed_form"),
    _form("form: encoded surrogate", b"note=%ED%A0%80", 400, "malformed_form"),
    _form("form: NUL", b"note=a%00b", 422, "invalid_characters"),
    _form("form: too many fields", b"a=1&" * 2000, 400, "malformed_form"),
    _form("form: name too long", b"a" * 300 + b"=1", 400, "malformed_form"),
    _form("form: oversized", b"note=" + b"x" * MAX_BODY, 413, "payload_too_large"),
]


def route_kind(method: str, path: str) -> str:
    """The body a route takes: a form on the screens, a chunk's bytes for custody, JSON everywhere else."""
    if path == "/ui" or path.startswith("/ui/"):
        return "form"
    if method == "PUT" and re.fullmatch(r"/api/v1/custody/[^/]+/chunks/[^/]+", path):
        return "octets"
    return "json"


def expected(hostile: Hostile, method: str, path: str) -> tuple[int, str]:
    """The guard's answer, in the order it checks: size, method, encoding, media type, content."""
    if len(hostile.body) > (CUSTODY_MAX_BODY if route_kind(method, path) == "octets" else MAX_BODY):
        return 413, "payload_too_large"
    if method in BODYLESS:
        return 400, "unexpected_body"
    if "content-encoding" in hostile.headers:
        return 415, "unsupported_encoding"
    if hostile.kind != route_kind(method, path):
        return 415, "unsupported_media_type"
    return hostile.status, hostile.code


def every_route(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route: the modules' routers and the app's own (OpenAPI pages, static files)."""
    found: set[tuple[str, str]] = set()
    for declaration in load().modules:
        for router in declaration.routers:
            for route in router.routes:
                assert isinstance(route, APIRoute)
                found |= {(method, route.path) for method in route.methods or ()}
    app = client.app
    assert isinstance(app, FastAPI)
    for route in app.routes:
        if isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or ()}
        elif isinstance(route, Mount):
            found |= {("GET", f"{route.path}/app.css")}
    return sorted(found)


def body_routes() -> list[tuple[str, str, bool]]:
    """(method, path, takes a JSON body) of the modules' routes that take a body (not the old addresses,
    which answer 308 whatever they are sent)."""
    return sorted(
        (method, route.path, route.body_field is not None)
        for declaration in load().modules
        for router in declaration.routers
        for route in router.routes
        if isinstance(route, APIRoute) and not route.endpoint.__name__.startswith("moved")
        for method in (route.methods or set()) & {"POST", "PUT", "PATCH"}
    )


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE_PARAMETERS.get(m[1], "1"), path)


@dataclass(frozen=True)
class Caller:
    """Who sends: the headers that sign them in (and the session's CSRF token, for a browser's forms)."""

    name: str
    headers: dict[str, str]
    csrf: str | None = None


@pytest.fixture
def callers(client: TestClient, engine: Engine) -> list[Caller]:
    """Anonymous, a clerk with an API token, and a clerk's browser session (CSRF token in header and form)."""
    make_staff(engine, TOWN_A, "hostile-clerk", ["registry_clerk"])
    page = browser(client)
    signed_in = sign_in(page, "hostile-clerk")
    assert signed_in.status_code == 200
    csrf = csrf_of(signed_in)
    cookie = "; ".join(f"{name}={value}" for name, value in page.cookies.items())
    return [
        Caller("anonymous", {}),
        Caller("api token", {"authorization": client.headers["authorization"]}),
        Caller("browser", {"cookie": cookie, "x-csrf-token": csrf}, csrf),
    ]


@dataclass(frozen=True)
class Answer:
    """What the app sent back."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


def hostile_request(caller: Caller, method: str, path: str, hostile: Hostile) -> tuple[dict[str, str], bytes]:
    """What ``caller`` sends: a browser's form carries its CSRF token (hostile all the same)."""
    headers = {**caller.headers, **hostile.headers}
    if hostile.content_type is not None:
        headers["content-type"] = hostile.content_type
    body = hostile.body
    if caller.csrf and hostile.kind == "form":
        body = f"csrf_token={caller.csrf}&".encode() + body
    return headers, body


def http_scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The ASGI scope a server would hand over for this request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def call(app: ASGIApp, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    """One request straight into the ASGI app, as a server hands it over (thousands of them stay fast)."""
    scope = http_scope(method, path, {"host": "testserver", "content-length": str(len(body)), **headers})
    incoming: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    start: Message = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    headers_out = {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
    return Answer(start.get("status", 0), headers_out, b"".join(chunks))


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The log, down to the access lines (INFO)."""
    caplog.set_level(logging.INFO)
    return caplog


def app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the server logged (the test client's own request lines left out)."""
    return [r for r in caplog.records if not r.name.startswith("httpx")]


def assert_one_short_line(caplog: pytest.LogCaptureFixture, code: str, context: object) -> None:
    records = app_records(caplog)
    assert [(r.name, r.getMessage(), getattr(r, "error", None)) for r in records] == [
        ("jichitai.access", "request", code)
    ], context
    assert records[0].exc_info is None, context
    assert records[0].levelno < logging.WARNING, context


def assert_refused(answer: Answer, method: str, path: str, status: int, code: str, context: object) -> None:
    assert answer.status == status, (context, answer.body[:300])
    if route_kind(method, path) == "form":
        assert answer.headers["content-type"].startswith("text/html"), context
        assert "<html" in answer.text, context
        assert "エラー番号" in answer.text, context
    else:
        error = answer.json()["error"]
        assert set(error) == {"code", "message", "field"}, context
        assert error["code"] == code, context
        assert error["message"], context
    assert "Traceback" not in answer.text, context


def test_the_walk_covers_the_api_and_the_screens(client: TestClient) -> None:
    routes = every_route(client)
    spec = client.get("/openapi.json").json()
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert documented - set(routes) == set()
    assert {("POST", "/ui/{lg_code}/registry/events/{event_type}"), ("POST", "/ui/login")} <= set(routes)
    assert ("PUT", "/api/v1/custody/{lg_code}/chunks/{chunk_id}") in routes
    assert len(routes) > 80


def test_every_route_refuses_every_hostile_body(
    client: TestClient, callers: list[Caller], access_log: pytest.LogCaptureFixture
) -> None:
    async def walk() -> None:
        for method, path in every_route(client):
            for hostile in HOSTILE:
                status, code = expected(hostile, method, path)
                for caller in callers:
                    context = (caller.name, method, path, hostile.name)
                    headers, body = hostile_request(caller, method, path, hostile)
                    access_log.clear()
                    answer = await call(client.app, method, concrete(path), headers, body)
                    assert_refused(answer, method, path, status, code, context)
                    assert_one_short_line(access_log, code, context)

    anyio.run(walk)


def test_a_body_on_a_bodyless_method_is_refused_even_when_well_formed(
    client: TestClient, callers: list[Caller], access_log: pytest.LogCaptureFixture
) -> None:
    async def walk() -> None:
        for method, path in every_route(client):
            if method not in BODYLESS:
                continue
            for caller in callers:
                context = (caller.name, method, path)
                headers = {**caller.headers, "content-type": "application/json"}
                access_log.clear()
                answer = await call(client.app, method, concrete(path), headers, b"{}")
                assert_refused(answer, method, path, 400, "unexpected_body", context)
                assert_one_short_line(access_log, "unexpected_body", context)

    anyio.run(walk)


@pytest.fixture
def bare(client: TestClient) -> TestClient:
    """A client that sends only what it is told to (no credentials, no cookies, no redirects followed)."""
    return TestClient(client.app, raise_server_exceptions=False, follow_redirects=False)


def test_a_route_still_takes_its_own_kind_of_body(bare: TestClient, callers: list[Caller]) -> None:
    """The guard lets well-formed bodies through: JSON with a charset, a form, a chunk's bytes."""
    _anonymous, token, page = callers
    utf8 = bare.post(
        f"/api/v1/municipalities/{TOWN_A.lg_code}/registry/events",
        content=b'{"type": "death"}',
        headers={**token.headers, "content-type": "application/json; charset=UTF-8"},
    )
    assert (utf8.status_code, utf8.json()["error"]["code"]) == (422, "invalid_missing")
    form = bare.post(
        f"/ui/{TOWN_A.lg_code}/registry/events/death",
        data={"csrf_token": page.csrf or "", "atena_no": "1"},
        headers=page.headers,
    )
    assert form.status_code == 422
    assert "入力内容を確認してください" in form.text
    chunk = bare.put(
        f"/api/v1/custody/{TOWN_A.lg_code}/chunks/j1-2",
        content=b"\x00\xff not json",
        headers={"content-type": "application/octet-stream"},
    )
    assert (chunk.status_code, chunk.json()["error"]["code"]) == (401, "custody_unauthorized")


def test_a_client_that_leaves_mid_body_gets_no_answer_and_no_traceback(
    client: TestClient, access_log: pytest.LogCaptureFixture
) -> None:
    """A truncated upload (the connection drops before the declared length): nothing runs, one log line."""
    path = f"/api/v1/municipalities/{TOWN_A.lg_code}/registry/events"
    scope = http_scope("POST", path, {"content-type": "application/json", "content-length": "1000"})
    incoming: list[Message] = [
        {"type": "http.request", "body": b'{"type": "de', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def answer(message: Message) -> None:
        sent.append(message)

    anyio.run(client.app, scope, receive, answer)
    assert sent == []
    records = app_records(access_log)
    assert [(r.getMessage(), getattr(r, "status", None)) for r in records] == [("request", 499)]
    assert records[0].exc_info is None


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**18, max_value=10**120)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


FIELD_NAMES = st.sampled_from(
    [
        "type",
        "event_date",
        "persons",
        "address",
        "atena_no",
        "household_no",
        "note",
        "reason_detail",
        "previous_address",
        "members",
        "corrections",
        "cancels_event_no",
        "family_kana",
        "birth_date",
        "name",
        "display_name",
        "roles",
        "password",
        "login_name",
        "lg_code",
        "settings",
        "kind",
        "counterparty",
        "reason",
        "requester",
        "copies",
        "journal",
        "seq",
        "hash",
        "purposes",
    ]
)
"""Names the API's bodies use, so odd values reach the validators and not only the unknown-field check."""


def _finish(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes no UTF-8 decoder takes


@st.composite
def odd_json(draw: st.DrawFn) -> bytes:
    """JSON as a careless or hostile client writes it: NaN, huge numbers, surrogates, nesting, cut short."""
    shape = draw(st.sampled_from(["object", "object", "object", "value", "nested", "cut"]))
    value: Any = draw(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6))
    if shape == "object":
        value["type"] = draw(st.sampled_from(["death", "birth", "domestic_move_in", "cancellation", "x"]))
    elif shape == "value":
        value = draw(JSON_VALUES)
    elif shape == "nested":
        for _ in range(draw(st.integers(min_value=MAX_DEPTH - 2, max_value=MAX_DEPTH + 2))):
            value = {draw(FIELD_NAMES): value}
    body = _finish(value, draw(st.booleans()))
    return body[: draw(st.integers(min_value=0, max_value=len(body)))] if shape == "cut" else body


@st.composite
def odd_form(draw: st.DrawFn) -> bytes:
    """A form body of arbitrary names and values, percent-encoded (sometimes not valid UTF-8 underneath)."""
    pairs = draw(st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=24)), max_size=8))
    return "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs).encode()


def test_odd_json_and_forms_never_crash_a_route(
    client: TestClient, bare: TestClient, callers: list[Caller], access_log: pytest.LogCaptureFixture
) -> None:
    json_routes = [(method, path) for method, path, has_body in body_routes() if has_body]
    form_routes = [
        (method, path)
        for method, path, _ in body_routes()
        if route_kind(method, path) == "form" and not path.endswith("/logout")
    ]
    assert len(json_routes) > 10
    assert len(form_routes) > 3

    @given(
        route=st.sampled_from(json_routes + form_routes),
        caller=st.sampled_from(callers),
        json_body=odd_json(),
        form_body=odd_form(),
    )
    @settings(
        max_examples=200,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def send_one(route: tuple[str, str], caller: Caller, json_body: bytes, form_body: bytes) -> None:
        method, path = route
        if route_kind(method, path) == "form":
            csrf = f"csrf_token={caller.csrf}&".encode() if caller.csrf else b""
            body, content_type = csrf + form_body, "application/x-www-form-urlencoded"
        else:
            body, content_type = json_body, "application/json"
        access_log.clear()
        response = bare.request(
            method, concrete(path), content=body, headers={**caller.headers, "content-type": content_type}
        )
        context = (caller.name, method, path, body[:200])
        assert response.status_code < 500, (context, response.text[:300])
        if response.status_code >= 400 and route_kind(method, path) == "json":
            assert set(response.json()["error"]) == {"code", "message", "field"}, context
        records = app_records(access_log)
        assert all(r.exc_info is None and r.levelno < logging.ERROR for r in records), context
        assert all("Traceback" not in r.getMessage() and len(r.getMessage()) < 200 for r in records), context

    send_one()
