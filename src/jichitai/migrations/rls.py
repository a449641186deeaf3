"""Row-level security helpers shared by the revisions: every municipal table gets the same tenant policy.

The policy lets a transaction see only the rows of the tenant it declared with
``set_config('jichitai.tenant', <lg_code>, true)`` (``platform.tenancy.get_tenant``); transactions that
declare none (migrations, platform-wide listings, bulk loads) see all rows. PostgreSQL only; a no-op on
SQLite.
"""

from __future__ import annotations

from alembic import op

POLICY = (
    "lg_code = current_setting('jichitai.tenant', true) "
    "OR coalesce(current_setting('jichitai.tenant', true), '') = ''"
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def enable_tenant_policy(table: str) -> None:
    """Enable and force RLS on ``table`` with the tenant policy (also binding the table owner)."""
    if not _postgresql():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})")


def disable_tenant_policy(table: str) -> None:
    """Undo :func:`enable_tenant_policy`."""
    if not _postgresql():
        return
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
