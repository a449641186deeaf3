"""The register's permissions, audit actions, purposes (事務) and role fragments, as enums.

Declared to the platform in ``module.py``; every route and service names these members, never a literal.
"""

from __future__ import annotations

import enum

from jichitai.platform.modules import PurposeSpec, RoleFragment, actions, described


class Permission(enum.StrEnum):
    """What the register's routes and screens require."""

    CERTIFICATE_ISSUE = "registry:certificate:issue"
    EVENT_RECORD = "registry:event:record"
    MYNUMBER_READ = "registry:mynumber:read"
    RESIDENT_READ = "registry:resident:read"
    SUPPORT_MANAGE = "registry:support:manage"
    SUPPORT_OVERRIDE = "registry:support:override"


PERMISSIONS = described(
    Permission,
    {
        Permission.CERTIFICATE_ISSUE: "証明書の交付",
        Permission.EVENT_RECORD: "異動の記録",
        Permission.MYNUMBER_READ: "個人番号の表示",
        Permission.RESIDENT_READ: "住民記録の照会・検索",
        Permission.SUPPORT_MANAGE: "DV等支援措置の登録・変更・解除",
        Permission.SUPPORT_OVERRIDE: "支援対象者の証明書交付・閲覧の制限の解除 (審査済み)",
    },
    my_number=[Permission.MYNUMBER_READ],
)


class Action(enum.StrEnum):
    """Audit actions the register writes: one entry per person read or written."""

    CERTIFICATE_ISSUE = "registry:certificate:issue"
    CERTIFICATE_PRINT = "registry:certificate:print"
    CERTIFICATE_READ = "registry:certificate:read"
    CERTIFICATE_REISSUE = "registry:certificate:reissue"
    CHANGES_READ = "registry:changes:read"
    EVENT_READ = "registry:event:read"
    EVENT_RECORD = "registry:event:record"
    POPULATION_GENERATE = "registry:population:generate"
    RESIDENT_READ = "registry:resident:read"
    RESIDENT_SEARCH = "registry:resident:search"
    SUPPORT_CONFIRM = "registry:support:confirm"
    SUPPORT_END = "registry:support:end"
    SUPPORT_EXTEND = "registry:support:extend"
    SUPPORT_READ = "registry:support:read"
    SUPPORT_START = "registry:support:start"


ACTIONS = actions(
    Action,
    {
        Action.CERTIFICATE_ISSUE: "証明書の交付請求の審査・交付 (拒否・解除を含む)",
        Action.CERTIFICATE_PRINT: "交付した証明書の印刷 (PDF)",
        Action.CERTIFICATE_READ: "交付記録の照会 (記載された住民ごと)",
        Action.CERTIFICATE_REISSUE: "証明書の再交付",
        Action.CHANGES_READ: "変更フィード (PULL API) の取得 (住民ごと)",
        Action.EVENT_READ: "異動記録の照会 (住民ごと)",
        Action.EVENT_RECORD: "異動の記録 (変更された住民ごと)",
        Action.POPULATION_GENERATE: "合成住民データの一括生成 (開発・デモ用)",
        Action.RESIDENT_READ: "住民記録の照会 (表示された住民ごと)",
        Action.RESIDENT_SEARCH: "住民の検索 (条件と件数)",
        Action.SUPPORT_CONFIRM: "DV等支援措置の決定 (仮支援措置から)",
        Action.SUPPORT_END: "DV等支援措置の終了",
        Action.SUPPORT_EXTEND: "DV等支援措置の延長",
        Action.SUPPORT_READ: "DV等支援措置の照会",
        Action.SUPPORT_START: "DV等支援措置 (仮支援措置) の開始",
    },
    personal_reads=[Action.RESIDENT_READ],
)


class Purpose(enum.StrEnum):
    """The 事務 of the register, and those of the departments that read it for their own 事務."""

    RESIDENT_REGISTRY = "resident_registry"
    CERTIFICATE = "certificate"
    RESIDENT_TAX = "resident_tax"
    HEALTH_INSURANCE = "health_insurance"
    WELFARE = "welfare"
    SUPPORT_MEASURE = "support_measure"


PURPOSES = (
    PurposeSpec(Purpose.RESIDENT_REGISTRY, "住民基本台帳事務", my_number=True, default=True),
    PurposeSpec(Purpose.CERTIFICATE, "証明書交付事務", my_number=True),
    PurposeSpec(Purpose.RESIDENT_TAX, "個人住民税事務", my_number=True),
    PurposeSpec(Purpose.HEALTH_INSURANCE, "国民健康保険事務", my_number=True),
    PurposeSpec(Purpose.WELFARE, "福祉事務 (児童手当等)", my_number=True),
    PurposeSpec(Purpose.SUPPORT_MEASURE, "DV等支援措置事務", my_number=False),
)

P = Permission
ROLES = (
    RoleFragment(
        "registry_clerk",
        "住民記録担当",
        (Purpose.RESIDENT_REGISTRY, Purpose.CERTIFICATE),
        (P.RESIDENT_READ, P.EVENT_RECORD, P.MYNUMBER_READ, P.CERTIFICATE_ISSUE),
    ),
    RoleFragment(
        "certificate_clerk", "証明発行担当", (Purpose.CERTIFICATE,), (P.RESIDENT_READ, P.CERTIFICATE_ISSUE)
    ),
    # The tax, insurance and welfare departments read the register for their own 事務. They receive 個人番号
    # through their own modules' linkage, so the standard roles do not show it in the register; a town
    # that decides otherwise grants registry:mynumber:read to the role (data, audited).
    RoleFragment("tax", "税務", (Purpose.RESIDENT_TAX,), (P.RESIDENT_READ,)),
    RoleFragment("insurance", "国保", (Purpose.HEALTH_INSURANCE,), (P.RESIDENT_READ,)),
    RoleFragment("welfare", "福祉", (Purpose.WELFARE,), (P.RESIDENT_READ,)),
    RoleFragment(
        "support_officer",
        "支援措置担当",
        (Purpose.SUPPORT_MEASURE, Purpose.RESIDENT_REGISTRY, Purpose.CERTIFICATE),
        (P.RESIDENT_READ, P.SUPPORT_MANAGE, P.SUPPORT_OVERRIDE, P.CERTIFICATE_ISSUE),
    ),
)
