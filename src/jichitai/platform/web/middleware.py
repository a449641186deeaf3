"""Pure ASGI middleware: request ids and access logs, and the input guard in front of every handler."""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jichitai.platform.jp.text import INVALID_CHARACTERS
from jichitai.platform.logging import request_id_var
from jichitai.platform.web import request_stats
from jichitai.platform.web.error_pages import error_page, is_page_path
from jichitai.platform.web.errors import error_body, note_refusal

log = logging.getLogger("jichitai.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take a well-formed ``X-Request-ID`` or make one; echo it back and log one access line per request,
    naming the error code of a refusal (``error``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        statements, statements_token = request_stats.start()
        started = time.perf_counter()
        status: int | None = None
        failed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            failed = True
            raise
        finally:
            extra: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                # No answer at all: 500 after a crash, 499 (client closed request) when the client left first.
                "status": status if status is not None else (500 if failed else 499),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "statements": statements.count,  # SQL statements the request ran (request_stats)
            }
            error_code = scope["state"].get("error_code")
            if error_code:  # the one line a refusal leaves in the log names its code
                extra["error"] = error_code
            log.info("request", extra=extra)
            request_stats.finish(statements_token)
            request_id_var.reset(token)


MAX_BODY = 1024 * 1024
"""Largest request body accepted; business requests are a few kilobytes."""
CUSTODY_MAX_BODY = 64 * 1024 * 1024
"""A chunk deposited by another town (``PUT /api/v1/custody/…/chunks/…``; a snapshot part is a few MB, this
leaves room for large rows). Its keys and chain heads are small JSON like any other body."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects in a JSON body; the deepest real body has five levels."""
MAX_INTEGER_DIGITS = 100
"""Longest integer a JSON body may hold. Every integer the API takes fits in 64 bits, and a longer one within
this is refused by the field's own limit (naming the field); past it, converting the digits is the cost."""
MAX_FORM_FIELDS = 1000
MAX_FORM_NAME = 200
"""A screen's form has a few hundred inputs at most, named by short field paths (``persons[0].honseki``)."""
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
"""Methods whose requests carry no body here: content on them has no meaning, so it is refused."""
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
OCTETS = "application/octet-stream"
_CHUNK = re.compile(r"^/api/v1/custody/[^/]+/chunks/[^/]+$")


class Refusal(Exception):
    """Input refused before any handler runs: answered with the API's error body (a page under /ui/)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _unstorable(field: str | None = None) -> Refusal:
    """NUL or a lone surrogate: named by the field's path where it is known and itself printable."""
    if field is not None and (len(field) > 200 or _bad_text(field)):
        field = None
    message = "使用できない文字 (制御文字など) が含まれています。"
    return Refusal(422, INVALID_CHARACTERS, f"{field}: {message}" if field else message, field)


def _child(path: str, key: str | int) -> str:
    """The path of a JSON member in the form the API's field errors use (``persons[0].name``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _malformed_json(message: str = "JSON の形式が正しくありません。") -> Refusal:
    return Refusal(400, "malformed_json", message)


def _malformed_form() -> Refusal:
    return Refusal(
        400, "malformed_form", "フォームの送信データを読み取れません。画面を再読み込みしてください。"
    )


def _too_large() -> Refusal:
    return Refusal(413, "payload_too_large", "送信データが大きすぎます。")


def _number_too_large() -> Refusal:
    return Refusal(400, "number_too_large", "送信データの数値が大きすぎます。")


def _too_deep() -> Refusal:
    return Refusal(400, "json_too_deep", f"JSON の入れ子が深すぎます ({MAX_DEPTH} 階層まで)。")


def _bad_text(value: str) -> bool:
    """NUL and lone surrogates cannot be stored (PostgreSQL refuses NUL, UTF-8 has no surrogates)."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def expected_media_type(method: str, path: str) -> str:
    """What a body sent to ``path`` must be: a form on the screens, the bytes of a chunk deposited for
    custody, JSON everywhere else."""
    if is_page_path(path):
        return FORM
    if method == "PUT" and _CHUNK.match(path):
        return OCTETS
    return JSON


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            # Parsers disagree on which of two equal names wins; refusing leaves no room for a mismatch.
            field = key if len(key) <= 64 and not _bad_text(key) else None
            raise Refusal(400, "duplicate_key", "同じ項目名が JSON のオブジェクトに2回以上あります。", field)
        found[key] = value
    return found


def _constant(name: str) -> Any:
    raise _malformed_json(f"{name} は JSON の値ではありません。")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999999
        raise _number_too_large()
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:  # before int(): 5000 digits exceed Python's own limit
        raise _number_too_large()
    return int(text)


def check_json(body: bytes) -> None:
    """Refuse a body that is not strict UTF-8 JSON (RFC 8259): no NaN or Infinity, no duplicate names,
    numbers within range, nesting within :data:`MAX_DEPTH`, and no text that cannot be stored."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed_json("送信データを読み取れません (UTF-8 ではありません)。") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, parse_int=_int
        )
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise _malformed_json() from None
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:  # iterative: the walk itself must not recurse
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if _bad_text(node):
                raise _unstorable(path or None)
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            if isinstance(node, dict):
                if any(_bad_text(key) for key in node):
                    raise _unstorable(path or None)
                stack.extend((child, depth + 1, _child(path, key)) for key, child in node.items())
            else:
                stack.extend((child, depth + 1, _child(path, i)) for i, child in enumerate(node))


def check_form(body: bytes) -> None:
    """Refuse a form body a browser would not send: raw bytes outside ASCII (a browser percent-encodes
    them), invalid UTF-8 once decoded, too many or too long names, or text that cannot be stored."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise _malformed_form() from None
    fields = [part for part in text.split("&") if part]
    if len(fields) > MAX_FORM_FIELDS:
        raise _malformed_form()
    for part in fields:
        name, _, value = part.partition("=")
        if len(name) > MAX_FORM_NAME:
            raise _malformed_form()
        decoded = []
        for raw in (name, value):
            try:
                decoded.append(unquote_to_bytes(raw.replace("+", " ")).decode("utf-8"))
            except UnicodeDecodeError:
                raise _malformed_form() from None
        if _bad_text(decoded[0]):
            raise _unstorable()
        if _bad_text(decoded[1]):
            raise _unstorable(decoded[0])


def check_body(method: str, path: str, headers: dict[bytes, bytes], body: bytes) -> None:
    """Refuse a non-empty body the route cannot take (see :class:`InputGuardMiddleware`)."""
    if method in BODYLESS_METHODS:
        raise Refusal(400, "unexpected_body", "この操作には送信データを付けられません。")
    encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
    if encoding not in {"", "identity"}:
        raise Refusal(
            415, "unsupported_encoding", "圧縮された送信データ (Content-Encoding) は受け付けられません。"
        )
    media_type, _, parameters = headers.get(b"content-type", b"").decode("latin-1").partition(";")
    expected = expected_media_type(method, path)
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]*)", parameters, re.IGNORECASE)
    if media_type.strip().lower() != expected or (charset and charset[1].lower() not in {"utf-8", "utf8"}):
        raise Refusal(
            415, "unsupported_media_type", f"送信データの形式 (Content-Type) は {expected} にしてください。"
        )
    if expected == JSON:
        check_json(body)
    elif expected == FORM:
        check_form(body)


class InputGuardMiddleware:
    """Refuse, before any handler runs, input no handler should have to parse.

    - the path or query holding NUL or a lone surrogate (422 ``invalid_characters``);
    - a body over the limit, by its declared length or as read (413 ``payload_too_large``);
    - a body on GET, HEAD, DELETE or OPTIONS (400 ``unexpected_body``);
    - a compressed body (415 ``unsupported_encoding``) or one of another type than the route takes: a form on
      the screens, JSON on the API, bytes for a custody chunk (415 ``unsupported_media_type``);
    - JSON that is not strict UTF-8 JSON (400 ``malformed_json``, ``duplicate_key``, ``number_too_large``,
      ``json_too_deep``), and a form a browser would not send (400 ``malformed_form``);
    - text no database can store anywhere in the body (422 ``invalid_characters``).

    The refusal is the API's error body, or the error page on a screen, and is named on the request's one
    access log line; the handlers behind then only meet bodies their parsers take without surprises.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        chunk = expected_media_type(scope["method"], scope["path"]) == OCTETS
        limit = CUSTODY_MAX_BODY if chunk else MAX_BODY
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            if _bad_text(scope["path"]) or any(_bad_text(k) or _bad_text(v) for k, v in query):
                raise _unstorable()
            declared = headers.get(b"content-length", b"0")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large()
            body = await _read_body(receive, limit)
            if body is None:  # the client went away: nobody to answer
                return
            if body:
                check_body(scope["method"], scope["path"], headers, body)
        except Refusal as refusal:
            await _refuse(scope, receive, send, refusal)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body (413 past ``limit``), or None if the client disconnected before sending it all."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large()
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    note_refusal(scope.setdefault("state", {}), refusal.code)
    response: Response
    if is_page_path(scope["path"]):
        response = error_page(Request(scope), refusal.status, refusal.code, refusal.message)
    else:
        body = error_body(refusal.code, refusal.message, refusal.field)
        response = JSONResponse(body, status_code=refusal.status)
    await response(scope, receive, send)


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
"""Sent on every answer: residents' data must never be sniffed, framed, leaked in referrers or cached."""
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
PAGE_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'",
)
"""The screens load only their own style sheet and script (no inline code, nothing from elsewhere)."""
PAGE_PATHS = ("/ui/", "/static/")


class SecurityHeadersMiddleware:
    """Add the hardening headers; JSON answers also get a CSP that forbids loading anything at all.

    The screens (/ui/…) may load the server's own style sheet and script; the interactive OpenAPI pages
    (/docs, /redoc) load their own scripts and keep the browser defaults.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        strict = not path.startswith(("/docs", "/redoc"))
        csp = PAGE_CSP if path.startswith(PAGE_PATHS) else API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.extend(SECURITY_HEADERS)
                if strict:
                    headers.append(csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)
