"""The module's permission and its share of the town administrator's role."""

from __future__ import annotations

import enum

from jichitai.platform.modules import RoleFragment, described


class Permission(enum.StrEnum):
    """What the module's town routes require."""

    USAGE_READ = "costshare:usage:read"


PERMISSIONS = described(
    Permission,
    {Permission.USAGE_READ: "自団体の利用量と費用負担額の閲覧"},
)

# The town's administrators (purpose システム管理, declared by the platform) see their own town's figures.
ROLES = (RoleFragment("admin", "管理者", ("administration",), (Permission.USAGE_READ,)),)
