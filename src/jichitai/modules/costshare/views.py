"""The town administrator's screen: the town's own figures and share of a month.

Served at ``/ui/{lg_code}/costshare/``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from jichitai.modules.costshare.api import town_report
from jichitai.modules.costshare.permissions import Permission
from jichitai.platform import metering
from jichitai.platform.web.auth import Principal
from jichitai.platform.web.pages import page_access
from jichitai.platform.web.templating import render

router = APIRouter(prefix="/ui/{lg_code}/costshare", include_in_schema=False)

Reader = Annotated[Principal, Depends(page_access(Permission.USAGE_READ))]


def _month(text: str) -> str:
    try:
        metering.first_day(text)
    except ValueError:
        return metering.current_month()
    return text


@router.get("/")
def usage(request: Request, lg_code: str, principal: Reader, month: str = "") -> Response:
    """The town's figures of the chosen month (this month by default) and its share of the cost."""
    del principal  # the permission is the whole check
    chosen = _month(month)
    report, line = town_report(request.app.state.engine, lg_code, chosen)
    return render(request, "costshare/usage.html", {"lg": lg_code, "report": report, "line": line})
