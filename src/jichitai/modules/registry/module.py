"""The register's declaration: everything 住民記録 brings to the platform, in one place (DESIGN §2)."""

from __future__ import annotations

from jichitai.modules.registry import certificates, cli, demo, legacy, meters, permissions, records, support
from jichitai.modules.registry.certificates import api as certificate_api
from jichitai.modules.registry.certificates import verification
from jichitai.modules.registry.certificates import views as certificate_views
from jichitai.modules.registry.records import api as records_api
from jichitai.modules.registry.records import event_views, feed, feed_api
from jichitai.modules.registry.records import views as records_views
from jichitai.modules.registry.support import api as support_api
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
            records.models.Household,
            records.models.Person,
            records.models.Event,
            records.models.EventPerson,
            records.models.PersonRecord,
            support.models.SupportMeasure,
            certificates.models.CertificateIssue,
        )
    ),
    # Every route lives under paths.API or paths.UI (…/registry/…), except the public QR check
    # /verify/{code}, whose address is printed on certificates already in residents' hands, and the 308s of
    # the addresses before the move (legacy).
    routers=(
        records_api.router,
        feed_api.router,
        support_api.router,
        certificate_api.router,
        records_views.router,
        event_views.router,
        certificate_views.router,
        verification.router,
        legacy.router,
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
        NavEntry("住民記録", "registry/", permissions.Permission.RESIDENT_READ),
        NavEntry("住民検索", "registry/search", permissions.Permission.RESIDENT_READ, accesskey="k"),
        NavEntry(
            "転入", "registry/events/domestic_move_in/new", permissions.Permission.EVENT_RECORD, accesskey="n"
        ),
    ),
    cli=(("registry", cli.app),),
    demo=DemoSpec(demo.seed_demo, order=10),
    feeds=(feed.REGISTRY_FEED,),
    meters=meters.METERS,
)
