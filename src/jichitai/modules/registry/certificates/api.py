"""JSON and PDF API of certificates under ``/api/v1/municipalities/{lg_code}/certificates…``.

No business logic lives here: each route resolves the tenant and calls one service with the caller's audit
identity and rights (services/certificates.py, services/certificate_documents.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import Engine

from jichitai.modules.registry.certificates import services
from jichitai.modules.registry.certificates.documents import (
    PrintedCertificate,
    issuance_summary,
    print_certificate,
)
from jichitai.modules.registry.certificates.rules import (
    CertificateIssueOut,
    CertificateOut,
    IssuanceSummaryOut,
    issue_out,
)
from jichitai.modules.registry.paths import API, api
from jichitai.modules.registry.permissions import Permission
from jichitai.modules.registry.support import rules as support_rules
from jichitai.modules.registry.support.schemas import CertificateIn
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.documents import run_in_renderer
from jichitai.platform.tenancy import get_tenant
from jichitai.platform.web.auth import Principal, require

router = APIRouter(prefix=API)

MAX_INT = 2**31 - 1
CERTIFICATES: list[str | Enum] = ["証明書"]
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "証明書の PDF (A4)"},
}
REISSUE_RESPONSE: dict[int | str, dict[str, Any]] = {
    201: {"content": {"application/pdf": {}}, "description": "再交付した証明書の PDF (新しい発行番号)"},
}

Issuer = Annotated[Principal, Depends(require(Permission.CERTIFICATE_ISSUE))]
IssueNo = Annotated[int, Path(ge=1, le=MAX_INT, description="発行番号")]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def pdf_response(printed: PrintedCertificate, lg_code: str, status: int = 200) -> Response:
    """The printed certificate inline, with its 発行番号 (a 再交付 has a new one) in a header."""
    name = f"certificate-{lg_code}-{printed.issue_no}.pdf"
    return Response(
        printed.pdf,
        status_code=status,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Jichitai-Issue-No": str(printed.issue_no),
            "Location": api(lg_code, f"certificates/{printed.issue_no}"),
        },
    )


def print_issue(
    request: Request, lg_code: str, issue_no: int, principal: Principal, *, reissue: bool
) -> PrintedCertificate:
    """Print (or reprint as a 再交付) an issuance with the caller's rights; the QR points at this host."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        return print_certificate(
            uow,
            tenant,
            issue_no,
            actor=principal.as_actor(),
            reveal_my_number=principal.may_see_my_number,
            reissue=reissue,
            base_url=str(request.base_url),
        )


async def print_in_renderer(
    request: Request, lg_code: str, issue_no: int, principal: Principal, *, reissue: bool
) -> PrintedCertificate:
    """:func:`print_issue` on one of the process's PDF rendering threads, not on a request thread: prints
    queue for a renderer (``pdf_renderers``) while searches and the other routes keep their threads."""
    job = functools.partial(print_issue, request, lg_code, issue_no, principal, reissue=reissue)
    return await run_in_renderer(job)


@router.post(
    "/certificates",
    response_model=CertificateOut,
    status_code=201,
    tags=CERTIFICATES,
    summary="住民票の写し・記載事項証明書・除票の写し・転出証明書の交付",
)
def post_certificate(
    lg_code: str, request: Request, body: CertificateIn, principal: Issuer
) -> CertificateOut:
    """Issue a certificate and log it; refused while a 支援措置 protects a subject, unless the requester is
    the protected person or a user holding ``registry:support:override`` lifts it with ``override.reason``
    (never for the 相手方). Refused to the 相手方 of a measure protecting anyone whose address the certificate
    would reveal (a member of a subject's 世帯, anyone at a subject's 住所), whatever the override.
    ``warnings`` lists what the screen must show before printing."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        return services.request_certificate(
            uow,
            tenant,
            body,
            actor=principal.as_actor(),
            principal_may_override=principal.has(support_rules.OVERRIDE_PERMISSION),
            reveal_my_number=principal.may_see_my_number,
        )


@router.get(
    "/certificates/summary",
    response_model=IssuanceSummaryOut,
    tags=CERTIFICATES,
    summary="交付件数・手数料の日計",
)
def get_issuance_summary(
    lg_code: str,
    request: Request,
    principal: Issuer,
    day: Annotated[dt.date | None, Query(description="集計する日 (省略時は本日)")] = None,
) -> IssuanceSummaryOut:
    """Issuances, copies, 再交付 and fees of one day by certificate type, with the fees in force that day."""
    del principal  # the permission is the whole check; the summary names nobody
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return issuance_summary(session, tenant, day or today_jst())


@router.get(
    "/certificates/{issue_no}",
    response_model=CertificateIssueOut,
    tags=CERTIFICATES,
    summary="交付履歴の照会",
)
def get_certificate_issue(
    lg_code: str, issue_no: IssueNo, request: Request, principal: Issuer
) -> CertificateIssueOut:
    """One row of the issuance log: what was printed for whom, the fee, and whether it is a 再交付."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        issue = services.get_certificate_issue(uow, tenant, issue_no, actor=principal.as_actor())
        return issue_out(issue)


@router.get(
    "/certificates/{issue_no}/pdf",
    response_class=Response,
    responses=PDF_RESPONSE,
    tags=CERTIFICATES,
    summary="証明書の印刷 (PDF)",
)
async def get_certificate_pdf(
    lg_code: str, issue_no: IssueNo, request: Request, principal: Issuer
) -> Response:
    """The first print of an issuance (audited); printing it again is a 再交付 (POST …/reissue). Refused
    (audited ``denied``) when a 支援措置 in force today forbids it: a subject protected since the issuance, or
    the requester the 相手方 of anyone whose address the certificate reveals."""
    printed = await print_in_renderer(request, lg_code, issue_no, principal, reissue=False)
    return pdf_response(printed, lg_code)


@router.post(
    "/certificates/{issue_no}/reissue",
    response_class=Response,
    status_code=201,
    responses=REISSUE_RESPONSE,
    tags=CERTIFICATES,
    summary="証明書の再交付 (PDF)",
)
async def post_certificate_reissue(
    lg_code: str, issue_no: IssueNo, request: Request, principal: Issuer
) -> Response:
    """Print the original content again under a new 発行番号, marked 再交付 (logged, audited, no fee);
    refused like the first print when a 支援措置 in force today forbids it."""
    printed = await print_in_renderer(request, lg_code, issue_no, principal, reissue=True)
    return pdf_response(printed, lg_code, 201)
