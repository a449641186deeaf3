"""The one Jinja2 environment of the server-rendered screens (窓口画面).

Templates are looked up in the platform's own ``templates/`` (base layout, sign-in, error pages) and then in
each module that registered its package with :func:`add_templates`, so the platform never imports a module.
Autoescaping is always on: every value a page shows came from a resident or a clerk.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, StrictUndefined

_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")
_loaders: list[BaseLoader] = [PackageLoader("jichitai.platform.web", "templates")]

env = Environment(
    loader=ChoiceLoader(_loaders),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def add_templates(package: str) -> None:
    """Let pages find the templates under ``<package>/templates`` (called once by each module's views)."""
    if not any(isinstance(loader, PackageLoader) and loader.package_name == package for loader in _loaders):
        _loaders.append(PackageLoader(package, "templates"))


def yen(value: object) -> str:
    """A fee as printed at the counter: ``300円``, ``1,200円``; a fee the town has not set as ``未設定``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "未設定"
    return f"{int(value):,}円"


def input_id(name: str) -> str:
    """The element id of an input named by a field path: ``a[0].b`` → ``f-a-0--b``."""
    return "f-" + _NOT_ID.sub("-", name)


env.filters["yen"] = yen
env.filters["fid"] = input_id


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render a page; the signed-in staff member (see :mod:`jichitai.platform.web.pages`) heads every page."""
    values = {"request": request, "header": getattr(request.state, "header", None), **context}
    page = env.get_template(template).render(values)
    return HTMLResponse(page, status_code=status)
