"""An index on the audit chain's recording time, for the auditors' time windows (platform/audit_queries.py).

``since``/``until`` listings and the mass-reader count range over (lg_code, recorded_at) instead of scanning a
town's whole chain: over 200,000 entries a 10-minute window's count took 388 ms on SQLite and 45 ms on
PostgreSQL without it, 9 ms and 14 ms with it. No new table, so no row-level-security policy to add.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_index("ix_audit_entry_recorded_at", "audit_entry", ["lg_code", "recorded_at"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_audit_entry_recorded_at", table_name="audit_entry")
