"""Who is at the counter: a screen's session cookie → :class:`Principal`, and the header every page shows.

The screens are admitted exactly as the API admits a browser (:func:`identify_or_deny` then
:func:`authorize`, every refusal audited); the CSRF token travels in the form's hidden ``csrf_token`` field
instead of a header. A missing or expired session becomes a redirect to the sign-in page and a refusal a
Japanese error page (:mod:`jichitai.platform.web.error_pages`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from jichitai.platform.auth.permissions import purposes
from jichitai.platform.db import read_session
from jichitai.platform.modules import NavEntry, catalog
from jichitai.platform.tenancy import Municipality
from jichitai.platform.web.auth import (
    SAFE_METHODS,
    Identity,
    Principal,
    SessionCookie,
    authorize,
    identify_or_deny,
)

CSRF_FIELD = "csrf_token"
"""The hidden field every form of a signed-in screen carries."""


@dataclass(frozen=True)
class Header:
    """What the top of every page shows: the town, who is signed in, for which purpose (事務)."""

    lg_code: str
    town: str
    display_name: str
    login_name: str
    purpose: str
    csrf_token: str
    menu: tuple[MenuItem, ...] = ()


@dataclass(frozen=True)
class MenuItem:
    """One entry of the menu every page shows (from the modules' declared navigation)."""

    label: str
    href: str
    accesskey: str | None


def visible(lg_code: str, principal: Principal, entries: Iterable[NavEntry]) -> tuple[MenuItem, ...]:
    """Those of ``entries`` the signed-in staff member may open, with their addresses in the town."""
    return tuple(
        MenuItem(entry.label, f"/ui/{lg_code}/{entry.path}", entry.accesskey)
        for entry in entries
        if entry.permission is None or principal.has(entry.permission)
    )


def menu_for(lg_code: str, principal: Principal) -> tuple[MenuItem, ...]:
    """The declared menu entries the signed-in staff member may use (every module's, in load order)."""
    return visible(lg_code, principal, catalog().navigation())


def purpose_label(code: str | None) -> str:
    """A purpose's Japanese name (or a note that none was chosen)."""
    if code is None:
        return "未選択"
    purpose = purposes().get(code)
    return purpose.name if purpose else code


def town_name(engine: Engine, lg_code: str) -> str:
    """``岩手県大槌町`` for a town code (the code itself if the town is gone)."""
    with read_session(engine) as session:
        town = session.get(Municipality, lg_code)
        return f"{town.prefecture}{town.name}" if town else lg_code


def header_of(request: Request, identity: Identity, purpose: str | None) -> Header | None:
    """The header for a signed-in staff member (None for an operator, who has no town screens)."""
    credential = identity.credential
    if credential.lg_code is None:
        return None
    return Header(
        lg_code=credential.lg_code,
        town=town_name(request.app.state.engine, credential.lg_code),
        display_name=identity.display_name,
        login_name=credential.login_name,
        purpose=purpose_label(purpose),
        csrf_token=credential.csrf_token or "",
    )


def admit(
    request: Request, lg_code: str, cookie: str | None, csrf: str | None, permission: str | None
) -> Principal:
    """Admit the screen's session to ``lg_code`` for ``permission`` (refusals raise, audited)."""
    identity, by_cookie = identify_or_deny(request, lg_code, None, cookie, permission)
    request.state.header = header_of(request, identity, identity.credential.purpose)
    principal = authorize(request, lg_code, identity, by_cookie, None, csrf, permission)
    if principal.purpose != identity.credential.purpose:
        request.state.header = header_of(request, identity, principal.purpose)
    if request.state.header is not None:
        request.state.header = replace(request.state.header, menu=menu_for(lg_code, principal))
    return principal


def page_access(permission: str | None) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting the signed-in staff of the path's town holding ``permission``.

    A form post must carry the session's CSRF token in its ``csrf_token`` field.
    """

    async def dependency(request: Request, lg_code: str, cookie: SessionCookie) -> Principal:
        csrf: str | None = None
        if request.method not in SAFE_METHODS:
            value = (await request.form()).get(CSRF_FIELD)
            csrf = value if isinstance(value, str) else None
        return await run_in_threadpool(admit, request, lg_code, cookie, csrf, permission)

    return dependency


async def form_data(request: Request) -> FormData:
    """The posted form (read once; the admission dependency has already parsed it)."""
    return await request.form()


def see_other(url: str) -> RedirectResponse:
    """Answer a form post with the page to show next (Post/Redirect/Get: reloading never posts twice)."""
    return RedirectResponse(url, status_code=303)
