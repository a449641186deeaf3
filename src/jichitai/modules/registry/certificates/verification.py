"""The public QR check of certificates: ``GET /verify/{code}``, no sign-in, a page in Japanese.

It confirms only that a certificate with this code was issued, its date and the issuing town; nothing about
the person (the code is random, 120 bits, so pages cannot be found by guessing). An unknown or malformed code
gets the same "確認できません" page with 404. The page is not part of the JSON API (not in OpenAPI).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from jichitai.modules.registry.certificates.documents import verify_certificate
from jichitai.modules.registry.certificates.pdf import environment
from jichitai.platform.db import read_session

router = APIRouter()


@router.get("/verify/{code}", response_class=HTMLResponse, include_in_schema=False)
def verify_page(code: str, request: Request) -> HTMLResponse:
    """証明書の発行確認 (public)."""
    engine: Engine = request.app.state.engine
    found = None
    if len(code) <= 64:
        with read_session(engine) as session:
            found = verify_certificate(session, code)
    html = environment().get_template("verify.html").render(found=found)
    return HTMLResponse(html, status_code=200 if found else 404)
