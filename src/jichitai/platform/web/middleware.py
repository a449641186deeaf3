"""Pure ASGI middleware: request ids and access logs, and the input guard in front of every handler."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jichitai.platform.logging import request_id_var
from jichitai.platform.web.errors import error_body

log = logging.getLogger("jichitai.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take a well-formed ``X-Request-ID`` or make one; echo it back and log one access line per request."""

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
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


MAX_BODY = 1024 * 1024
CUSTODY_PATH = "/api/v1/custody/"
CUSTODY_MAX_BODY = 64 * 1024 * 1024
"""Chunks deposited by another town (a snapshot part is a few MB; this leaves room for large rows)."""
"""Largest request body accepted; business requests are a few kilobytes."""


def _bad_text(value: Any) -> bool:
    """NUL and lone surrogates cannot be stored (PostgreSQL refuses NUL, UTF-8 has no surrogates)."""
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_bad_text(k) or _bad_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_bad_text(v) for v in value)
    return False


class InputGuardMiddleware:
    """Refuse, before any handler runs, input that no database could store: oversized bodies and characters
    that are not text (NUL, lone surrogates) anywhere in the path, query or JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if _bad_text(scope["path"]) or any(_bad_text(k) or _bad_text(v) for k, v in query):
            await _refuse(
                send, 422, "invalid_characters", "使用できない文字 (制御文字など) が含まれています。"
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # disconnect: let the app see it as usual
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > (CUSTODY_MAX_BODY if scope["path"].startswith(CUSTODY_PATH) else MAX_BODY):
                await _refuse(send, 413, "payload_too_large", "送信データが大きすぎます。")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if body and not content_type.startswith(b"application/octet-stream"):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None  # the app answers malformed_json itself
            if content_type.startswith(b"application/x-www-form-urlencoded"):  # the screens' forms
                parsed = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            if _bad_text(parsed):
                await _refuse(
                    send, 422, "invalid_characters", "使用できない文字 (制御文字など) が含まれています。"
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    payload = json.dumps(error_body(code, message), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


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
