"""Administration of a town's staff and roles (permission ``admin:user:manage``); every change is audited.

An operator of the installation may create a town's first administrator (role ``admin`` only), so a new
town can be handed over; everything else here belongs to the town's own administrators, under separation of
duties (:mod:`jichitai.platform.auth.approvals`): no administrator changes its own roles or widens a role it
holds, and a change that grants a privileged permission answers 202 with a pending grant request, applied
only once a different administrator approves it (``…/grant-requests/{no}/approve``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jichitai.platform.audit import Actor
from jichitai.platform.auth import approvals, services
from jichitai.platform.auth.approvals import GrantRequest
from jichitai.platform.auth.models import StaffUser
from jichitai.platform.auth.permissions import permissions, purposes
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import Forbidden, NotFound
from jichitai.platform.jp.text import StoredText
from jichitai.platform.names import Permission
from jichitai.platform.tenancy import Tenant, get_tenant
from jichitai.platform.web.auth import (
    BearerToken,
    CsrfHeader,
    Principal,
    PurposeHeader,
    SessionCookie,
    authorize,
    check_csrf,
    identify_or_deny,
    record_denial,
    require,
)

router = APIRouter(prefix="/api/v1/municipalities/{lg_code}", tags=["職員管理"])
MANAGE = Permission.ADMIN_USER_MANAGE
LOGIN = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$", description="ログイン名")]
ROLE_CODE = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,40}$", description="ロールのコード")]
REQUEST_NO = Annotated[int, Path(ge=1, le=2_000_000_000, description="権限付与の申請番号")]
Admin = Annotated[Principal, Depends(require(MANAGE))]


class StaffIn(BaseModel):
    """A staff member to register."""

    model_config = ConfigDict(extra="forbid")

    login_name: str = Field(min_length=2, max_length=40)
    display_name: StoredText = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200, description="初期パスワード (12文字以上)")
    roles: list[str] = Field(default_factory=list, max_length=20)


class RolesIn(BaseModel):
    """The complete set of roles a staff member should hold."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(max_length=20)


class PasswordIn(BaseModel):
    """A new password set by an administrator."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=200)


MAX_CODES = 200
"""Most purposes or permissions one role may list (unknown ones are refused by name)."""


class RoleIn(BaseModel):
    """What a role may do."""

    model_config = ConfigDict(extra="forbid")

    name: StoredText = Field(min_length=1, max_length=60)
    purposes: list[str] = Field(max_length=MAX_CODES)
    permissions: list[str] = Field(max_length=MAX_CODES)


class StaffOut(BaseModel):
    """A staff member (never the password hash)."""

    login_name: str
    display_name: str
    roles: list[str]
    disabled: bool
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    pending_requests: list[int] = Field(
        default_factory=list, description="承認待ちの権限付与の申請番号 (このロールはまだ付与されていない)"
    )


class GrantRequestOut(BaseModel):
    """A privileged grant waiting for (or decided by) a second administrator."""

    request_no: int
    kind: Literal["staff", "role"] = Field(description="staff: 職員のロール / role: ロールの定義")
    subject: str = Field(description="対象の職員のログイン名、またはロールのコード")
    before: Any
    after: Any
    privileged: list[str] = Field(description="承認が必要な理由となったロールまたは権限")
    status: Literal["pending", "approved", "rejected"]
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None


def _request_out(request: GrantRequest) -> GrantRequestOut:
    return GrantRequestOut.model_validate(request, from_attributes=True)


def _pending(request: GrantRequest) -> JSONResponse:
    """The 202 of a change held for a second administrator's approval."""
    return JSONResponse(_request_out(request).model_dump(mode="json"), status_code=202)


PENDING_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {"model": GrantRequestOut, "description": "別の管理者の承認待ち (まだ適用されていない)"}
}


class RoleOut(BaseModel):
    """A role of the town."""

    code: str
    name: str
    purposes: list[str]
    permissions: list[str]


class CatalogueOut(BaseModel):
    """The permissions and purposes (事務) the platform knows."""

    permissions: dict[str, str]
    purposes: dict[str, str]
    my_number_purposes: list[str]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _out(
    session: Session, tenant: Tenant, user: StaffUser, pending: dict[str, list[int]] | None = None
) -> StaffOut:
    pending = approvals.pending_by_member(session, tenant) if pending is None else pending
    return StaffOut(
        login_name=user.login_name,
        display_name=user.display_name,
        roles=[r.code for r in services.roles_of(session, tenant, user.login_name)],
        disabled=user.disabled_at is not None,
        locked_until=user.locked_until,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        pending_requests=pending.get(user.login_name, []),
    )


@router.get("/staff", response_model=list[StaffOut], summary="職員の一覧")
def list_staff(lg_code: str, request: Request, _admin: Admin) -> list[StaffOut]:
    """Every staff member of the town with their roles."""
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        pending = approvals.pending_by_member(session, tenant)
        return [_out(session, tenant, u, pending) for u in services.list_users(session, tenant)]


def _admin_or_operator(
    request: Request,
    lg_code: str,
    token: BearerToken,
    cookie: SessionCookie,
    purpose: PurposeHeader = None,
    csrf: CsrfHeader = None,
) -> tuple[Actor, bool]:
    """The actor of a staff administrator (as ``require``), or of an operator; the flag says which."""
    identity, by_cookie = identify_or_deny(request, lg_code, token, cookie, MANAGE)
    if identity.kind == "operator":
        check_csrf(request, identity, by_cookie, csrf)
        return Actor(identity.actor, role="operator", request_id=request.state.request_id), True
    return authorize(request, lg_code, identity, by_cookie, purpose, csrf, MANAGE).as_actor(), False


@router.post("/staff", response_model=StaffOut, status_code=201, summary="職員の登録")
def create_staff(
    lg_code: str,
    request: Request,
    body: Annotated[StaffIn, Body()],
    caller: Annotated[tuple[Actor, bool], Depends(_admin_or_operator)],
) -> StaffOut:
    """Register a staff member. Operators may only register a town's administrators (role ``admin``).

    An administrator's registration gives the privileged roles only through a grant request (its number is
    in ``pending_requests``), approved by another administrator.
    """
    actor, is_operator = caller
    if is_operator and set(body.roles) - {"admin"}:
        error = Forbidden("operator_admin_only", "運用者が登録できるのは管理者ロールの職員だけです。")
        record_denial(request, lg_code, error, actor=actor.name, permission=MANAGE)
        raise error
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        register = services.create_user if is_operator else approvals.register_staff
        register(
            uow,
            tenant,
            login_name=body.login_name,
            display_name=body.display_name,
            password=body.password,
            roles=body.roles,
            actor=actor,
        )
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return _out(session, tenant, services.get_user(session, tenant, body.login_name))


@router.get("/staff/{login_name}", response_model=StaffOut, summary="職員の照会")
def get_staff(lg_code: str, login_name: LOGIN, request: Request, _admin: Admin) -> StaffOut:
    """One staff member."""
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return _out(session, tenant, services.get_user(session, tenant, login_name))


@router.put(
    "/staff/{login_name}/roles",
    response_model=StaffOut,
    responses=PENDING_RESPONSE,
    summary="職員のロールの変更",
)
def put_roles(
    lg_code: str, login_name: LOGIN, request: Request, body: Annotated[RolesIn, Body()], admin: Admin
) -> StaffOut | JSONResponse:
    """Replace the roles a staff member holds (never one's own: 403 ``self_grant``).

    Adding a privileged role answers 202 with a grant request, and nothing changes until another
    administrator approves it.
    """
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        held = approvals.change_staff_roles(uow, tenant, login_name, body.roles, actor=admin.as_actor())
    if held is not None:
        return _pending(held)
    return get_staff(lg_code, login_name, request, admin)


@router.post("/staff/{login_name}/disable", response_model=StaffOut, summary="職員の利用停止")
def disable_staff(lg_code: str, login_name: LOGIN, request: Request, admin: Admin) -> StaffOut:
    """Disable the account; its sessions and tokens end at once."""
    if login_name == admin.login_name:
        raise Forbidden("cannot_disable_self", "自分自身のアカウントは利用停止できません。")
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        services.set_disabled(uow, tenant, login_name, True, actor=admin.as_actor())
    return get_staff(lg_code, login_name, request, admin)


@router.post("/staff/{login_name}/enable", response_model=StaffOut, summary="職員の利用再開")
def enable_staff(lg_code: str, login_name: LOGIN, request: Request, admin: Admin) -> StaffOut:
    """Re-enable the account (and clear a lockout)."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        services.set_disabled(uow, tenant, login_name, False, actor=admin.as_actor())
    return get_staff(lg_code, login_name, request, admin)


@router.put("/staff/{login_name}/password", status_code=204, summary="パスワードの再設定")
def reset_password(
    lg_code: str, login_name: LOGIN, request: Request, body: Annotated[PasswordIn, Body()], admin: Admin
) -> None:
    """Set a new password; the member's sessions and tokens end."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        services.set_password(uow, tenant, login_name, body.password, actor=admin.as_actor())


@router.delete("/staff/{login_name}/tokens/{token_id}", status_code=204, summary="職員のトークンの失効")
def revoke_staff_token(
    lg_code: str,
    login_name: LOGIN,
    token_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")],
    request: Request,
    admin: Admin,
) -> None:
    """Withdraw one session or token of a staff member."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        credential = services.credential_by_id(uow.session, token_id)
        if credential is None or credential.lg_code != tenant.lg_code or credential.login_name != login_name:
            raise NotFound("トークン", "token_id")
        services.revoke_credential(uow, credential, tenant=tenant, actor=admin.as_actor())


@router.get("/roles", response_model=list[RoleOut], summary="ロールの一覧")
def list_roles(lg_code: str, request: Request, _admin: Admin) -> list[RoleOut]:
    """The town's roles and what each may do."""
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return [
            RoleOut(code=r.code, name=r.name, purposes=r.purposes, permissions=r.permissions)
            for r in services.list_roles(session, tenant)
        ]


@router.put("/roles/{code}", response_model=RoleOut, responses=PENDING_RESPONSE, summary="ロールの変更")
def put_role(
    lg_code: str, code: ROLE_CODE, request: Request, body: Annotated[RoleIn, Body()], admin: Admin
) -> RoleOut | JSONResponse:
    """Change a role's purposes and permissions (audited with before and after).

    Widening a role one holds is refused (403 ``self_grant``); giving a privileged permission for a new
    purpose answers 202 with a grant request, applied once another administrator approves it.
    """
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        held = approvals.change_role(
            uow,
            tenant,
            code,
            name=body.name,
            purposes=body.purposes,
            permissions=body.permissions,
            actor=admin.as_actor(),
        )
        if held is not None:
            return _pending(held)
        role = services.get_role(uow.session, tenant, code)
        return RoleOut(code=role.code, name=role.name, purposes=role.purposes, permissions=role.permissions)


@router.get("/grant-requests", response_model=list[GrantRequestOut], summary="権限付与の申請の一覧")
def list_grant_requests(
    lg_code: str,
    request: Request,
    _admin: Admin,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query()] = None,
) -> list[GrantRequestOut]:
    """The town's grant requests, newest first (``status=pending``: those waiting for approval)."""
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return [_request_out(r) for r in approvals.list_requests(session, tenant, status)]


@router.get("/grant-requests/{request_no}", response_model=GrantRequestOut, summary="権限付与の申請の照会")
def get_grant_request(
    lg_code: str, request_no: REQUEST_NO, request: Request, _admin: Admin
) -> GrantRequestOut:
    """One grant request: what it changes, who asked, and who decided."""
    with read_session(_engine(request)) as session:
        tenant = get_tenant(session, lg_code)
        return _request_out(approvals.get_request(session, tenant, request_no))


@router.post(
    "/grant-requests/{request_no}/approve", response_model=GrantRequestOut, summary="権限付与の申請の承認"
)
def approve_grant_request(
    lg_code: str, request_no: REQUEST_NO, request: Request, admin: Admin
) -> GrantRequestOut:
    """Approve another administrator's request; the change applies at once.

    Refused (403): one's own request (``approval_by_requester``), a grant to oneself or to a role one holds
    (``self_grant``). 409: already decided (``grant_request_closed``), or the subject changed since the
    request (``grant_request_stale``).
    """
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        return _request_out(approvals.approve(uow, tenant, request_no, actor=admin.as_actor()))


@router.post(
    "/grant-requests/{request_no}/reject", response_model=GrantRequestOut, summary="権限付与の申請の却下"
)
def reject_grant_request(
    lg_code: str, request_no: REQUEST_NO, request: Request, admin: Admin
) -> GrantRequestOut:
    """Close a pending request without applying it (its requester may withdraw it this way)."""
    with UnitOfWork(_engine(request)) as uow:
        tenant = get_tenant(uow.session, lg_code)
        return _request_out(approvals.reject(uow, tenant, request_no, actor=admin.as_actor()))


@router.get("/permissions", response_model=CatalogueOut, summary="権限と利用目的の一覧")
def catalogue(_lg_code: Annotated[str, Path(alias="lg_code")], _admin: Admin) -> CatalogueOut:
    """Every permission and purpose (事務), and which purposes are 個人番号利用事務."""
    return CatalogueOut(
        permissions={code: p.description for code, p in permissions().items()},
        purposes={code: p.name for code, p in purposes().items()},
        my_number_purposes=[code for code, p in purposes().items() if p.my_number],
    )
