"""法7条 entitlement items on every snapshot: 選挙人名簿, 国保, 後期高齢, 介護, 国民年金, 児童手当.

The business systems keep them current through 職権修正; existing rows start as "not qualified".

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:36:01.322518
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("registry_person_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("elector_registered", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("nhi_qualified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("nhi_acquired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("nhi_lost_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("late_elderly_qualified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("late_elderly_acquired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("late_elderly_lost_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("ltc_qualified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("ltc_acquired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ltc_lost_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("pension_qualified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("basic_pension_no", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("pension_category", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("pension_category_changed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("pension_acquired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("pension_lost_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("child_allowance_from", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("child_allowance_to", sa.String(length=7), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("registry_person_record", schema=None) as batch_op:
        batch_op.drop_column("child_allowance_to")
        batch_op.drop_column("child_allowance_from")
        batch_op.drop_column("pension_lost_on")
        batch_op.drop_column("pension_acquired_on")
        batch_op.drop_column("pension_category_changed_on")
        batch_op.drop_column("pension_category")
        batch_op.drop_column("basic_pension_no")
        batch_op.drop_column("pension_qualified")
        batch_op.drop_column("ltc_lost_on")
        batch_op.drop_column("ltc_acquired_on")
        batch_op.drop_column("ltc_qualified")
        batch_op.drop_column("late_elderly_lost_on")
        batch_op.drop_column("late_elderly_acquired_on")
        batch_op.drop_column("late_elderly_qualified")
        batch_op.drop_column("nhi_lost_on")
        batch_op.drop_column("nhi_acquired_on")
        batch_op.drop_column("nhi_qualified")
        batch_op.drop_column("elector_registered")
