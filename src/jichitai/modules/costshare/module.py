"""The declaration of 費用負担: the monthly cost split among the towns, and each town's own figures."""

from __future__ import annotations

from jichitai.modules.costshare import api, models, permissions, views
from jichitai.platform.modules import ModuleDeclaration, NavEntry

MODULE = ModuleDeclaration(
    name="costshare",
    title="費用負担",
    # Installation-wide rows (no lg_code): the joint operation's cost and agreed formula, in no town's copy.
    tables=tuple(model.__table__ for model in (models.MonthlyCost, models.SplitFormula)),  # type: ignore[misc]
    routers=(*api.routers, views.router),
    templates="jichitai.modules.costshare",
    permissions=permissions.PERMISSIONS,
    roles=permissions.ROLES,
    navigation=(NavEntry("利用量と費用負担", "costshare/", permissions.Permission.USAGE_READ),),
)
