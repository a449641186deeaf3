"""Every refusal becomes ``{"error": {"code", "message", "field"}}`` with a 4xx status; never a bare 500.

FastAPI's own validation errors are translated into the same body with a Japanese message, and a body that
is not JSON at all gets ``malformed_json``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jichitai.platform.errors import DomainError

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


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape of the API."""
    return {"error": {"code": code, "message": message, "field": field}}


def _field_path(loc: tuple[int | str, ...], body: Any) -> str | None:
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header"} else list(loc)
    # A discriminated union puts the tag (the body's "type") first in the location; it is not a field.
    if parts and isinstance(body, dict) and parts[0] == body.get("type"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    kind = str(first.get("type", "value_error"))
    if kind == "json_invalid":
        return JSONResponse(error_body("malformed_json", "JSON の形式が正しくありません。"), status_code=400)
    loc = tuple(first.get("loc", ()))
    if loc == ("body",) and kind in {"missing", "model_attributes_type", "dict_type"}:
        return JSONResponse(
            error_body("malformed_json", "JSON オブジェクトを送信してください。"), status_code=400
        )
    message = _VALIDATION_MESSAGES.get(kind, "入力内容が正しくありません。")
    return JSONResponse(error_body(f"invalid_{kind}", message, _field_path(loc, exc.body)), status_code=422)


async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
    # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    headers = {"WWW-Authenticate": 'Bearer realm="jichitai"'} if exc.status == 401 else None
    return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=headers)


async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {
        400: ("malformed_json", "送信データを読み取れません (JSON/UTF-8 の形式を確認してください)。"),
        404: ("not_found", "対象が見つかりません。"),
        405: ("method_not_allowed", "この操作はできません。"),
    }
    code, message = codes.get(exc.status_code, ("http_error", "要求を処理できません。"))
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
    log.warning("integrity error: %s", exc.orig)
    return JSONResponse(
        error_body("conflict", "同時に行われた別の処理と競合しました。もう一度お試しください。"),
        status_code=409,
    )


async def _data(_request: Request, exc: DataError) -> JSONResponse:
    # A value the database cannot hold that slipped past validation; the transaction was rolled back.
    log.warning("data error: %s", exc.orig)
    return JSONResponse(error_body("invalid_value", "保存できない値が含まれています。"), status_code=422)


async def _overflow(_request: Request, exc: OverflowError) -> JSONResponse:
    # A number too large for the database driver (SQLite refuses ints over 64 bits) that slipped past limits.
    log.warning("overflow: %s", exc)
    return JSONResponse(error_body("invalid_value", "数値が大きすぎます。"), status_code=422)


async def _operational(_request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database unavailable: %s", exc.orig)
    return JSONResponse(
        error_body("database_unavailable", "データベースに接続できません。しばらくしてからお試しください。"),
        status_code=503,
    )


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse(error_body("internal_error", "システムエラーが発生しました。"), status_code=500)


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
