"""Ed25519-signed heads of the audit chains (platform/audit_heads.py), under row-level security.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:16:27.089543
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import enable_tenant_policy

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "audit_chain_head",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_audit_chain_head_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "seq", name=op.f("pk_audit_chain_head")),
    )
    enable_tenant_policy("audit_chain_head")


def downgrade() -> None:
    """Revert."""
    op.drop_table("audit_chain_head")
