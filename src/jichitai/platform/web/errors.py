"""Every refusal becomes ``{"error": {"code", "message", "field"}}`` with a 4xx status; never a bare 500.

FastAPI's own validation errors are translated into the same body with a Japanese message, and a body that
is not JSON at all gets ``malformed_json``. The screens under ``/ui/`` get the same refusals as Japanese pages
(:mod:`jichitai.platform.web.error_pages`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jichitai.platform.errors import DomainError
from jichitai.platform.jp.text import INVALID_CHARACTERS
from jichitai.platform.web.error_pages import error_page, is_page

log = logging.getLogger(__name__)

_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": "必須項目です。",
    "extra_forbidden": "この項目は指定できません。",
    "string_too_short": "入力が短すぎます。",
    "string_too_long": "入力が長すぎます。",
    "string_pattern_mismatch": "形式が正しくありません。",
    "string_type": "文字列で指定してください。",
    "int_parsing": "整数で指定してください。",
    "int_type": "整数で指定してください。",
    "bool_parsing": "真偽値 (true/false) で指定してください。",
    "bool_type": "真偽値 (true/false) で指定してください。",
    "enum": "指定できる値ではありません。",
    "literal_error": "指定できる値ではありません。",
    "union_tag_invalid": "異動の種類 (type) が正しくありません。",
    "union_tag_not_found": "異動の種類 (type) を指定してください。",
    "too_short": "件数が足りません。",
    "too_long": "件数が多すぎます。",
    "greater_than_equal": "値が小さすぎます。",
    "less_than_equal": "値が大きすぎます。",
    "model_type": "オブジェクトで指定してください。",
    "list_type": "配列で指定してください。",
    "date_from_datetime_parsing": "日付の形式が正しくありません。",
    "date_parsing": "日付の形式が正しくありません。",
}


_OWN_KINDS = frozenset({INVALID_CHARACTERS})
"""Error types our own validators raise: the type is the code, and their message (naming the refused
character) is already the Japanese text to show."""


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape of the API."""
    return {"error": {"code": code, "message": message, "field": field}}


def validation_message(kind: str) -> str:
    """The Japanese message for a pydantic error type (shared by the API and the screens' forms)."""
    return _VALIDATION_MESSAGES.get(kind, "入力内容が正しくありません。")


def error_message(error: Mapping[str, Any]) -> str:
    """The Japanese message for one pydantic error: our own validators' text, else by its type."""
    kind = str(error.get("type", ""))
    return str(error.get("msg", "")) if kind in _OWN_KINDS else validation_message(kind)


def error_code(kind: str) -> str:
    """The API's code for a pydantic error type (``invalid_<type>``; our own types are codes already)."""
    return kind if kind in _OWN_KINDS else f"invalid_{kind}"


def note_refusal(state: dict[str, Any], code: str) -> None:
    """Remember the refusal's code in the request's state: the access log line names it."""
    state["error_code"] = code


def _answer(
    request: Request, status: int, code: str, message: str, field: str | None = None, headers: Any = None
) -> Response:
    """JSON for the API; for the screens (``/ui/…``) a Japanese page, or the sign-in page after a 401."""
    note_refusal(request.scope.setdefault("state", {}), code)
    if is_page(request):
        return error_page(request, status, code, message)
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


_UNION_MEMBER = re.compile(r"^(?:[A-Z]\w*|str|int|bool|float|.*[-\[].*)$")
"""How pydantic names the member of a plain union it tried (``IrregularDate``, ``constrained-str``)."""


def _field_path(loc: tuple[int | str, ...], body: Any) -> str | None:
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header"} else list(loc)
    # A discriminated union puts the tag (the body's "type") first in the location; it is not a field.
    if parts and isinstance(body, dict) and parts[0] == body.get("type"):
        parts = parts[1:]
    # Nor is the member of a plain union (``birth_date`` is a string or an irregular date).
    parts = [part for part in parts if isinstance(part, int) or not _UNION_MEMBER.match(part)]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


async def _validation(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    # A refused character is the precise reason wherever it is found (a union's other member only adds
    # "not a string"), so it is reported first.
    first = next((error for error in errors if error.get("type") in _OWN_KINDS), errors[0])
    kind = str(first.get("type", "value_error"))
    if kind == "json_invalid":
        return _answer(request, 400, "malformed_json", "JSON の形式が正しくありません。")
    loc = tuple(first.get("loc", ()))
    if loc == ("body",) and kind in {"missing", "model_attributes_type", "dict_type"}:
        return _answer(request, 400, "malformed_json", "JSON オブジェクトを送信してください。")
    return _answer(request, 422, error_code(kind), error_message(first), _field_path(loc, exc.body))


async def _domain(request: Request, exc: DomainError) -> Response:
    # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    headers = {"WWW-Authenticate": 'Bearer realm="jichitai"'} if exc.status == 401 else None
    return _answer(request, exc.status, exc.code, exc.message, exc.field, headers)


async def _http(request: Request, exc: StarletteHTTPException) -> Response:
    codes = {
        400: ("malformed_json", "送信データを読み取れません (JSON/UTF-8 の形式を確認してください)。"),
        404: ("not_found", "対象が見つかりません。"),
        405: ("method_not_allowed", "この操作はできません。"),
        413: ("payload_too_large", "送信データが大きすぎます。"),
        415: ("unsupported_media_type", "この形式の送信データは受け付けられません。"),
    }
    code, message = codes.get(exc.status_code, ("http_error", "要求を処理できません。"))
    return _answer(request, exc.status_code, code, message, headers=exc.headers)


async def _integrity(request: Request, exc: IntegrityError) -> Response:
    log.warning("integrity error: %s", exc.orig)
    return _answer(request, 409, "conflict", "同時に行われた別の処理と競合しました。もう一度お試しください。")


async def _data(request: Request, exc: DataError) -> Response:
    # A value the database cannot hold that slipped past validation; the transaction was rolled back.
    log.warning("data error: %s", exc.orig)
    return _answer(request, 422, "invalid_value", "保存できない値が含まれています。")


async def _overflow(request: Request, exc: OverflowError) -> Response:
    # A number too large for the database driver (SQLite refuses ints over 64 bits) that slipped past limits.
    log.warning("overflow: %s", exc)
    return _answer(request, 422, "invalid_value", "数値が大きすぎます。")


async def _operational(request: Request, exc: OperationalError) -> Response:
    log.error("database unavailable: %s", exc.orig)
    return _answer(
        request, 503, "database_unavailable", "データベースに接続できません。しばらくしてからお試しください。"
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return _answer(request, 500, "internal_error", "システムエラーが発生しました。")


def install_error_handlers(app: FastAPI) -> None:
    """Register the translators on the app."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data)  # type: ignore[arg-type]
    app.add_exception_handler(OverflowError, _overflow)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _operational)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
