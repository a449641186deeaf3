"""Custody grants (this installation holding other towns' copies), the record of restore drills, and the
shipping lease on each custodian.

``custody_grant`` is installation-level (the depositor is not a tenant here); ``offsite_drill`` is
municipal, so it gets the tenant row-level-security policy on PostgreSQL.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the custody grant and drill tables."""
    op.create_table(
        "custody_grant",
        sa.Column("depositor", sa.String(length=6), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("depositor", name=op.f("pk_custody_grant")),
    )
    op.create_table(
        "offsite_drill",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("drill_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("restored_seq", sa.Integer(), nullable=True),
        sa.Column("rpo_entries", sa.Integer(), nullable=True),
        sa.Column("rpo_seconds", sa.Float(), nullable=True),
        sa.Column("rto_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_offsite_drill_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "drill_no", name=op.f("pk_offsite_drill")),
    )
    enable_tenant_policy("offsite_drill")
    op.add_column("offsite_custodian", sa.Column("lease_owner", sa.String(length=40), nullable=True))
    op.add_column("offsite_custodian", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("offsite_custodian") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
    disable_tenant_policy("offsite_drill")
    op.drop_table("offsite_drill")
    op.drop_table("custody_grant")
