"""The job scheduler's leases, the transactional outbox and the feed consumers' cursors.

``platform_job`` is installation-wide (a job and its lease span every town). ``platform_outbox`` and
``platform_feed_cursor`` are municipal, so they get the tenant row-level-security policy on PostgreSQL;
both are part of the town's off-site copy (undelivered messages survive a restore, and a restored town does
not deliver again what its consumers had taken in).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "platform_job",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_platform_job")),
    )
    op.create_table(
        "platform_outbox",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("message_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_platform_outbox_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "message_no", name=op.f("pk_platform_outbox")),
    )
    op.create_table(
        "platform_feed_cursor",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_platform_feed_cursor_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "consumer", name=op.f("pk_platform_feed_cursor")),
    )
    enable_tenant_policy("platform_outbox")
    enable_tenant_policy("platform_feed_cursor")


def downgrade() -> None:
    """Drop them."""
    disable_tenant_policy("platform_feed_cursor")
    disable_tenant_policy("platform_outbox")
    op.drop_table("platform_feed_cursor")
    op.drop_table("platform_outbox")
    op.drop_table("platform_job")
