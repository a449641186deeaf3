"""The register's declaration: everything 住民記録 brings to the platform, in one place (DESIGN §2)."""

from __future__ import annotations

from jichitai.modules.registry import (
    api,
    certificate_api,
    cli,
    demo,
    feed,
    feed_api,
    models,
    permissions,
    support_api,
    verification,
    views,
)
from jichitai.platform.modules import DemoSpec, ModuleDeclaration, NavEntry, SettingSpec

FEE = "円。手数料条例で定める1通の額 (0 以上)"


def _fee(key: str, certificate: str, default: int | None = None) -> SettingSpec:
    return SettingSpec(
        key, f"{certificate} 1通の手数料 ({FEE})", kind=int, minimum=0, maximum=100_000, default=default
    )


MODULE = ModuleDeclaration(
    name="registry",
    title="住民記録",
    tables=tuple(
        model.__table__  # type: ignore[misc]
        for model in (
            models.Household,
            models.Person,
            models.Event,
            models.EventPerson,
            models.PersonRecord,
            models.SupportMeasure,
            models.CertificateIssue,
        )
    ),
    routers=(
        api.router,
        support_api.router,
        certificate_api.router,
        verification.router,
        views.router,
        feed_api.router,
    ),
    templates="jichitai.modules.registry",
    permissions=permissions.PERMISSIONS,
    audit_actions=permissions.ACTIONS,
    purposes=permissions.PURPOSES,
    roles=permissions.ROLES,
    settings=(
        _fee("fee_juminhyo", "住民票の写し"),
        _fee("fee_kisai_jiko", "住民票記載事項証明書"),
        _fee("fee_joshuhyo", "除票の写し"),
        # The 転出証明書 is free in practice (手数料条例); a town that charges sets it.
        _fee("fee_tenshutsu", "転出証明書", default=0),
    ),
    navigation=(
        NavEntry("住民検索", "search", permissions.Permission.RESIDENT_READ, accesskey="k"),
        NavEntry("転入", "events/domestic_move_in/new", permissions.Permission.EVENT_RECORD, accesskey="n"),
    ),
    cli=(("registry", cli.app),),
    demo=DemoSpec(demo.seed_demo, order=10),
    feeds=(feed.REGISTRY_FEED,),
)
