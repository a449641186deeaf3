"""The town's home screen ``/ui/{lg_code}/``: the modules' menu for this staff member, and the alerts.

The platform names no module: the sections are the loaded declarations' titles with the navigation entries
the signed-in staff member's roles allow (:func:`menu_for`). Administrators also see the off-site copy's
alerts here (an unreachable custodian, an overdue drill), the first screen they open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from jichitai.platform.modules import catalog
from jichitai.platform.names import Permission
from jichitai.platform.web.auth import Principal
from jichitai.platform.web.offsite_api import alert_messages
from jichitai.platform.web.pages import MenuItem, page_access, visible
from jichitai.platform.web.templating import render

router = APIRouter(include_in_schema=False)

Signed = Annotated[Principal, Depends(page_access(None))]


@dataclass(frozen=True)
class Section:
    """One module's entries on the home screen."""

    title: str
    items: tuple[MenuItem, ...]


def sections_for(lg_code: str, principal: Principal) -> list[Section]:
    """Every loaded module with at least one entry this staff member may open, in load order."""
    found = []
    for declaration in catalog().modules:
        items = visible(lg_code, principal, declaration.navigation)
        if items:
            found.append(Section(declaration.title, items))
    return found


@router.get("/ui/{lg_code}/")
def home(request: Request, lg_code: str, principal: Signed) -> Response:
    """The menu of the town's work, grouped by module; a note when the roles open no screen."""
    offsite = alert_messages(request, lg_code) if principal.has(Permission.ADMIN_USER_MANAGE) else []
    return render(
        request,
        "home.html",
        {"lg": lg_code, "sections": sections_for(lg_code, principal), "offsite_alerts": offsite},
    )
