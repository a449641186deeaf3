"""Kana indexes that also carry 宛名番号, so a page of search results is read in index order.

Search pages are ordered by (key, 宛名番号). With the key alone in the index, both planners had to fetch every
row of a common surname (tens of thousands of サトウ in a large town) and sort them to return 20.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "registry_person_record"
INDEXES = {"ix_registry_record_kana": "kana_key", "ix_registry_record_given_kana": "given_kana_key"}


def _recreate(with_atena: bool) -> None:
    for name, key in INDEXES.items():
        op.drop_index(name, table_name=TABLE)
        columns = ["lg_code", key, "atena_no"] if with_atena else ["lg_code", key]
        op.create_index(
            name,
            TABLE,
            columns,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current = 1"),
        )


def upgrade() -> None:
    """Add 宛名番号 to both kana indexes."""
    _recreate(with_atena=True)


def downgrade() -> None:
    """Back to the key-only indexes of 0003."""
    _recreate(with_atena=False)
