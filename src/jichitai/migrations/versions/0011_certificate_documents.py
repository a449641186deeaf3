"""Certificate documents: what a reprint, the QR verification page and the daily fee summary need.

New nullable columns on the issuance log (``registry_certificate_issue``): the business day, the content as
issued, the verification code (unique per town), the fee charged, the original of a 再交付, the first print
time and the glyphs the font lacked. Rows issued before keep nulls, except ``issued_on``, filled from
``issued_at`` on the Japanese calendar. No new table, so no row-level-security policy to add.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "registry_certificate_issue"


def _backfill_issued_on() -> None:
    """The JST day of each earlier issuance (a few rows at most: the log is new in 0009)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT lg_code, issue_no, issued_at FROM {TABLE}")).all()
    for lg_code, issue_no, issued_at in rows:
        if isinstance(issued_at, str):  # SQLite hands back text
            issued_at = dt.datetime.fromisoformat(issued_at)
        if issued_at.tzinfo is None:
            issued_at = issued_at.replace(tzinfo=dt.UTC)
        day = issued_at.astimezone(ZoneInfo("Asia/Tokyo")).date()
        bind.execute(
            sa.text(f"UPDATE {TABLE} SET issued_on = :day WHERE lg_code = :lg AND issue_no = :no"),
            {"day": day, "lg": lg_code, "no": issue_no},
        )


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("content", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("verify_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("fee_yen", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reissue_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("printed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("missing_glyphs", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            "fk_registry_certificate_issue_reissue_of",
            TABLE,
            ["lg_code", "reissue_of"],
            ["lg_code", "issue_no"],
        )
        batch_op.create_index("ix_registry_certificate_issue_on", ["lg_code", "issued_on"], unique=False)
        batch_op.create_index(
            "uq_registry_certificate_issue_verify_code", ["lg_code", "verify_code"], unique=True
        )
    _backfill_issued_on()


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index("uq_registry_certificate_issue_verify_code")
        batch_op.drop_index("ix_registry_certificate_issue_on")
        batch_op.drop_constraint("fk_registry_certificate_issue_reissue_of", type_="foreignkey")
        batch_op.drop_column("missing_glyphs")
        batch_op.drop_column("printed_at")
        batch_op.drop_column("reissue_of")
        batch_op.drop_column("fee_yen")
        batch_op.drop_column("verify_code")
        batch_op.drop_column("content")
        batch_op.drop_column("issued_on")
