"""Every record of a household, not only the current ones, found by index: "household as of a date".

``household_as_of`` (the change feed's facade) looks for every person who was ever in a 世帯番号 and then
for their records in force on the day; the partial index ``ix_registry_record_household`` holds current
records only, so the question scanned the town's whole history.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_registry_record_household_history"


def upgrade() -> None:
    """Create the index."""
    op.create_index(INDEX, "registry_person_record", ["lg_code", "household_no", "atena_no"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index(INDEX, table_name="registry_person_record")
