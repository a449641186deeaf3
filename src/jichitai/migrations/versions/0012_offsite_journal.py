"""Off-site journal: the per-town hash-chained journal and each town's custodians (issue 5).

Both tables are municipal, so both get the tenant row-level-security policy on PostgreSQL.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the journal and custodian tables."""
    op.create_table(
        "offsite_custodian",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("shipped_seq", sa.Integer(), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_offsite_custodian_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "location", name=op.f("pk_offsite_custodian")),
    )
    op.create_table(
        "offsite_journal",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_offsite_journal_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "seq", name=op.f("pk_offsite_journal")),
    )
    enable_tenant_policy("offsite_custodian")
    enable_tenant_policy("offsite_journal")


def downgrade() -> None:
    """Drop them."""
    disable_tenant_policy("offsite_journal")
    disable_tenant_policy("offsite_custodian")
    op.drop_table("offsite_journal")
    op.drop_table("offsite_custodian")
