"""Who is calling, and may they: credentials → :class:`Principal`, with every refusal audited.

A request proves who it is with a bearer token (API clients) or the session cookie (the browser; then every
state-changing request must also echo the session's CSRF token in ``X-CSRF-Token``). It declares its purpose
(事務) in ``X-Jichitai-Purpose`` unless the user has only one, or the credential was issued for one; a
credential issued for a purpose acts for that purpose only, and a header naming another is refused
(``purpose_bound``), never obeyed.

Refusals are answered 401 (no valid sign-in), 403 (signed in, but not allowed) or 404 (a staff member of one
town asking for another town: answered exactly like a town that does not exist, DESIGN §3.1). Each refusal
appends one ``auth:denied`` entry to the chain of the town concerned and writes nothing else.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine

from jichitai.platform.audit import Actor
from jichitai.platform.auth import services
from jichitai.platform.auth.models import Credential, OperatorAccount, StaffUser
from jichitai.platform.auth.permissions import Access, AccessRefused, RoleDefinition, purposes, resolve_access
from jichitai.platform.db import UnitOfWork, read_session, utcnow
from jichitai.platform.errors import DomainError, Forbidden, NotFound, TooManyRequests, Unauthenticated
from jichitai.platform.tenancy import town

PURPOSE_HEADER = "X-Jichitai-Purpose"
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE = "jichitai_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = dt.timedelta(seconds=60)
"""How stale ``last_used_at`` may get before a request refreshes it (one write a minute, not per request)."""


class AddressLimiter:
    """Requests per client address in a moving window (in memory: per worker process)."""

    def __init__(self, rule: str, code: str, message: str) -> None:
        self.rule = parse(rule)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.code = code
        self.message = message

    def hit(self, client: str) -> None:
        """Count a request; refuse with 429 once the window is full."""
        if not self.limiter.hit(self.rule, self.code, client):
            raise TooManyRequests(self.code, self.message)


bearer_scheme = HTTPBearer(auto_error=False, description="APIトークン (/api/v1/auth/token で発行)")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="画面のセッション")


@dataclass(frozen=True)
class Identity:
    """A live credential and whose it is, before any purpose or permission is considered."""

    credential: Credential
    display_name: str
    roles: tuple[RoleDefinition, ...] = ()
    """The staff member's roles in their town (none for an operator), read with the credential."""

    @property
    def kind(self) -> Literal["staff", "operator"]:
        """Staff of a town, or an operator of the installation."""
        return "operator" if self.credential.lg_code is None else "staff"

    @property
    def actor(self) -> str:
        """The name the audit trail records."""
        name = self.credential.login_name
        return f"operator:{name}" if self.kind == "operator" else name


@dataclass(frozen=True)
class Principal:
    """A signed-in staff member acting in one town for one purpose, with the permissions that gives."""

    identity: Identity
    access: Access
    request_id: str | None

    @property
    def lg_code(self) -> str:
        """The town the principal belongs to."""
        code = self.identity.credential.lg_code
        assert code is not None  # a Principal is always staff
        return code

    @property
    def login_name(self) -> str:
        """The staff member's login name."""
        return self.identity.credential.login_name

    @property
    def actor(self) -> str:
        """The name the audit trail records."""
        return self.identity.actor

    @property
    def role(self) -> str:
        """The roles used for this request, comma-separated, as the audit trail records them."""
        return ",".join(self.access.roles)

    @property
    def purpose(self) -> str:
        """The declared purpose (事務)."""
        return self.access.purpose

    @property
    def may_see_my_number(self) -> bool:
        """Whether 個人番号 may be shown in this request's answers."""
        return self.access.my_number

    def has(self, permission: str) -> bool:
        """Whether this request holds ``permission``."""
        return self.access.allows(permission)

    def as_actor(self) -> Actor:
        """The audit "who" of this request."""
        return Actor(self.actor, role=self.role, purpose=self.purpose, request_id=self.request_id)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(text: str) -> tuple[Network, ...]:
    """The proxies listed in ``trusted_proxies`` (addresses or networks, comma-separated; ``*`` for any).

    A malformed entry is a ValueError at start-up, not a proxy silently distrusted.
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    if "*" in items:
        return (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)
    except ValueError as exc:
        raise ValueError(f"JICHITAI_TRUSTED_PROXIES: {exc}") from None


def _from_trusted_proxy(request: Request) -> bool:
    networks: tuple[Network, ...] = getattr(request.app.state, "trusted_proxies", ())
    try:
        peer = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(peer in network for network in networks)


def secure_cookies(request: Request) -> bool:
    """Whether the cookies of this answer are marked ``Secure``: the one decision, for every cookie we set.

    On when the setting forces it (``secure_cookies``), when the request came over HTTPS, or when a proxy
    listed in ``trusted_proxies`` says so with ``X-Forwarded-Proto: https``. The header of any other client
    is ignored, whatever it says. (``jichitai serve`` lets uvicorn apply the same list, which then shows as
    the request's own scheme.)
    """
    if request.app.state.secure_cookies or request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").strip().lower()
    return forwarded == "https" and _from_trusted_proxy(request)


def policy(request: Request) -> services.Policy:
    """The installation's sign-in policy (built from settings by the app factory)."""
    value: services.Policy = request.app.state.auth_policy
    return value


def _request_id(request: Request) -> str | None:
    value: str | None = getattr(request.state, "request_id", None)
    return value


def identify(
    request: Request, token: HTTPAuthorizationCredentials | None, cookie: str | None
) -> tuple[Identity, bool]:
    """The live credential presented (bearer first), and whether it came by cookie; 401 when none is."""
    secret = token.credentials if token is not None and token.scheme.lower() == "bearer" else None
    by_cookie = secret is None and bool(cookie)
    secret = secret or cookie
    if not secret or len(secret) > 200:
        raise Unauthenticated("unauthenticated", "ログインが必要です。")
    engine = _engine(request)
    now = utcnow()
    with read_session(engine) as session:
        credential = services.find_credential(session, secret)
        if credential is None:
            raise Unauthenticated("unauthenticated", "ログインの有効期限が切れたか、無効な認証情報です。")
        last_used = credential.last_used_at
        if last_used.tzinfo is None:
            last_used = last_used.replace(tzinfo=dt.UTC)
        if credential.kind == "session" and now - last_used > policy(request).session_idle:
            raise Unauthenticated("session_expired", "一定時間操作がなかったため、ログアウトしました。")
        account: StaffUser | OperatorAccount | None
        if credential.lg_code is None:
            account = session.get(OperatorAccount, credential.login_name)
        else:
            tenant = town(session, credential.lg_code)  # the staff member's town, declared for what follows
            account = session.get(StaffUser, (tenant.lg_code, credential.login_name))
        if account is None or account.disabled_at is not None:
            raise Unauthenticated("unauthenticated", "このアカウントは利用停止されています。")
        roles: tuple[RoleDefinition, ...] = ()
        if credential.lg_code is not None:
            roles = tuple(services.roles_of(session, tenant, credential.login_name))
        identity = Identity(credential, account.display_name, roles)
        session.expunge(credential)  # keep its loaded state past the read session's rollback
    if now - last_used > TOUCH_EVERY:
        with UnitOfWork(engine) as uow:
            services.touch_credential(uow, credential.secret_hash, now)
    return identity, by_cookie


def check_csrf(request: Request, identity: Identity, by_cookie: bool, presented: str | None) -> None:
    """A cookie-authenticated request that changes state must echo the session's CSRF token."""
    if not by_cookie or request.method in SAFE_METHODS:
        return
    expected = identity.credential.csrf_token or ""
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Forbidden(
            "csrf_failed", "画面を再読み込みしてから、もう一度操作してください (CSRF検証エラー)。"
        )


def record_denial(
    request: Request,
    lg_code: str,
    error: DomainError,
    *,
    actor: str = "anonymous",
    role: str | None = None,
    purpose: str | None = None,
    permission: str | None = None,
) -> None:
    """Append the ``auth:denied`` entry of a refused request to ``lg_code``'s chain, if that town exists."""
    details: dict[str, Any] = {"code": error.code, "method": request.method, "path": request.url.path}
    if permission:
        details["permission"] = permission
    who = Actor(actor, role=role, purpose=purpose, request_id=_request_id(request))
    with UnitOfWork(_engine(request)) as uow:
        services.record_refusal(uow, lg_code, who, details)


def authorize(
    request: Request,
    lg_code: str,
    identity: Identity,
    by_cookie: bool,
    purpose: str | None,
    csrf: str | None,
    permission: str | None,
) -> Principal:
    """Admit a signed-in caller to ``lg_code`` for ``permission``, or refuse (403/404), audited.

    ``permission=None`` admits any staff member of the town acting for a purpose their roles allow (pages
    that only show what the caller may do, such as the screens' home page).
    """
    if identity.kind == "operator":
        forbidden = Forbidden(
            "operator_not_allowed", "運用者アカウントでは市区町村の業務データを扱えません。"
        )
        record_denial(request, lg_code, forbidden, actor=identity.actor, permission=permission)
        raise forbidden
    own_town = identity.credential.lg_code or ""
    if own_town != lg_code:
        # Answer as if the town did not exist; the attempt goes into the caller's own town's chain.
        record_denial(
            request,
            own_town,
            Forbidden("other_municipality", "他の市区町村への要求"),
            actor=identity.actor,
            permission=permission,
        )
        raise NotFound("市区町村")
    try:
        check_csrf(request, identity, by_cookie, csrf)
        access = resolve_access(identity.roles, _purpose_of(identity, purpose))
    except AccessRefused as refused:
        refusal = Forbidden(refused.code, refused.message)
        record_denial(request, lg_code, refusal, actor=identity.actor, purpose=purpose, permission=permission)
        raise refusal from None
    except Forbidden as csrf_error:
        record_denial(
            request, lg_code, csrf_error, actor=identity.actor, purpose=purpose, permission=permission
        )
        raise
    if permission is not None and not access.allows(permission):
        denied = Forbidden("forbidden", "この操作を行う権限がありません。")
        record_denial(
            request,
            lg_code,
            denied,
            actor=identity.actor,
            role=",".join(access.roles),
            purpose=access.purpose,
            permission=permission,
        )
        raise denied
    return Principal(identity, access, _request_id(request))


def _purpose_of(identity: Identity, declared: str | None) -> str | None:
    """The purpose a request acts for: the one its credential was issued for, else the declared one.

    A header cannot re-purpose a bound credential: naming another purpose is refused, not ignored, so a
    client that believes it acts "for tax" learns that it does not.
    """
    bound = identity.credential.purpose
    if bound is None or declared is None or declared == bound:
        return bound or declared
    name = purposes()[bound].name if bound in purposes() else bound
    raise AccessRefused(
        "purpose_bound",
        f"このログインは「{name}」の利用目的で発行されています。"
        "別の利用目的で操作するには、その利用目的でログインし直してください。",
    )


PurposeHeader = Annotated[
    str | None, Header(alias=PURPOSE_HEADER, max_length=40, description="利用目的 (事務) のコード")
]
CsrfHeader = Annotated[str | None, Header(alias=CSRF_HEADER, max_length=100)]
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
SessionCookie = Annotated[str | None, Depends(cookie_scheme)]


def identify_or_deny(
    request: Request,
    lg_code: str,
    token: HTTPAuthorizationCredentials | None,
    cookie: str | None,
    permission: str | None,
) -> tuple[Identity, bool]:
    """:func:`identify`, with a 401 audited in ``lg_code``'s chain."""
    try:
        return identify(request, token, cookie)
    except Unauthenticated as exc:
        # A flood of anonymous calls is answered 429 without an audit entry each, so it cannot bloat the
        # chain; the first ones of each window are recorded.
        limiter: AddressLimiter = request.app.state.anonymous_limiter
        limiter.hit(request.client.host if request.client else "unknown")
        record_denial(request, lg_code, exc, permission=permission)
        raise


def require(permission: str) -> Callable[..., Principal]:
    """A dependency admitting staff of the path's town whose roles, for the declared purpose, grant
    ``permission``; anything else is refused (401/403/404) with the refusal audited."""

    def dependency(
        request: Request,
        lg_code: str,
        token: BearerToken,
        cookie: SessionCookie,
        purpose: PurposeHeader = None,
        csrf: CsrfHeader = None,
    ) -> Principal:
        identity, by_cookie = identify_or_deny(request, lg_code, token, cookie, permission)
        return authorize(request, lg_code, identity, by_cookie, purpose, csrf, permission)

    return dependency


def signed_in(
    request: Request, token: BearerToken, cookie: SessionCookie, csrf: CsrfHeader = None
) -> Identity:
    """A dependency for routes about the caller's own sign-in (no town, no purpose)."""
    identity, by_cookie = identify(request, token, cookie)
    check_csrf(request, identity, by_cookie, csrf)
    return identity


def operator(identity: Annotated[Identity, Depends(signed_in)]) -> Identity:
    """A dependency admitting only operators of the installation."""
    if identity.kind != "operator":
        raise Forbidden("operator_only", "この操作は運用者アカウントでのみ行えます。")
    return identity
