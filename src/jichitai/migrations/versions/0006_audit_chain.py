"""The per-municipality audit hash chain (platform/audit.py), with the row-level security of 0002.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 22:47:16.064777
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import enable_tenant_policy

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "audit_entry",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=60), nullable=True),
        sa.Column("purpose", sa.String(length=60), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_audit_entry_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "seq", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_actor", ["lg_code", "actor", "seq"], unique=False)
        batch_op.create_index("ix_audit_entry_subject", ["lg_code", "subject", "seq"], unique=False)
    enable_tenant_policy("audit_entry")


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_subject")
        batch_op.drop_index("ix_audit_entry_actor")

    op.drop_table("audit_entry")
