"""Ed25519-signed heads of the audit chains (platform/audit_heads.py), under row-level security.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:16:27.089543
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


POLICY = (
    "lg_code = current_setting('jichitai.tenant', true) "
    "OR coalesce(current_setting('jichitai.tenant', true), '') = ''"
)


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "audit_chain_head",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_audit_chain_head_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "seq", name=op.f("pk_audit_chain_head")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_chain_head ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE audit_chain_head FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON audit_chain_head USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    """Revert."""
    op.drop_table("audit_chain_head")
