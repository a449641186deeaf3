"""The register's addresses before it moved under ``…/registry/``: each answers 308 to its new address.

Integrations and bookmarks made before the move keep working for one deprecation period: a 308 keeps the
method and the body (a POST stays a POST), and the ``Deprecation`` and ``Link`` headers name the successor.
Nothing is served here; the new route checks the sign-in, the town and the permission as always.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)

OLD_API = ("residents", "households", "events", "support-measures", "certificates")
"""First path segments of the JSON API under ``/api/v1/municipalities/{lg_code}/`` before the move."""

OLD_UI = ("search", "persons", "households", "events", "certificates")
"""First path segments of the screens under ``/ui/{lg_code}/`` before the move."""

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def _moved(request: Request, old_root: str, new_root: str) -> RedirectResponse:
    """308 to the same path and query under ``new_root`` (only the root changes: no open redirect)."""
    path = request.url.path
    target = new_root + path[len(old_root) :]
    if request.url.query:
        target = f"{target}?{request.url.query}"
    return RedirectResponse(
        target,
        status_code=308,
        headers={"Deprecation": "true", "Link": f'<{target}>; rel="successor-version"'},
    )


async def moved_api(request: Request, lg_code: str) -> RedirectResponse:
    """An old JSON API address."""
    root = f"/api/v1/municipalities/{lg_code}"
    return _moved(request, root, f"{root}/registry")


async def moved_ui(request: Request, lg_code: str) -> RedirectResponse:
    """An old screen address."""
    root = f"/ui/{lg_code}"
    return _moved(request, root, f"{root}/registry")


for _segment in OLD_API:
    for _tail in ("", "/{rest:path}"):
        _old = f"/api/v1/municipalities/{{lg_code}}/{_segment}{_tail}"
        router.add_api_route(_old, moved_api, methods=METHODS)
for _segment in OLD_UI:
    for _tail in ("", "/{rest:path}"):
        router.add_api_route(f"/ui/{{lg_code}}/{_segment}{_tail}", moved_ui, methods=METHODS)
