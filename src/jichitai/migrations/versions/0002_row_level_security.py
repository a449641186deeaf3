"""Row-level security on every municipal table (PostgreSQL only).

Defence in depth for DESIGN §3.1: application code already filters every query by ``lg_code``; these
policies make the database refuse other tenants' rows too whenever a transaction has declared its tenant
with ``set_config('jichitai.tenant', <lg_code>, true)`` (done by ``platform.tenancy.get_tenant``).
Transactions that declare no tenant (migrations, platform-wide listings, bulk loads) see all rows.
``FORCE`` applies the policies to the table owner as well; superusers still bypass them, so production
connects as an ordinary role.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "municipality_setting",
    "tenant_sequence",
    "registry_household",
    "registry_person",
    "registry_event",
    "registry_event_person",
    "registry_person_record",
)


def upgrade() -> None:
    """Enable and force RLS with one tenant policy per table."""
    for table in TABLES:
        enable_tenant_policy(table)


def downgrade() -> None:
    """Drop the policies and disable RLS."""
    for table in TABLES:
        disable_tenant_policy(table)
