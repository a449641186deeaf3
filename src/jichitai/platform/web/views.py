"""The screens' sign-in and sign-out (``/ui/login``, ``/ui/logout``); ``/`` leads to the sign-in page.

Sign-in calls the same service as ``POST /api/v1/auth/session`` (per-address rate limit, lockout, audit) and
sets the same HttpOnly, SameSite=Strict cookie. The purpose (事務) chosen here is bound to the session and
shown on every page; a purpose none of the user's roles allows is refused before any session is opened.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from starlette.datastructures import FormData

from jichitai.platform.audit import Actor
from jichitai.platform.auth import services
from jichitai.platform.auth.models import Credential
from jichitai.platform.auth.permissions import purposes
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import DomainError, Unauthenticated
from jichitai.platform.modules import catalog
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import (
    SESSION_COOKIE,
    AddressLimiter,
    Identity,
    check_csrf,
    identify,
    policy,
    secure_cookies,
)
from jichitai.platform.web.error_pages import PAGE_PREFIX, safe_next
from jichitai.platform.web.pages import CSRF_FIELD, form_data, see_other
from jichitai.platform.web.templating import render

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "jichitai_login_csrf"
"""Double-submit token of the sign-in form, so another site cannot sign a browser in as someone else."""
TOWN_COOKIE = "jichitai_town"
"""The town code last signed in with (not secret), so the counter types it once."""

REASONS = {
    "session_expired": "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。",
    "unauthenticated": "ログインしてください。",
    "logged_out": "ログアウトしました。",
}
LG_CODE = re.compile(r"^[0-9]{6}$")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(request: Request) -> Identity | None:
    try:
        identity, _ = identify(request, None, request.cookies.get(SESSION_COOKIE))
    except Unauthenticated:
        return None
    return identity if identity.kind == "staff" else None


def _login_page(
    request: Request,
    *,
    values: dict[str, str],
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "values": values,
            "error": error,
            "notice": notice,
            "purposes": [(code, p.name) for code, p in purposes().items()],
            "login_csrf": token,
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path=f"{PAGE_PREFIX}/login",
    )
    return response


@router.get("/")
def root() -> RedirectResponse:
    """The product's front door is the counter's sign-in page."""
    return RedirectResponse(f"{PAGE_PREFIX}/login", status_code=303)


@router.get(f"{PAGE_PREFIX}/login")
def login_form(request: Request, reason: str | None = None, next: str | None = None) -> Response:
    """The sign-in page (or, already signed in, the town's home page)."""
    identity = _signed_in(request)
    if identity is not None and identity.credential.lg_code:
        return see_other(safe_next(next) or f"{PAGE_PREFIX}/{identity.credential.lg_code}/")
    values = {
        "lg_code": request.cookies.get(TOWN_COOKIE, "")[:6],
        "purpose": catalog().default_purpose() or "",
        "next": safe_next(next) or "",
    }
    return _login_page(request, values=values, notice=REASONS.get(reason or ""))


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _request_id(request: Request) -> str | None:
    value: str | None = getattr(request.state, "request_id", None)
    return value


@router.post(f"{PAGE_PREFIX}/login")
def login(request: Request, form: Annotated[FormData, Depends(form_data)]) -> Response:
    """Sign in: town code, login name, password and purpose; failures are explained on the page."""
    values = {
        "lg_code": _text(form, "lg_code", 6),
        "login_name": _text(form, "login_name", 40),
        "purpose": _text(form, "purpose", 40),
        "next": safe_next(_text(form, "next", 500)) or "",
    }
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    sent = _text(form, "login_csrf", 100)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        message = "画面の有効期限が切れました。もう一度入力してください。"
        return _login_page(request, values=values, error=message, status=403)
    if not LG_CODE.match(values["lg_code"]) or not values["login_name"] or not password:
        message = "市区町村コード (6桁)、ログイン名、パスワードを入力してください。"
        return _login_page(request, values=values, error=message, status=422)
    purpose = values["purpose"] or None
    try:
        limiter: AddressLimiter = request.app.state.login_limiter
        limiter.hit(_client(request))
        with UnitOfWork(_engine(request)) as uow:
            issued = services.login_staff(
                uow,
                values["lg_code"],
                values["login_name"],
                password[:200],
                kind="session",
                policy=policy(request),
                purpose=purpose,
                request_id=_request_id(request),
                client=_client(request),
                bind=True,
            )
    except DomainError as exc:
        return _login_page(request, values=values, error=exc.message, status=exc.status)
    response = see_other(values["next"] or f"{PAGE_PREFIX}/{values['lg_code']}/")
    secure = secure_cookies(request)
    response.set_cookie(
        SESSION_COOKIE, issued.secret, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.set_cookie(TOWN_COOKIE, values["lg_code"], samesite="strict", secure=secure, path=PAGE_PREFIX)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PAGE_PREFIX}/login")
    return response


@router.post(f"{PAGE_PREFIX}/logout")
def logout(request: Request, form: Annotated[FormData, Depends(form_data)]) -> Response:
    """End the session (the form carries its CSRF token) and return to the sign-in page."""
    identity = _signed_in(request)
    response = see_other(f"{PAGE_PREFIX}/login?reason=logged_out")
    if identity is None:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    token = form.get(CSRF_FIELD)
    check_csrf(request, identity, True, token if isinstance(token, str) else None)
    with UnitOfWork(_engine(request)) as uow:
        row = uow.session.get(Credential, identity.credential.secret_hash)
        if row is not None:
            tenant = get_tenant(uow.session, identity.credential.lg_code or "")
            actor = Actor(
                identity.actor, purpose=identity.credential.purpose, request_id=_request_id(request)
            )
            services.revoke_credential(uow, row, tenant=tenant, actor=actor)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
