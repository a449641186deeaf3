"""The platform's own declaration: its tables, routes, permissions, purposes, roles and settings.

The platform core is declared exactly like a module, so the catalogue is the one list of what exists and the
off-site copy's set of town tables includes the platform's (the town itself, its settings, its staff, roles,
grants and grant requests, its audit chain). Installation-wide tables (operators, credentials, eras, custody
grants) have no ``lg_code`` in their key and are never part of a town's copy; sessions and tokens are not
carried over.
"""

from __future__ import annotations

from sqlalchemy import Table

from jichitai.platform import (
    audit,
    audit_heads,
    calendar,
    feeds,
    jobs,
    metering,
    names,
    outbox,
    periodic,
    tenancy,
)
from jichitai.platform.auth import approvals
from jichitai.platform.auth import models as auth_models
from jichitai.platform.cli_jobs import jobs_app
from jichitai.platform.modules import ModuleDeclaration
from jichitai.platform.offsite import custody, drills, journal, shipper
from jichitai.platform.web import (
    audit_api,
    auth_api,
    custody_api,
    feeds_api,
    health,
    home,
    municipalities,
    offsite_api,
    staff_api,
    views,
)


def _tables(*models: type) -> tuple[Table, ...]:
    tables = tuple(model.__table__ for model in models)  # type: ignore[attr-defined]
    assert all(isinstance(t, Table) for t in tables)
    return tables


PLATFORM = ModuleDeclaration(
    name="platform",
    title="共通基盤",
    tables=_tables(
        tenancy.Municipality,
        tenancy.MunicipalitySetting,
        tenancy.TenantSequence,
        calendar.EraRow,
        audit.AuditEntry,
        audit_heads.AuditChainHead,
        auth_models.StaffUser,
        auth_models.Role,
        auth_models.RoleGrant,
        approvals.GrantRequest,
        auth_models.OperatorAccount,
        auth_models.Credential,
        journal.JournalEntry,
        shipper.OffsiteCustodian,
        drills.OffsiteDrill,
        custody.CustodyGrant,
        jobs.PlatformJob,
        outbox.OutboxMessage,
        feeds.FeedCursor,
        metering.PlatformUsage,
    ),
    # Shipping and drill state describe this installation's copies, not the town; the journal is the copy's
    # own medium; counters travel in every journal entry and snapshot manifest. Usage figures describe this
    # installation's operation (rewritten every minute), not the town's records.
    not_copied=("offsite_journal", "offsite_custodian", "offsite_drill", "tenant_sequence", "platform_usage"),
    routers=(
        health.router,
        municipalities.router,
        auth_api.router,
        staff_api.router,
        offsite_api.router,
        custody_api.router,
        audit_api.router,
        feeds_api.router,
        views.router,
        home.router,
    ),
    permissions=names.PERMISSIONS,
    audit_actions=names.ACTIONS,
    purposes=names.PURPOSES,
    roles=names.ROLES,
    settings=tenancy.PLATFORM_SETTINGS,
    cli=(("jobs", jobs_app),),
    feeds=(outbox.OUTBOX_FEED,),
    jobs=(*periodic.JOBS, *metering.JOBS),
    meters=metering.METERS,
)
