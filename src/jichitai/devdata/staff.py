"""Staff accounts in bulk for demos and benchmarks: one shared password, hashed once.

:func:`jichitai.platform.auth.services.create_user` hashes each new password with argon2id at the product's
parameters, which by design costs tens of milliseconds of a core; a thousand accounts through it (or through
the API) take minutes of hashing alone. Here the one shared password is hashed once and every account gets
that hash. Each account is still checked and recorded as ``create_user`` would: login name, password policy
(with the account's login name and the town's name), known roles, no existing account of that name, and one
``admin:user:create`` entry per account in the town's audit chain, committed with the accounts (one
transaction per town). Sign-in is the product's own, so verifying the password costs what it costs for any
account.

Never for a real installation: every account shares one password.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.auth.models import RoleGrant, StaffUser
from jichitai.platform.auth.passwords import check_policy, hash_password
from jichitai.platform.auth.services import check_login_name, check_roles, names_of_town
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import Conflict, InvalidInput
from jichitai.platform.names import Action
from jichitai.platform.tenancy import Tenant

__all__ = ["BULK_ACTOR", "create_bulk_staff", "login_names"]

BULK_ACTOR = Actor("cli", role="operator", purpose="administration")
"""Who the audit chain names as registering the accounts (as for ``jichitai demo``'s accounts)."""


def login_names(prefix: str, per_town: int) -> list[str]:
    """The login names :func:`create_bulk_staff` gives in each town: ``<prefix>-001`` …, 3 digits or more."""
    width = max(3, len(str(per_town)))
    return [f"{prefix}-{i:0{width}d}" for i in range(1, per_town + 1)]


def create_bulk_staff(
    engine: Engine,
    towns: Sequence[Tenant],
    per_town: int,
    password: str,
    roles: Sequence[str],
    *,
    prefix: str = "clerk",
    display_name: str = "ベンチ　職員",
    actor: Actor = BULK_ACTOR,
) -> dict[str, list[str]]:
    """Register ``per_town`` staff members holding ``roles`` in each town, all with ``password``.

    Returns the login names created, by town code. Each town is one transaction: its accounts, their role
    grants and their audit entries, or nothing (a refusal raises before anything of that town is written;
    towns done before it stay done).
    """
    if per_town < 1:
        raise InvalidInput("invalid_count", "1以上の人数を指定してください。", "per_town")
    names = [check_login_name(name) for name in login_names(prefix, per_town)]
    granted = sorted(set(roles))
    password_hash = hash_password(password)  # once: the cost argon2 is meant to have, paid one time
    created: dict[str, list[str]] = {}
    for tenant in towns:
        with UnitOfWork(engine, tenant=tenant.lg_code) as uow:
            session = uow.session
            town_words = names_of_town(session, tenant)
            for name in names:
                check_policy(password, name, town=town_words)
            check_roles(session, tenant, granted)
            taken = session.scalars(
                select(StaffUser.login_name).where(
                    StaffUser.lg_code == tenant.lg_code, StaffUser.login_name.in_(names)
                )
            ).first()
            if taken is not None:
                raise Conflict(
                    "user_exists", f"このログイン名の職員は既に登録されています: {taken}", "login_name"
                )
            session.add_all(
                StaffUser(
                    lg_code=tenant.lg_code,
                    login_name=name,
                    display_name=display_name,
                    password_hash=password_hash,
                    failed_logins=0,
                )
                for name in names
            )
            session.flush()
            session.add_all(
                RoleGrant(lg_code=tenant.lg_code, login_name=name, role_code=code, granted_by=actor.name)
                for name in names
                for code in granted
            )
            append_entries(
                session,
                tenant,
                [
                    actor.entry(Action.ADMIN_USER_CREATE, details={"login_name": name, "roles": granted})
                    for name in names
                ],
            )
            uow.commit()
        created[tenant.lg_code] = names
    return created
