"""Refusals on the screens: a Japanese page with what happened and where to go next.

A missing or expired sign-in sends the browser to the sign-in page (coming back afterwards); every other
refusal renders ``error.html`` with the same status the API would answer. The page never shows the request
id or any detail beyond the message, so a town that does not exist and another town's page look the same.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jichitai.platform.web.templating import render

log = logging.getLogger(__name__)

PAGE_PREFIX = "/ui"

TITLES = {
    400: "要求を処理できません",
    403: "この操作は許可されていません",
    404: "見つかりません",
    405: "この操作はできません",
    409: "現在の状態では処理できません",
    413: "送信データが大きすぎます",
    422: "入力内容を確認してください",
    429: "しばらく待ってから操作してください",
    500: "システムエラーが発生しました",
    503: "ただいま利用できません",
}

_FALLBACK = (
    '<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>システムエラー</title>'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main id="main">'
    "<h1>システムエラーが発生しました</h1><p>お手数ですが、もう一度操作してください。"
    '続く場合はシステム管理者に連絡してください。</p><p><a href="/ui/login">ログイン画面へ</a></p>'
    "</main></body></html>"
)


def is_page_path(path: str) -> bool:
    """Whether ``path`` is a screen (answered in HTML) rather than the API."""
    return path == PAGE_PREFIX or path.startswith(PAGE_PREFIX + "/")


def is_page(request: Request) -> bool:
    """Whether the request is for a screen (answered in HTML) rather than the API."""
    return is_page_path(request.url.path)


def safe_next(target: str | None) -> str | None:
    """A local screen path to return to after signing in, or None (never another site)."""
    if not target or not target.startswith(PAGE_PREFIX + "/") or "//" in target or "\\" in target:
        return None
    if target.startswith(f"{PAGE_PREFIX}/login") or target.startswith(f"{PAGE_PREFIX}/logout"):
        return None
    return target


def login_redirect(request: Request, reason: str) -> RedirectResponse:
    """To the sign-in page, remembering the screen asked for (GET only: a form post cannot be replayed)."""
    url = f"{PAGE_PREFIX}/login?reason={quote(reason)}"
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method == "GET" and safe_next(wanted):
        url += f"&next={quote(wanted, safe='')}"
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    """The page answering a refusal on a screen."""
    if status == 401:
        return login_redirect(request, code)
    try:
        return render(
            request,
            "error.html",
            {"status": status, "title": TITLES.get(status, "要求を処理できません"), "message": message},
            status=status,
        )
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return HTMLResponse(_FALLBACK, status_code=status)
