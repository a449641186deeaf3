"""Use cases of accounts and sign-in: each one transaction, each audited in the town's chain.

Sign-in failures are recorded too, and committed although the caller answers with an error: a refused
sign-in writes only its audit entry and the failure counter, which is exactly what lockout needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jichitai.platform.audit import Actor, append_entries, append_entry
from jichitai.platform.auth.models import Credential, OperatorAccount, Role, RoleGrant, StaffUser
from jichitai.platform.auth.passwords import (
    check_policy,
    hash_password,
    needs_rehash,
    town_words,
    verify_password,
)
from jichitai.platform.auth.permissions import (
    AccessRefused,
    RoleDefinition,
    allowed_purposes,
    purposes,
    resolve_access,
    standard_roles,
    validate_role,
)
from jichitai.platform.db import UnitOfWork, as_utc, utcnow
from jichitai.platform.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from jichitai.platform.names import Action
from jichitai.platform.tenancy import Tenant, get_municipality, get_tenant

LOGIN_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")


@dataclass(frozen=True)
class Policy:
    """Sign-in rules of the installation (from settings)."""

    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    session_idle: dt.timedelta = dt.timedelta(minutes=30)
    session_max: dt.timedelta = dt.timedelta(hours=12)
    token_max: dt.timedelta = dt.timedelta(days=365)


@dataclass(frozen=True)
class Issued:
    """A new credential: the secret is shown to its owner once and never stored."""

    secret: str
    credential: Credential


def secret_hash(secret: str) -> str:
    """How a credential's secret is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_login_name(login_name: str, field: str = "login_name") -> str:
    """Login names are short lowercase ASCII, so they print unambiguously in logs and the audit trail."""
    if not LOGIN_NAME.match(login_name):
        raise InvalidInput(
            "invalid_login_name",
            "ログイン名は英小文字・数字・「.」「_」「-」の2〜40文字で、英数字で始めてください。",
            field,
        )
    return login_name


# --- roles ---------------------------------------------------------------------------------------------


def seed_standard_roles(session: Session, tenant: Tenant) -> None:
    """Give a new town the standard roles (their content is the town's to change afterwards)."""
    for role in standard_roles():
        session.add(
            Role(
                lg_code=tenant.lg_code,
                code=role.code,
                name=role.name,
                purposes=sorted(role.purposes),
                permissions=sorted(role.permissions),
            )
        )
    session.flush()


def definition(role: Role) -> RoleDefinition:
    """The stored role as the pure rules see it."""
    return RoleDefinition(role.code, role.name, frozenset(role.purposes), frozenset(role.permissions))


def list_roles(session: Session, tenant: Tenant) -> list[Role]:
    """The town's roles, by code."""
    return list(session.scalars(select(Role).where(Role.lg_code == tenant.lg_code).order_by(Role.code)))


def roles_of(session: Session, tenant: Tenant, login_name: str) -> list[RoleDefinition]:
    """The roles a staff user holds, as definitions."""
    rows = session.scalars(
        select(Role)
        .join(RoleGrant, (RoleGrant.lg_code == Role.lg_code) & (RoleGrant.role_code == Role.code))
        .where(RoleGrant.lg_code == tenant.lg_code, RoleGrant.login_name == login_name)
        .order_by(Role.code)
    )
    return [definition(r) for r in rows]


def get_role(session: Session, tenant: Tenant, code: str) -> Role:
    """A role of the town, or NotFound."""
    role = session.get(Role, (tenant.lg_code, code))
    if role is None:
        raise NotFound("ロール", "code")
    return role


def checked_role(code: str, name: str, purposes: list[str], permissions: list[str]) -> RoleDefinition:
    """A role definition as an administrator asks for it, refused when it names unknown codes."""
    new = RoleDefinition(code, name, frozenset(purposes), frozenset(permissions))
    problems = validate_role(new)
    if problems:
        raise InvalidInput("invalid_role", "、".join(problems), "permissions")
    return new


def update_role(
    uow: UnitOfWork,
    tenant: Tenant,
    code: str,
    *,
    name: str,
    purposes: list[str],
    permissions: list[str],
    actor: Actor,
) -> Role:
    """Change what a town's role may do (a permission change: audited with before and after).

    No two-person check: this is the change itself, as the operator's command line and an approved request
    make it; administrators go through :mod:`jichitai.platform.auth.approvals`.
    """
    role = redefine_role(uow.session, tenant, checked_role(code, name, purposes, permissions), actor=actor)
    uow.commit()
    return role


def redefine_role(session: Session, tenant: Tenant, new: RoleDefinition, *, actor: Actor) -> Role:
    """:func:`update_role` inside the caller's transaction."""
    role = get_role(session, tenant, new.code)
    code, name = new.code, new.name
    before = {"name": role.name, "purposes": role.purposes, "permissions": role.permissions}
    role.name = name
    role.purposes = sorted(new.purposes)
    role.permissions = sorted(new.permissions)
    append_entries(
        session,
        tenant,
        [
            actor.entry(
                Action.ADMIN_ROLE_UPDATE,
                details={
                    "role": code,
                    "before": before,
                    "after": {"name": name, "purposes": role.purposes, "permissions": role.permissions},
                },
            )
        ],
    )
    return role


# --- staff users ---------------------------------------------------------------------------------------


def get_user(session: Session, tenant: Tenant, login_name: str) -> StaffUser:
    """A staff user of the town, or NotFound."""
    user = session.get(StaffUser, (tenant.lg_code, login_name))
    if user is None:
        raise NotFound("職員", "login_name")
    return user


def list_users(session: Session, tenant: Tenant) -> list[StaffUser]:
    """The town's staff, by login name."""
    return list(
        session.scalars(
            select(StaffUser).where(StaffUser.lg_code == tenant.lg_code).order_by(StaffUser.login_name)
        )
    )


def names_of_town(session: Session, tenant: Tenant) -> list[str]:
    """The town's name as a new password must not contain it (kanji, kana, romaji)."""
    municipality = get_municipality(session, tenant.lg_code)
    return town_words(municipality.name, municipality.name_kana)


def check_roles(session: Session, tenant: Tenant, roles: list[str]) -> None:
    """Refuse role codes the town does not have."""
    known = {r.code for r in list_roles(session, tenant)}
    unknown = sorted(set(roles) - known)
    if unknown:
        raise InvalidInput("unknown_role", f"未知のロールです: {', '.join(unknown)}", "roles")


def create_user(
    uow: UnitOfWork,
    tenant: Tenant,
    *,
    login_name: str,
    display_name: str,
    password: str,
    roles: list[str],
    actor: Actor,
) -> StaffUser:
    """Register a staff member with an initial password and roles.

    No two-person check (the operator's command line, the test fixtures); administrators register staff
    through :func:`jichitai.platform.auth.approvals.register_staff`.
    """
    user = add_user(
        uow.session,
        tenant,
        login_name=login_name,
        display_name=display_name,
        password=password,
        roles=roles,
        actor=actor,
    )
    uow.commit()
    return user


def add_user(
    session: Session,
    tenant: Tenant,
    *,
    login_name: str,
    display_name: str,
    password: str,
    roles: list[str],
    actor: Actor,
) -> StaffUser:
    """:func:`create_user` inside the caller's transaction."""
    check_login_name(login_name)
    if not display_name.strip():
        raise InvalidInput("required", "必須項目です。", "display_name")
    check_policy(password, login_name, town=names_of_town(session, tenant))
    if session.get(StaffUser, (tenant.lg_code, login_name)) is not None:
        raise Conflict("user_exists", "このログイン名の職員は既に登録されています。", "login_name")
    check_roles(session, tenant, roles)
    user = StaffUser(
        lg_code=tenant.lg_code,
        login_name=login_name,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    for code in sorted(set(roles)):
        session.add(
            RoleGrant(lg_code=tenant.lg_code, login_name=login_name, role_code=code, granted_by=actor.name)
        )
    append_entries(
        session,
        tenant,
        [
            actor.entry(
                Action.ADMIN_USER_CREATE, details={"login_name": login_name, "roles": sorted(set(roles))}
            )
        ],
    )
    return user


def set_roles(
    uow: UnitOfWork, tenant: Tenant, login_name: str, roles: list[str], *, actor: Actor
) -> list[str]:
    """Replace the roles a staff member holds (a permission change: audited with before and after).

    No two-person check (see :func:`create_user`); administrators go through
    :func:`jichitai.platform.auth.approvals.change_staff_roles`.
    """
    after = replace_roles(uow.session, tenant, login_name, roles, actor=actor)
    uow.commit()
    return after


def replace_roles(
    session: Session, tenant: Tenant, login_name: str, roles: list[str], *, actor: Actor
) -> list[str]:
    """:func:`set_roles` inside the caller's transaction."""
    get_user(session, tenant, login_name)
    check_roles(session, tenant, roles)
    grants = list(
        session.scalars(
            select(RoleGrant).where(RoleGrant.lg_code == tenant.lg_code, RoleGrant.login_name == login_name)
        )
    )
    before = sorted(g.role_code for g in grants)
    after = sorted(set(roles))
    for grant in grants:
        if grant.role_code not in after:
            session.delete(grant)
    for code in after:
        if code not in before:
            session.add(
                RoleGrant(
                    lg_code=tenant.lg_code, login_name=login_name, role_code=code, granted_by=actor.name
                )
            )
    append_entries(
        session,
        tenant,
        [
            actor.entry(
                Action.ADMIN_USER_ROLES, details={"login_name": login_name, "before": before, "after": after}
            )
        ],
    )
    return after


def _revoke_all(session: Session, lg_code: str | None, login_name: str) -> int:
    now = utcnow()
    owner = (Credential.lg_code == lg_code) if lg_code is not None else Credential.lg_code.is_(None)
    rows = list(
        session.scalars(
            select(Credential).where(
                owner, Credential.login_name == login_name, Credential.revoked_at.is_(None)
            )
        )
    )
    for row in rows:
        row.revoked_at = now
    return len(rows)


def set_disabled(
    uow: UnitOfWork, tenant: Tenant, login_name: str, disabled: bool, *, actor: Actor
) -> StaffUser:
    """Disable (ending every session and token at once) or re-enable a staff member."""
    session = uow.session
    user = get_user(session, tenant, login_name)
    revoked = 0
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        revoked = _revoke_all(session, tenant.lg_code, login_name)
    elif not disabled:
        user.disabled_at = None
        user.failed_logins = 0
        user.locked_until = None
    action = Action.ADMIN_USER_DISABLE if disabled else Action.ADMIN_USER_ENABLE
    append_entries(
        session, tenant, [actor.entry(action, details={"login_name": login_name, "revoked": revoked})]
    )
    uow.commit()
    return user


def set_password(
    uow: UnitOfWork,
    tenant: Tenant,
    login_name: str,
    password: str,
    *,
    actor: Actor,
    current: str | None = None,
) -> None:
    """Set a new password (by an administrator, or by the user giving ``current``); other sign-ins end."""
    session = uow.session
    user = get_user(session, tenant, login_name)
    if current is not None and not verify_password(user.password_hash, current):
        raise InvalidInput("wrong_password", "現在のパスワードが正しくありません。", "current_password")
    check_policy(password, login_name, town=names_of_town(session, tenant))
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoked = _revoke_all(session, tenant.lg_code, login_name)
    append_entries(
        session,
        tenant,
        [actor.entry(Action.ADMIN_USER_PASSWORD, details={"login_name": login_name, "revoked": revoked})],
    )
    uow.commit()


# --- sign-in -------------------------------------------------------------------------------------------


def _new_credential(
    session: Session,
    *,
    kind: str,
    lg_code: str | None,
    login_name: str,
    purpose: str | None,
    label: str | None,
    expires_at: dt.datetime,
) -> Issued:
    secret = secrets.token_urlsafe(32)
    credential = Credential(
        secret_hash=secret_hash(secret),
        kind=kind,
        token_id=secrets.token_hex(8),
        lg_code=lg_code,
        login_name=login_name,
        label=label,
        purpose=purpose,
        csrf_token=secrets.token_urlsafe(24) if kind == "session" else None,
        expires_at=expires_at,
    )
    session.add(credential)
    session.flush()
    return Issued(secret, credential)


def _check_purpose(purpose: str | None) -> None:
    if purpose is not None and purpose not in purposes():
        raise InvalidInput("unknown_purpose", f"未知の利用目的 (事務) です: {purpose}", "purpose")


def _expiry(kind: str, policy: Policy, days: int | None) -> dt.datetime:
    now = utcnow()
    if kind == "session":
        return now + policy.session_max
    life = dt.timedelta(days=days) if days else policy.token_max
    if life > policy.token_max or life <= dt.timedelta(0):
        raise InvalidInput(
            "invalid_token_life", f"有効期間は1日から{policy.token_max.days}日までです。", "expires_in_days"
        )
    return now + life


INVALID_CREDENTIALS = ("invalid_credentials", "ログイン名またはパスワードが正しくありません。")
"""The one answer to every refused sign-in: unknown name, wrong password, locked or disabled account alike,
so the form tells nothing about an account (the audit entry records which it was)."""


def login_staff(
    uow: UnitOfWork,
    lg_code: str,
    login_name: str,
    password: str,
    *,
    kind: str,
    policy: Policy,
    purpose: str | None = None,
    label: str | None = None,
    days: int | None = None,
    request_id: str | None = None,
    client: str | None = None,
    bind: bool = False,
) -> Issued:
    """Check a staff member's password and open a session or issue a bearer token.

    Every attempt is audited in the town's chain; failures count towards lockout and are committed before
    the refusal is raised. A locked or disabled account is refused exactly like a wrong password (same answer,
    same argon2 work). A ``purpose`` none of the user's roles allows is refused (403, the code of
    :func:`resolve_access`) before anything is issued; with ``bind`` (the screens) the credential must resolve
    to one purpose, which it is then bound to.
    """
    session = uow.session
    _check_purpose(purpose)
    expires_at = _expiry(kind, policy, days)
    try:
        tenant = get_tenant(session, lg_code)
    except NotFound:
        verify_password(None, password)
        raise Unauthenticated(*INVALID_CREDENTIALS) from None
    user = session.get(StaffUser, (tenant.lg_code, login_name))
    who = Actor(login_name, purpose=purpose, request_id=request_id)
    now = utcnow()
    facts: dict[str, object] = {"kind": kind, "client": client}

    def refuse(reason: str, error: DomainError | None = None) -> NoReturn:
        append_entry(
            session, tenant, **_fields(who, Action.AUTH_LOGIN, "failed", {**facts, "reason": reason})
        )
        uow.commit()
        raise error or Unauthenticated(*INVALID_CREDENTIALS)

    if user is None:
        verify_password(None, password)
        refuse("unknown_user")
    locked_until = as_utc(user.locked_until)
    if user.disabled_at is not None:
        verify_password(user.password_hash, password)  # the work of a wrong password, whatever the result
        refuse("disabled")
    if locked_until is not None and locked_until > now:
        verify_password(user.password_hash, password)
        refuse("locked")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + policy.lockout
            user.failed_logins = 0
            facts["locked"] = True
        refuse("wrong_password")
    if purpose is not None or bind:
        try:
            purpose = _purpose_at_issue(session, tenant, login_name, purpose)
        except Forbidden as refused:
            refuse(refused.code, refused)
        who = Actor(login_name, purpose=purpose, request_id=request_id)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    issued = _new_credential(
        session,
        kind=kind,
        lg_code=tenant.lg_code,
        login_name=login_name,
        purpose=purpose,
        label=label,
        expires_at=expires_at,
    )
    append_entry(
        session,
        tenant,
        **_fields(who, Action.AUTH_LOGIN, "ok", {**facts, "token_id": issued.credential.token_id}),
    )
    uow.commit()
    return issued


def _purpose_at_issue(session: Session, tenant: Tenant, login_name: str, purpose: str | None) -> str:
    """The purpose a new credential acts for, or Forbidden (with the purposes the roles do allow)."""
    roles = roles_of(session, tenant, login_name)
    try:
        return resolve_access(roles, purpose).purpose
    except AccessRefused as refused:
        choices = "、".join(purposes()[code].name for code in allowed_purposes(roles))
        message = refused.message + (f" 選べる利用目的: {choices}" if choices else "")
        raise Forbidden(refused.code, message) from None


def _fields(who: Actor, action: str, outcome: str, details: dict[str, object]) -> dict[str, object]:
    return {
        "actor": who.name,
        "role": who.role,
        "purpose": who.purpose,
        "request_id": who.request_id,
        "action": action,
        "outcome": outcome,
        "details": details,
    }


def login_operator(
    uow: UnitOfWork, login_name: str, password: str, *, kind: str, policy: Policy, days: int | None = None
) -> Issued:
    """Check an operator's password and open a session or token; lockout as for staff.

    Operators belong to no town, so their sign-ins are not in any town's chain; the structured log records
    them (see docs/operations.md).
    """
    session = uow.session
    expires_at = _expiry(kind, policy, days)
    account = session.get(OperatorAccount, login_name)
    now = utcnow()
    if account is None or account.disabled_at is not None:
        verify_password(None, password)
        raise Unauthenticated(*INVALID_CREDENTIALS)
    locked_until = as_utc(account.locked_until)
    if locked_until is not None and locked_until > now:
        verify_password(account.password_hash, password)  # answered and timed like a wrong password
        raise Unauthenticated(*INVALID_CREDENTIALS)
    if not verify_password(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= policy.max_failures:
            account.locked_until = now + policy.lockout
            account.failed_logins = 0
        uow.commit()
        raise Unauthenticated(*INVALID_CREDENTIALS)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    issued = _new_credential(
        session,
        kind=kind,
        lg_code=None,
        login_name=login_name,
        purpose=None,
        label=None,
        expires_at=expires_at,
    )
    uow.commit()
    return issued


def create_operator(uow: UnitOfWork, login_name: str, display_name: str, password: str) -> OperatorAccount:
    """Register an operator of the installation (from the command line only)."""
    session = uow.session
    check_login_name(login_name)
    check_policy(password, login_name)
    if session.get(OperatorAccount, login_name) is not None:
        raise Conflict("user_exists", "このログイン名の運用者は既に登録されています。", "login_name")
    account = OperatorAccount(
        login_name=login_name,
        display_name=display_name,
        password_hash=hash_password(password),
        failed_logins=0,
    )
    session.add(account)
    uow.commit()
    return account


def touch_credential(uow: UnitOfWork, secret_hash_value: str, now: dt.datetime) -> None:
    """Note that a credential was used (what the idle timeout of sessions counts from)."""
    row = uow.session.get(Credential, secret_hash_value)
    if row is not None:
        row.last_used_at = now
        uow.commit()


def record_refusal(uow: UnitOfWork, lg_code: str, who: Actor, details: dict[str, object]) -> None:
    """Append the ``auth:denied`` entry of a refused request to the town's chain (nothing if no such town).

    The only write a refused request makes (DESIGN §3.3): committed on its own, before the refusal answers.
    """
    try:
        tenant = get_tenant(uow.session, lg_code)
    except NotFound:
        return
    append_entries(
        uow.session, tenant, [who.entry(Action.AUTH_DENIED, outcome="denied", details=dict(details))]
    )
    uow.commit()


def find_credential(session: Session, secret: str) -> Credential | None:
    """The live credential for a presented secret, or None (unknown, revoked or expired)."""
    credential = session.get(Credential, secret_hash(secret))
    if credential is None or credential.revoked_at is not None:
        return None
    expires_at = as_utc(credential.expires_at)
    if expires_at is None or expires_at <= utcnow():
        return None
    return credential


def revoke_credential(
    uow: UnitOfWork, credential: Credential, *, tenant: Tenant | None, actor: Actor
) -> None:
    """End one session or token (sign-out, or an administrator withdrawing a token)."""
    credential.revoked_at = utcnow()
    if tenant is not None:
        append_entries(
            uow.session,
            tenant,
            [
                actor.entry(
                    Action.AUTH_LOGOUT if credential.kind == "session" else Action.AUTH_TOKEN_REVOKE,
                    details={"token_id": credential.token_id, "owner": credential.login_name},
                )
            ],
        )
    uow.commit()


def credentials_of(session: Session, lg_code: str | None, login_name: str) -> list[Credential]:
    """The live and past credentials of one account, newest first."""
    owner = (Credential.lg_code == lg_code) if lg_code is not None else Credential.lg_code.is_(None)
    return list(
        session.scalars(
            select(Credential)
            .where(owner, Credential.login_name == login_name)
            .order_by(Credential.created_at.desc())
            .limit(200)
        )
    )


def credential_by_id(session: Session, token_id: str) -> Credential | None:
    """A credential by its public id (what owners and administrators see and revoke)."""
    return session.scalars(select(Credential).where(Credential.token_id == token_id)).first()


DEMO_PASSWORD = "demo-password-2026"
"""Password of every demo account — a demo only: never run ``jichitai demo`` on a real installation."""


def create_demo_users(engine: Engine, tenant: Tenant, accounts: Sequence[tuple[str, str, str]]) -> None:
    """Create demo accounts ``(login_name, display_name, role)`` with :data:`DEMO_PASSWORD` (each its own
    transaction, audited as the operator's command line)."""
    actor = Actor("cli", role="operator", purpose="administration")
    for login_name, display_name, role in accounts:
        with UnitOfWork(engine, tenant=tenant.lg_code) as uow:
            create_user(
                uow,
                tenant,
                login_name=login_name,
                display_name=display_name,
                password=DEMO_PASSWORD,
                roles=[role],
                actor=actor,
            )
