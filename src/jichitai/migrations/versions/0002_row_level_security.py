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

from alembic import op

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
POLICY = (
    "lg_code = current_setting('jichitai.tenant', true) "
    "OR coalesce(current_setting('jichitai.tenant', true), '') = ''"
)


def upgrade() -> None:
    """Enable and force RLS with one tenant policy per table."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})")


def downgrade() -> None:
    """Drop the policies and disable RLS."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
