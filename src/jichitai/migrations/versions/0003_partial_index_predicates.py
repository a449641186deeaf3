"""Partial indexes the SQLite planner can use; an index for the 個人番号 uniqueness check.

SQLite uses a partial index only when the query's WHERE repeats the index predicate term for term.
SQLAlchemy renders the current-snapshot filter as ``is_current = 1`` on SQLite, so the indexes created by
0001 with ``WHERE is_current`` were never used there (full scans at 1M residents, bench/bench_search.py).
PostgreSQL folds ``is_current = true`` to ``is_current`` and keeps its indexes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "registry_person_record"
PARTIAL = {
    "ix_registry_record_kana": ["lg_code", "kana_key"],
    "ix_registry_record_given_kana": ["lg_code", "given_kana_key"],
    "ix_registry_record_name": ["lg_code", "name_key"],
    "ix_registry_record_birth": ["lg_code", "birth_date"],
    "ix_registry_record_address": ["lg_code", "address_key"],
    "ix_registry_record_household": ["lg_code", "household_no"],
}


def _recreate(predicate: str) -> None:
    for name, columns in PARTIAL.items():
        op.drop_index(name, table_name=TABLE)
        op.create_index(name, TABLE, columns, sqlite_where=sa.text(predicate))


def upgrade() -> None:
    """Recreate the SQLite partial indexes with the rendered predicate; add the 個人番号 index."""
    if op.get_bind().dialect.name == "sqlite":
        _recreate("is_current = 1")
    op.create_index(
        "ix_registry_record_my_number",
        TABLE,
        ["lg_code", "my_number"],
        postgresql_where=sa.text("is_current"),
        sqlite_where=sa.text("is_current = 1"),
    )


def downgrade() -> None:
    """Back to the 0002 indexes."""
    op.drop_index("ix_registry_record_my_number", table_name=TABLE)
    if op.get_bind().dialect.name == "sqlite":
        _recreate("is_current")
