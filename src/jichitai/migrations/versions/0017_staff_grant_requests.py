"""Grant requests: a privileged grant one administrator asks for waits for a second one's approval.

``staff_grant_request`` is municipal (the town's own record of who asked and who approved), so it gets the
tenant row-level-security policy on PostgreSQL and is part of the town's off-site copy.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the request table with its tenant policy."""
    op.create_table(
        "staff_grant_request",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("request_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("privileged", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_staff_grant_request_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "request_no", name=op.f("pk_staff_grant_request")),
    )
    enable_tenant_policy("staff_grant_request")


def downgrade() -> None:
    """Drop it."""
    disable_tenant_policy("staff_grant_request")
    op.drop_table("staff_grant_request")
