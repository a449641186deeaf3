"""Row-level security fails closed: a transaction that declared no tenant sees and writes no town row.

Until now the policy let an undeclared transaction see every town, so a code path that forgot to declare
its town leaked, silently, on any role that row-level security binds. Now such a path sees nothing, and
deliberate installation-wide work declares ``'*'`` (``platform.tenancy.declare_all_towns``).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

from jichitai.migrations.rls import OPEN_POLICY, POLICY, policy_tables, set_tenant_policy

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Every tenant policy: the declared town, or '*'."""
    for table in policy_tables():
        set_tenant_policy(table, POLICY)


def downgrade() -> None:
    """Back to the open policy."""
    for table in policy_tables():
        set_tenant_policy(table, OPEN_POLICY)
