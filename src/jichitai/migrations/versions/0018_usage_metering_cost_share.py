"""Usage metering and the cost split: per-town monthly figures, the monthly cost and the agreed formula.

``platform_usage`` holds one town's figures, so it gets the tenant row-level-security policy on PostgreSQL;
it describes this installation's operation and is not part of the town's off-site copy (``not_copied``).
``costshare_cost`` and ``costshare_formula`` are installation-wide (no ``lg_code``).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the three tables, the town one with its tenant policy."""
    op.create_table(
        "platform_usage",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_platform_usage_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "month", "metric", name=op.f("pk_platform_usage")),
    )
    enable_tenant_policy("platform_usage")
    op.create_table(
        "costshare_cost",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_costshare_cost")),
    )
    op.create_table(
        "costshare_formula",
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("equal_pct", sa.Integer(), nullable=False),
        sa.Column("population_pct", sa.Integer(), nullable=False),
        sa.Column("usage_pct", sa.Integer(), nullable=False),
        sa.Column("usage_weights", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("effective_from", name=op.f("pk_costshare_formula")),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("costshare_formula")
    op.drop_table("costshare_cost")
    disable_tenant_policy("platform_usage")
    op.drop_table("platform_usage")
