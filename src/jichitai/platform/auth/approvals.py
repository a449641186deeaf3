"""Separation of duties for a town's administrators: no self-grant, and two people for privileged grants.

An administrator never changes its own roles, nor widens a role it holds. A change that gives a privileged
permission (:func:`~jichitai.platform.auth.permissions.privileged_permissions`: reading residents, managing
staff) to someone, whether by granting a member a role, registering a member with one, or widening a role's
definition, does not apply: it becomes a pending :class:`GrantRequest`, and applies only when a *different*
administrator (neither the requester nor anyone the change would empower) approves it. The approval applies
exactly the change that was requested: if the member's roles or the role changed meanwhile, it is refused as
stale and must be requested again.

Requests, approvals and rejections are audited (``admin:grant:*``); refusals are ``auth:denied`` entries,
committed before the 403. The primitives in :mod:`jichitai.platform.auth.services` (``create_user``,
``set_roles``, ``update_role``) make no such check: they serve the operator's command line, which registers a
town's first administrators, and the approval itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from sqlalchemy import JSON, ForeignKeyConstraint, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.auth import services
from jichitai.platform.auth.permissions import RoleDefinition, privileged_permissions, widening
from jichitai.platform.db import LG_CODE, Base, UnitOfWork, utcnow
from jichitai.platform.errors import Conflict, DomainError, Forbidden, NotFound
from jichitai.platform.names import Action
from jichitai.platform.tenancy import Tenant, next_numbers

STAFF = "staff"
"""A request to change the roles a member holds (``subject``: the login name)."""
ROLE = "role"
"""A request to change a role's definition (``subject``: the role's code)."""
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class GrantRequest(Base):
    """A privileged grant one administrator asked for, waiting for another's approval (or decided).

    ``before`` and ``after`` are the member's role codes (``staff``) or the role's definition (``role``) as
    the requester saw and wanted them; the approval applies ``after`` only while the subject still is
    ``before``.
    """

    __tablename__ = "staff_grant_request"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    request_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(40))
    before: Mapped[Any] = mapped_column(JSON)
    after: Mapped[Any] = mapped_column(JSON)
    privileged: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


# --- refusals ------------------------------------------------------------------------------------------


def _refuse(uow: UnitOfWork, tenant: Tenant, actor: Actor, error: DomainError, **facts: Any) -> NoReturn:
    """Commit the ``auth:denied`` entry of a refused administrator's request, then raise ``error``."""
    uow.session.rollback()  # nothing of the refused change, only its audit entry
    details = {"code": error.code, **facts}
    append_entries(uow.session, tenant, [actor.entry(Action.AUTH_DENIED, outcome="denied", details=details)])
    uow.commit()
    raise error


def _self_grant() -> Forbidden:
    return Forbidden(
        "self_grant",
        "自分自身のロールや、自分が持つロールの権限は変更・承認できません。別の管理者に依頼してください。",
    )


def _held_by(session: Session, tenant: Tenant, actor: Actor) -> set[str]:
    return {r.code for r in services.roles_of(session, tenant, actor.name)}


# --- a member's roles ----------------------------------------------------------------------------------


def _definitions(session: Session, tenant: Tenant) -> dict[str, RoleDefinition]:
    return {r.code: services.definition(r) for r in services.list_roles(session, tenant)}


def _privileged_roles(session: Session, tenant: Tenant, codes: set[str]) -> list[str]:
    """Those of ``codes`` that grant a privileged permission."""
    privileged = privileged_permissions()
    defined = _definitions(session, tenant)
    return sorted(c for c in codes if c in defined and defined[c].permissions & privileged)


def change_staff_roles(
    uow: UnitOfWork, tenant: Tenant, login_name: str, roles: list[str], *, actor: Actor
) -> GrantRequest | None:
    """An administrator replaces a member's roles: applied at once (None), or held for approval when it adds
    a privileged role (the pending request). Its own roles are refused (403 ``self_grant``)."""
    session = uow.session
    services.get_user(session, tenant, login_name)
    services.check_roles(session, tenant, roles)
    if login_name == actor.name:
        _refuse(uow, tenant, actor, _self_grant(), login_name=login_name, roles=sorted(set(roles)))
    before = sorted(r.code for r in services.roles_of(session, tenant, login_name))
    after = sorted(set(roles))
    held = _privileged_roles(session, tenant, set(after) - set(before))
    if not held:
        services.replace_roles(session, tenant, login_name, after, actor=actor)
        uow.commit()
        return None
    request = _file(session, tenant, STAFF, login_name, before, after, held, actor=actor)
    uow.commit()
    return request


def register_staff(
    uow: UnitOfWork,
    tenant: Tenant,
    *,
    login_name: str,
    display_name: str,
    password: str,
    roles: list[str],
    actor: Actor,
) -> GrantRequest | None:
    """An administrator registers a member: with the roles that need no approval at once, and a pending
    request for the privileged ones (returned; None when there were none). One transaction."""
    session = uow.session
    services.check_roles(session, tenant, roles)
    wanted = sorted(set(roles))
    held = _privileged_roles(session, tenant, set(wanted))
    now = [code for code in wanted if code not in held]
    services.add_user(
        session,
        tenant,
        login_name=login_name,
        display_name=display_name,
        password=password,
        roles=now,
        actor=actor,
    )
    request = _file(session, tenant, STAFF, login_name, now, wanted, held, actor=actor) if held else None
    uow.commit()
    return request


# --- a role's definition -------------------------------------------------------------------------------


def _as_dict(role: RoleDefinition) -> dict[str, Any]:
    return {"name": role.name, "purposes": sorted(role.purposes), "permissions": sorted(role.permissions)}


def change_role(
    uow: UnitOfWork,
    tenant: Tenant,
    code: str,
    *,
    name: str,
    purposes: list[str],
    permissions: list[str],
    actor: Actor,
) -> GrantRequest | None:
    """An administrator changes what a role may do: applied at once (None), or held for approval when it
    gives a privileged permission for a purpose it was not given for. Widening a role the administrator
    holds itself is refused (403 ``self_grant``); narrowing one is not."""
    session = uow.session
    old = services.definition(services.get_role(session, tenant, code))
    new = services.checked_role(code, name, purposes, permissions)
    added = widening(old, new)
    if added and code in _held_by(session, tenant, actor):
        _refuse(uow, tenant, actor, _self_grant(), role=code, added=sorted(added))
    held = sorted(added & privileged_permissions())
    if not held:
        services.redefine_role(session, tenant, new, actor=actor)
        uow.commit()
        return None
    request = _file(session, tenant, ROLE, code, _as_dict(old), _as_dict(new), held, actor=actor)
    uow.commit()
    return request


# --- requests ------------------------------------------------------------------------------------------


def _file(
    session: Session,
    tenant: Tenant,
    kind: str,
    subject: str,
    before: Any,
    after: Any,
    privileged: list[str],
    *,
    actor: Actor,
) -> GrantRequest:
    request = GrantRequest(
        lg_code=tenant.lg_code,
        request_no=next_numbers(session, tenant, "grant_request")[0],
        kind=kind,
        subject=subject,
        before=before,
        after=after,
        privileged=privileged,
        status=PENDING,
        requested_by=actor.name,
    )
    session.add(request)
    session.flush()
    append_entries(session, tenant, [actor.entry(Action.ADMIN_GRANT_REQUEST, details=_facts(request))])
    return request


def _facts(request: GrantRequest) -> dict[str, Any]:
    return {
        "request_no": request.request_no,
        "kind": request.kind,
        "subject": request.subject,
        "before": request.before,
        "after": request.after,
        "privileged": request.privileged,
        "requested_by": request.requested_by,
    }


def get_request(session: Session, tenant: Tenant, request_no: int) -> GrantRequest:
    """A request of the town, or NotFound."""
    request = session.get(GrantRequest, (tenant.lg_code, request_no))
    if request is None:
        raise NotFound("権限付与の申請", "request_no")
    return request


def list_requests(session: Session, tenant: Tenant, status: str | None = None) -> list[GrantRequest]:
    """The town's requests, newest first (only those of ``status`` when given)."""
    query = select(GrantRequest).where(GrantRequest.lg_code == tenant.lg_code)
    if status is not None:
        query = query.where(GrantRequest.status == status)
    return list(session.scalars(query.order_by(GrantRequest.request_no.desc()).limit(500)))


def pending_by_member(session: Session, tenant: Tenant) -> dict[str, list[int]]:
    """The numbers of the pending requests about each member's roles."""
    found: dict[str, list[int]] = {}
    for request in list_requests(session, tenant, PENDING):
        if request.kind == STAFF:
            found.setdefault(request.subject, []).append(request.request_no)
    return {login: sorted(numbers) for login, numbers in found.items()}


def _open(session: Session, tenant: Tenant, request_no: int) -> GrantRequest:
    """The pending request, locked until the decision commits (two approvers never both apply it)."""
    request = session.get(GrantRequest, (tenant.lg_code, request_no), with_for_update=True)
    if request is None:
        raise NotFound("権限付与の申請", "request_no")
    if request.status != PENDING:
        raise Conflict("grant_request_closed", "この申請は既に承認または却下されています。", "request_no")
    return request


def approve(uow: UnitOfWork, tenant: Tenant, request_no: int, *, actor: Actor) -> GrantRequest:
    """A second administrator approves a pending request, which applies at once (one transaction).

    Refused (403, audited): by its requester (``approval_by_requester``), by the member it grants to or by a
    holder of the role it widens (``self_grant``). Refused (409): a request already decided, or one whose
    subject changed since it was made (``grant_request_stale``).
    """
    session = uow.session
    request = _open(session, tenant, request_no)
    facts = {"request_no": request_no, "subject": request.subject}
    if request.requested_by == actor.name:
        refusal = Forbidden(
            "approval_by_requester", "自分が申請した権限付与は承認できません。別の管理者が承認してください。"
        )
        _refuse(uow, tenant, actor, refusal, **facts)
    if request.kind == STAFF:
        empowered = request.subject == actor.name
    else:
        empowered = request.subject in _held_by(session, tenant, actor)
    if empowered:
        _refuse(uow, tenant, actor, _self_grant(), **facts)
    _check_unchanged(session, tenant, request)
    request.status = APPROVED
    request.decided_by = actor.name
    request.decided_at = utcnow()
    append_entries(session, tenant, [actor.entry(Action.ADMIN_GRANT_APPROVE, details=_facts(request))])
    if request.kind == STAFF:
        services.replace_roles(session, tenant, request.subject, list(request.after), actor=actor)
    else:
        after = request.after
        new = RoleDefinition(
            request.subject, after["name"], frozenset(after["purposes"]), frozenset(after["permissions"])
        )
        services.redefine_role(session, tenant, new, actor=actor)
    uow.commit()
    return request


def _check_unchanged(session: Session, tenant: Tenant, request: GrantRequest) -> None:
    if request.kind == STAFF:
        services.get_user(session, tenant, request.subject)
        now: Any = sorted(r.code for r in services.roles_of(session, tenant, request.subject))
    else:
        now = _as_dict(services.definition(services.get_role(session, tenant, request.subject)))
    if now != request.before:
        raise Conflict(
            "grant_request_stale",
            "申請の後に対象のロールが変更されたため、この申請は承認できません。改めて申請してください。",
            "request_no",
        )


def reject(uow: UnitOfWork, tenant: Tenant, request_no: int, *, actor: Actor) -> GrantRequest:
    """Close a pending request without applying it: any administrator, the requester too (a withdrawal)."""
    session = uow.session
    request = _open(session, tenant, request_no)
    request.status = REJECTED
    request.decided_by = actor.name
    request.decided_at = utcnow()
    append_entries(session, tenant, [actor.entry(Action.ADMIN_GRANT_REJECT, details=_facts(request))])
    uow.commit()
    return request
