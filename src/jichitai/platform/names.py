"""The platform's own permissions, audit actions, purposes and roles, as enums (never repeated literals).

Modules declare theirs the same way in their own ``permissions.py``; the loader merges them all into the
catalogue (:mod:`jichitai.platform.modules`), and ``docs/api.md`` documents each one (a test checks it).
"""

from __future__ import annotations

import enum

from jichitai.platform.modules import PurposeSpec, RoleFragment, actions, described


class Permission(enum.StrEnum):
    """What the platform's own routes require."""

    ADMIN_USER_MANAGE = "admin:user:manage"
    AUDIT_LOG_READ = "audit:log:read"


PERMISSIONS = described(
    Permission,
    {
        Permission.ADMIN_USER_MANAGE: "職員アカウント・ロールの管理",
        Permission.AUDIT_LOG_READ: "監査ログの閲覧",
    },
)


class Action(enum.StrEnum):
    """Audit actions the platform writes (sign-in, accounts, roles, audit reads, tenants)."""

    ADMIN_GRANT_APPROVE = "admin:grant:approve"
    ADMIN_GRANT_REJECT = "admin:grant:reject"
    ADMIN_GRANT_REQUEST = "admin:grant:request"
    ADMIN_ROLE_UPDATE = "admin:role:update"
    ADMIN_USER_CREATE = "admin:user:create"
    ADMIN_USER_DISABLE = "admin:user:disable"
    ADMIN_USER_ENABLE = "admin:user:enable"
    ADMIN_USER_PASSWORD = "admin:user:password"
    ADMIN_USER_ROLES = "admin:user:roles"
    AUDIT_LOG_READ = "audit:log:read"
    AUTH_DENIED = "auth:denied"
    AUTH_LOGIN = "auth:login"
    AUTH_LOGOUT = "auth:logout"
    AUTH_TOKEN_REVOKE = "auth:token:revoke"
    PLATFORM_MUNICIPALITY_CREATE = "platform:municipality:create"
    PLATFORM_SETTING_UPDATE = "platform:setting:update"


ACTIONS = actions(
    Action,
    {
        Action.ADMIN_GRANT_APPROVE: "権限付与の申請の承認 (申請者以外の管理者による。承認と同時に適用)",
        Action.ADMIN_GRANT_REJECT: "権限付与の申請の却下・取下げ",
        Action.ADMIN_GRANT_REQUEST: (
            "権限付与の申請 (住民の情報を扱う権限・職員管理の権限を与える変更。別の管理者の承認待ち)"
        ),
        Action.ADMIN_ROLE_UPDATE: "ロールの権限・利用目的の変更 (変更前と変更後)",
        Action.ADMIN_USER_CREATE: "職員アカウントの登録",
        Action.ADMIN_USER_DISABLE: "職員アカウントの停止 (発行済みの資格情報も失効)",
        Action.ADMIN_USER_ENABLE: "職員アカウントの再開",
        Action.ADMIN_USER_PASSWORD: "パスワードの再設定",
        Action.ADMIN_USER_ROLES: "職員へのロールの付与・取消し (変更前と変更後)",
        Action.AUDIT_LOG_READ: "監査ログの閲覧・検証",
        Action.AUTH_DENIED: "拒否された要求 (未認証・権限なし・利用目的外・他団体)",
        Action.AUTH_LOGIN: "ログイン (成功・失敗・ロック)",
        Action.AUTH_LOGOUT: "ログアウト",
        Action.AUTH_TOKEN_REVOKE: "API トークンの失効",
        Action.PLATFORM_MUNICIPALITY_CREATE: "市区町村 (テナント) の登録",
        Action.PLATFORM_SETTING_UPDATE: "市区町村の設定値の登録 (適用開始日つき)",
    },
)


class Purpose(enum.StrEnum):
    """The platform's own 事務: administering the town's accounts, and auditing."""

    ADMINISTRATION = "administration"
    AUDIT = "audit"


PURPOSES = (
    PurposeSpec(Purpose.AUDIT, "監査", my_number=False),
    PurposeSpec(Purpose.ADMINISTRATION, "システム管理", my_number=False),
)

ROLES = (
    RoleFragment("admin", "管理者", (Purpose.ADMINISTRATION,), (Permission.ADMIN_USER_MANAGE,)),
    RoleFragment("auditor", "監査", (Purpose.AUDIT,), (Permission.AUDIT_LOG_READ,)),
)
