"""Sign-in API: bearer tokens for API clients, sessions for the browser, sign-out, "who am I", own tokens.

Sign-in attempts are limited per client address (``login_rate_limit``) before any password is checked, on
top of the per-account lockout, so guessing across many accounts from one place is slowed as well. A token
or session asked for a purpose (事務) the user's roles do not allow is refused (403) and never issued.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from jichitai.platform.audit import Actor
from jichitai.platform.auth import services
from jichitai.platform.auth.permissions import purposes
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import NotFound
from jichitai.platform.tenancy import Tenant, get_tenant
from jichitai.platform.web.auth import (
    SESSION_COOKIE,
    AddressLimiter,
    Identity,
    policy,
    secure_cookies,
    signed_in,
)

router = APIRouter(prefix="/api/v1/auth", tags=["認証"])


class LoginIn(BaseModel):
    """Credentials; ``lg_code`` names the staff member's town (omitted for an installation operator)."""

    model_config = ConfigDict(extra="forbid")

    lg_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="全国地方公共団体コード")
    login_name: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)
    purpose: str | None = Field(default=None, max_length=40, description="既定の利用目的 (事務)")


class TokenIn(LoginIn):
    """Credentials and what the token is for."""

    label: str | None = Field(default=None, max_length=100, description="用途のメモ (例: 税務システム連携)")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    """A new bearer token: shown once, store it safely."""

    token: str
    token_id: str
    expires_at: dt.datetime


class SessionOut(BaseModel):
    """A browser session: the cookie is set; send ``csrf_token`` as X-CSRF-Token on every change."""

    token_id: str
    csrf_token: str
    expires_at: dt.datetime


class RoleOut(BaseModel):
    """A role the caller holds."""

    code: str
    name: str
    purposes: list[str]
    permissions: list[str]


class MeOut(BaseModel):
    """The signed-in account."""

    kind: str
    lg_code: str | None
    login_name: str
    display_name: str
    token_id: str
    roles: list[RoleOut]
    purposes: dict[str, str]


class CredentialOut(BaseModel):
    """A session or token of the account (never its secret)."""

    token_id: str
    kind: str
    label: str | None
    purpose: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login(
    request: Request, body: LoginIn, kind: str, label: str | None, days: int | None
) -> services.Issued:
    limiter: AddressLimiter = request.app.state.login_limiter
    limiter.hit(_client(request))
    with UnitOfWork(_engine(request)) as uow:
        if body.lg_code is None:
            return services.login_operator(
                uow, body.login_name, body.password, kind=kind, policy=policy(request), days=days
            )
        return services.login_staff(
            uow,
            body.lg_code,
            body.login_name,
            body.password,
            kind=kind,
            policy=policy(request),
            purpose=body.purpose,
            label=label,
            days=days,
            request_id=getattr(request.state, "request_id", None),
            client=_client(request),
        )


@router.post("/token", response_model=TokenOut, status_code=201, summary="APIトークンの発行")
def issue_token(request: Request, body: Annotated[TokenIn, Body()]) -> TokenOut:
    """Sign in and receive a bearer token for API clients (``Authorization: Bearer …``)."""
    issued = _login(request, body, "token", body.label, body.expires_in_days)
    return TokenOut(
        token=issued.secret, token_id=issued.credential.token_id, expires_at=issued.credential.expires_at
    )


@router.post("/session", response_model=SessionOut, status_code=201, summary="ログイン (画面)")
def open_session(request: Request, response: Response, body: Annotated[LoginIn, Body()]) -> SessionOut:
    """Sign in for the browser: sets an HttpOnly, SameSite=Strict session cookie."""
    issued = _login(request, body, "session", None, None)
    response.set_cookie(
        SESSION_COOKIE,
        issued.secret,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )
    csrf = issued.credential.csrf_token or ""
    return SessionOut(
        token_id=issued.credential.token_id, csrf_token=csrf, expires_at=issued.credential.expires_at
    )


@router.post("/logout", status_code=204, summary="ログアウト")
def logout(request: Request, response: Response, identity: Annotated[Identity, Depends(signed_in)]) -> None:
    """End the session or token used for this request."""
    _revoke(request, identity, identity.credential.token_id)
    response.delete_cookie(SESSION_COOKIE, path="/")


def _revoke(request: Request, identity: Identity, token_id: str) -> None:
    with UnitOfWork(_engine(request)) as uow:
        credential = services.credential_by_id(uow.session, token_id)
        own = (
            credential is not None
            and credential.lg_code == identity.credential.lg_code
            and credential.login_name == identity.credential.login_name
        )
        if credential is None or not own:
            raise NotFound("トークン", "token_id")
        tenant = get_tenant(uow.session, credential.lg_code) if credential.lg_code else None
        actor = Actor(identity.actor, request_id=getattr(request.state, "request_id", None))
        services.revoke_credential(uow, credential, tenant=tenant, actor=actor)


@router.get("/me", response_model=MeOut, summary="ログイン中のアカウント")
def me(request: Request, identity: Annotated[Identity, Depends(signed_in)]) -> MeOut:
    """The account, its roles and the purposes (事務) it may declare."""
    credential = identity.credential
    roles: list[RoleOut] = []
    if credential.lg_code is not None:
        with read_session(_engine(request), tenant=credential.lg_code) as session:
            roles = [
                RoleOut(
                    code=r.code, name=r.name, purposes=sorted(r.purposes), permissions=sorted(r.permissions)
                )
                for r in services.roles_of(session, Tenant(credential.lg_code), credential.login_name)
            ]
    known = purposes()
    named = {code: known[code].name for role in roles for code in role.purposes if code in known}
    return MeOut(
        kind=identity.kind,
        lg_code=credential.lg_code,
        login_name=credential.login_name,
        display_name=identity.display_name,
        token_id=credential.token_id,
        roles=roles,
        purposes=named,
    )


@router.get("/tokens", response_model=list[CredentialOut], summary="自分のセッション・トークンの一覧")
def my_tokens(request: Request, identity: Annotated[Identity, Depends(signed_in)]) -> list[CredentialOut]:
    """The caller's sessions and tokens, newest first (secrets are never shown again)."""
    with read_session(_engine(request)) as session:
        rows = services.credentials_of(session, identity.credential.lg_code, identity.credential.login_name)
        return [CredentialOut.model_validate(r, from_attributes=True) for r in rows]


@router.delete("/tokens/{token_id}", status_code=204, summary="自分のトークンの失効")
def revoke_token(
    request: Request,
    token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    identity: Annotated[Identity, Depends(signed_in)],
) -> None:
    """Revoke one of the caller's own sessions or tokens at once."""
    _revoke(request, identity, token_id)
