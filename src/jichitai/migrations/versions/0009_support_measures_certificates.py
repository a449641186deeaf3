"""DV等支援措置 (registry_support_measure) and the certificate issuance log (registry_certificate_issue),
under row-level security.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:05:26.244612
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jichitai.migrations.rls import disable_tenant_policy, enable_tenant_policy

TENANT_TABLES = ("registry_certificate_issue", "registry_support_measure")

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "registry_certificate_issue",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("issue_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certificate_type", sa.String(length=30), nullable=False),
        sa.Column("style", sa.String(length=20), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("requester_category", sa.String(length=20), nullable=False),
        sa.Column("requester_name", sa.String(length=100), nullable=False),
        sa.Column("requester_atena_no", sa.String(length=10), nullable=True),
        sa.Column("purpose", sa.String(length=400), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=60), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("override_reason", sa.String(length=400), nullable=True),
        sa.Column("overridden_measures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"],
            ["municipality.lg_code"],
            name=op.f("fk_registry_certificate_issue_lg_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("lg_code", "issue_no", name=op.f("pk_registry_certificate_issue")),
    )
    with op.batch_alter_table("registry_certificate_issue", schema=None) as batch_op:
        batch_op.create_index("ix_registry_certificate_issue_at", ["lg_code", "issued_at"], unique=False)

    op.create_table(
        "registry_support_measure",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("measure_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "spousal_violence",
                "stalking",
                "child_abuse",
                "other",
                name="support_kind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("provisional", "active", "ended", name="support_status", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("confirmed_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("period_no", sa.Integer(), nullable=False),
        sa.Column("related_measure_no", sa.Integer(), nullable=True),
        sa.Column("counterparty_name", sa.String(length=100), nullable=False),
        sa.Column("counterparty_kana", sa.String(length=100), nullable=True),
        sa.Column("counterparty_atena_no", sa.String(length=10), nullable=True),
        sa.Column("counterparty_birth_date", sa.Date(), nullable=True),
        sa.Column("counterparty_address", sa.String(length=400), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code", "atena_no"],
            ["registry_person.lg_code", "registry_person.atena_no"],
            name=op.f("fk_registry_support_measure_lg_code_atena_no_registry_person"),
        ),
        sa.ForeignKeyConstraint(
            ["lg_code", "related_measure_no"],
            ["registry_support_measure.lg_code", "registry_support_measure.measure_no"],
            name="fk_registry_support_measure_related",
        ),
        sa.PrimaryKeyConstraint("lg_code", "measure_no", name=op.f("pk_registry_support_measure")),
    )
    with op.batch_alter_table("registry_support_measure", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_support_measure_atena", ["lg_code", "atena_no", "measure_no"], unique=False
        )
        batch_op.create_index("ix_registry_support_measure_ends", ["lg_code", "ends_on"], unique=False)
    for table in TENANT_TABLES:
        enable_tenant_policy(table)


def downgrade() -> None:
    """Revert."""
    for table in TENANT_TABLES:
        disable_tenant_policy(table)
    with op.batch_alter_table("registry_support_measure", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_support_measure_ends")
        batch_op.drop_index("ix_registry_support_measure_atena")

    op.drop_table("registry_support_measure")
    with op.batch_alter_table("registry_certificate_issue", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_certificate_issue_at")

    op.drop_table("registry_certificate_issue")
