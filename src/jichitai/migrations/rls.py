"""Row-level security helpers shared by the revisions: every municipal table gets the same tenant policy.

The policy lets a transaction see and write only the rows of the tenant it declared with
``set_config('jichitai.tenant', <lg_code>, true)`` (``platform.tenancy.get_tenant`` / ``declare``), or every
town's when it declared ``'*'`` (``declare_all_towns``: jobs over every town, the operator's listings). A
transaction that declared nothing sees no town row: it fails closed (migration 0016; before it, such a
transaction saw everything). PostgreSQL only; a no-op on SQLite. Superusers and roles with BYPASSRLS are not
bound at all: run the server as an ordinary role (docs/operations.md).
"""

from __future__ import annotations

from alembic import op

POLICY = (
    "lg_code = current_setting('jichitai.tenant', true) OR current_setting('jichitai.tenant', true) = '*'"
)
"""Fail closed: the declared town's rows, or every town's for an explicit ``'*'``; nothing otherwise."""

OPEN_POLICY = (
    "lg_code = current_setting('jichitai.tenant', true) "
    "OR coalesce(current_setting('jichitai.tenant', true), '') = ''"
)
"""The policy before migration 0016: a transaction that declared no tenant saw every town."""


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def enable_tenant_policy(table: str) -> None:
    """Enable and force RLS on ``table`` with the tenant policy (also binding the table owner)."""
    if not _postgresql():
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({POLICY}) WITH CHECK ({POLICY})")


def set_tenant_policy(table: str, policy: str) -> None:
    """Replace the expression of ``table``'s tenant policy (both the row filter and the write check)."""
    if not _postgresql():
        return
    op.execute(f"ALTER POLICY tenant_isolation ON {table} USING ({policy}) WITH CHECK ({policy})")


def policy_tables() -> list[str]:
    """The tables that have the tenant policy (PostgreSQL; none on SQLite)."""
    if not _postgresql():
        return []
    rows = op.get_bind().exec_driver_sql(
        "SELECT c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE p.polname = 'tenant_isolation' ORDER BY 1"
    )
    return [name for (name,) in rows]


def disable_tenant_policy(table: str) -> None:
    """Undo :func:`enable_tenant_policy`."""
    if not _postgresql():
        return
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
