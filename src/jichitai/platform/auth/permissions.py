"""The permission registry, the purposes (事務) and the standard roles: pure data and pure decisions.

Access is decided from three things a request carries: who (a staff user of one town), the roles that user
holds there, and the purpose (事務) the request is made for. A role lists the purposes it may be used for and
the permissions it grants; a request gets the permissions of those of the user's roles that allow its
purpose, and nothing else. So a clerk who is both 税務 and 住民記録 cannot search residents "for tax" with
the registry role's rights.

個人番号 is shown only when both hold: the request's purpose is a 個人番号利用事務
(番号法 9条, 住基法 7条8号の2) and one of the roles used grants ``registry:mynumber:read``. Each town
stores its own copy of the roles (seeded from :data:`STANDARD_ROLES`) and may change which permissions and
purposes a role has; that is data, audited as a permission change, never code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PERMISSIONS: dict[str, str] = {
    "registry:resident:read": "住民記録の照会・検索",
    "registry:event:record": "異動の記録",
    "registry:mynumber:read": "個人番号の表示",
    "registry:certificate:issue": "証明書の交付",
    "registry:support:manage": "DV等支援措置の登録・変更・解除",
    "registry:support:override": "支援対象者の証明書交付・閲覧の制限の解除 (審査済み)",
    "audit:log:read": "監査ログの閲覧",
    "admin:user:manage": "職員アカウント・ロールの管理",
}
"""Every permission the platform knows, with what it allows (shown to administrators)."""


@dataclass(frozen=True)
class Purpose:
    """A 事務 a request is made for; ``my_number`` marks a 個人番号利用事務."""

    code: str
    name: str
    my_number: bool


PURPOSES: dict[str, Purpose] = {
    p.code: p
    for p in (
        Purpose("resident_registry", "住民基本台帳事務", my_number=True),
        Purpose("certificate", "証明書交付事務", my_number=True),
        Purpose("resident_tax", "個人住民税事務", my_number=True),
        Purpose("health_insurance", "国民健康保険事務", my_number=True),
        Purpose("welfare", "福祉事務 (児童手当等)", my_number=True),
        Purpose("support_measure", "DV等支援措置事務", my_number=False),
        Purpose("audit", "監査", my_number=False),
        Purpose("administration", "システム管理", my_number=False),
    )
}
"""The purposes (事務) a request may declare."""


@dataclass(frozen=True)
class RoleDefinition:
    """A role as stored per town: its name, the purposes it may act for and the permissions it grants."""

    code: str
    name: str
    purposes: frozenset[str]
    permissions: frozenset[str]

    def purposes_in_order(self) -> list[str]:
        """The role's purposes in registry order (the first is its main 事務)."""
        return [code for code in PURPOSES if code in self.purposes]


def _role(code: str, name: str, purposes: Iterable[str], permissions: Iterable[str]) -> RoleDefinition:
    return RoleDefinition(code, name, frozenset(purposes), frozenset(permissions))


STANDARD_ROLES: tuple[RoleDefinition, ...] = (
    _role(
        "registry_clerk",
        "住民記録担当",
        ["resident_registry", "certificate"],
        [
            "registry:resident:read",
            "registry:event:record",
            "registry:mynumber:read",
            "registry:certificate:issue",
        ],
    ),
    _role(
        "certificate_clerk",
        "証明発行担当",
        ["certificate"],
        ["registry:resident:read", "registry:certificate:issue"],
    ),
    # The tax, insurance and welfare departments read the register for their own 事務. They receive 個人番号
    # through their own modules' linkage, so the standard roles do not show it in the register; a town
    # that decides otherwise grants registry:mynumber:read to the role (data, audited).
    _role("tax", "税務", ["resident_tax"], ["registry:resident:read"]),
    _role("insurance", "国保", ["health_insurance"], ["registry:resident:read"]),
    _role("welfare", "福祉", ["welfare"], ["registry:resident:read"]),
    _role(
        "support_officer",
        "支援措置担当",
        ["support_measure", "resident_registry", "certificate"],
        [
            "registry:resident:read",
            "registry:support:manage",
            "registry:support:override",
            "registry:certificate:issue",
        ],
    ),
    _role("admin", "管理者", ["administration"], ["admin:user:manage"]),
    _role("auditor", "監査", ["audit"], ["audit:log:read"]),
)
"""The roles every new town starts with."""


@dataclass(frozen=True)
class Access:
    """What one request may do: the roles used for its purpose and the permissions they grant."""

    purpose: str
    roles: tuple[str, ...]
    permissions: frozenset[str]

    @property
    def my_number(self) -> bool:
        """True when 個人番号 may be shown: a 個人番号利用事務 and a role that grants it."""
        return PURPOSES[self.purpose].my_number and "registry:mynumber:read" in self.permissions

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
    """The purposes any of the roles may act for, in registry order."""
    union = set().union(*(r.purposes for r in roles))
    return [code for code in PURPOSES if code in union]


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
    if purpose not in PURPOSES:
        raise AccessRefused("unknown_purpose", f"未知の利用目的 (事務) です: {purpose}")
    used = [r for r in held if purpose in r.purposes]
    if not used:
        raise AccessRefused(
            "purpose_not_allowed",
            f"割り当てられたロールでは「{PURPOSES[purpose].name}」の利用目的で操作できません。",
        )
    permissions = frozenset().union(*(r.permissions for r in used))
    return Access(purpose, tuple(sorted(r.code for r in used)), permissions)


def validate_role(definition: RoleDefinition) -> list[str]:
    """Problems with a role a town defines: unknown permissions or purposes (empty when valid)."""
    problems = [f"未知の権限: {p}" for p in sorted(definition.permissions - set(PERMISSIONS))]
    problems += [f"未知の利用目的: {p}" for p in sorted(definition.purposes - set(PURPOSES))]
    return problems
