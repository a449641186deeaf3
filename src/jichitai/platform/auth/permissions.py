"""The permission catalogue, the purposes (事務) and the standard roles: pure data and pure decisions.

Access is decided from three things a request carries: who (a staff user of one town), the roles that user
holds there, and the purpose (事務) the request is made for. A role lists the purposes it may be used for and
the permissions it grants; a request gets the permissions of those of the user's roles that allow its
purpose, and nothing else. So a clerk who holds both a tax role and another module's role cannot use the
other role's rights "for tax".

個人番号 is shown only when both hold: the request's purpose is a 個人番号利用事務
(番号法 9条, 住基法 7条8号の2) and one of the roles used grants a permission declared with ``my_number``.
Permissions, purposes and the standard roles come from the modules' declarations (:func:`catalog`). Each town
stores its own copy of the roles (seeded from :func:`standard_roles`) and may change which permissions and
purposes a role has; that is data, audited as a permission change, never code.

Some permissions are *privileged* (:func:`privileged_permissions`): those that open residents' records, and
managing staff (whoever holds it approves grants). Granting one, to a member or by widening a role, takes two
administrators (``platform/auth/approvals.py``); no administrator changes its own roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jichitai.platform.modules import PermissionSpec, PurposeSpec, catalog
from jichitai.platform.names import Permission


def purposes() -> dict[str, PurposeSpec]:
    """The purposes (事務) a request may declare, from the loaded modules, in declaration order."""
    return catalog().purposes


def permissions() -> dict[str, PermissionSpec]:
    """Every permission the loaded modules declare, with what it allows (shown to administrators)."""
    return catalog().permissions


@dataclass(frozen=True)
class RoleDefinition:
    """A role as stored per town: its name, the purposes it may act for and the permissions it grants."""

    code: str
    name: str
    purposes: frozenset[str]
    permissions: frozenset[str]

    def purposes_in_order(self) -> list[str]:
        """The role's purposes in declaration order (the first is its main 事務)."""
        return [code for code in purposes() if code in self.purposes]


def standard_roles() -> tuple[RoleDefinition, ...]:
    """The roles every new town starts with, merged from the modules' role fragments."""
    return tuple(RoleDefinition(r.code, r.name, r.purposes, r.permissions) for r in catalog().roles.values())


@dataclass(frozen=True)
class Access:
    """What one request may do: the roles used for its purpose and the permissions they grant."""

    purpose: str
    roles: tuple[str, ...]
    permissions: frozenset[str]

    @property
    def my_number(self) -> bool:
        """True when 個人番号 may be shown: a 個人番号利用事務 and a role that grants it."""
        return purposes()[self.purpose].my_number and bool(
            self.permissions & catalog().my_number_permissions()
        )

    def allows(self, permission: str) -> bool:
        """Whether the request holds ``permission``."""
        return permission in self.permissions


class AccessRefused(Exception):
    """Why a request gets no access; ``code`` is the stable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def allowed_purposes(roles: Iterable[RoleDefinition]) -> list[str]:
    """The purposes any of the roles may act for, in catalogue order."""
    union = set().union(*(r.purposes for r in roles))
    return [code for code in purposes() if code in union]


def resolve_access(roles: Iterable[RoleDefinition], purpose: str | None) -> Access:
    """Decide the access of a request for ``purpose`` by a user holding ``roles``.

    Without a declared purpose, the user's only purpose is taken; a user with several must say which.
    """
    held = list(roles)
    if not held:
        raise AccessRefused("no_role", "この職員にはロールが割り当てられていません。")
    if purpose is None:
        choices = allowed_purposes(held)
        if len(choices) != 1:
            raise AccessRefused(
                "purpose_required",
                "利用目的 (事務) を X-Jichitai-Purpose で指定してください: " + ", ".join(choices),
            )
        purpose = choices[0]
    known = purposes()
    if purpose not in known:
        raise AccessRefused("unknown_purpose", f"未知の利用目的 (事務) です: {purpose}")
    used = [r for r in held if purpose in r.purposes]
    if not used:
        raise AccessRefused(
            "purpose_not_allowed",
            f"割り当てられたロールでは「{known[purpose].name}」の利用目的で操作できません。",
        )
    permissions = frozenset().union(*(r.permissions for r in used))
    return Access(purpose, tuple(sorted(r.code for r in used)), permissions)


def resident_reading_permissions() -> frozenset[str]:
    """The permissions that open residents' records, found from the declarations alone.

    Every permission of a module that declares personal-read audit actions (it keeps residents' records, and
    each of its rights shows some of them: a search, a certificate, an event, a support measure), and every
    permission that shows 個人番号. A new module that records personal reads is covered without a change here.
    """
    loaded = catalog()
    keepers = [m for m in loaded.modules if any(a.personal_read for a in m.audit_actions)]
    return frozenset(p.code for m in keepers for p in m.permissions) | loaded.my_number_permissions()


def privileged_permissions() -> frozenset[str]:
    """Permissions only two administrators together may grant: reading residents, and managing staff (an
    administrator who could make another administrator alone could approve its own requests through it)."""
    return resident_reading_permissions() | {str(Permission.ADMIN_USER_MANAGE)}


def widening(before: RoleDefinition, after: RoleDefinition) -> frozenset[str]:
    """The permissions a change of a role's definition gives for some purpose they were not given for:
    new permissions, and every permission of the role when it gains a purpose."""
    if after.purposes - before.purposes:
        return after.permissions
    return after.permissions - before.permissions


def validate_role(definition: RoleDefinition) -> list[str]:
    """Problems with a role a town defines: unknown permissions or purposes (empty when valid)."""
    problems = [f"未知の権限: {p}" for p in sorted(definition.permissions - set(permissions()))]
    problems += [f"未知の利用目的: {p}" for p in sorted(definition.purposes - set(purposes()))]
    return problems
