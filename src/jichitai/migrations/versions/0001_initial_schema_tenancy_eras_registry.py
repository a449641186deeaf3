"""Initial schema: tenancy, eras (seeded), resident registry

Revision ID: 0001
Revises:
Create Date: 2026-11-29 21:09:55.029067
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "jp_era",
        sa.Column("code", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=10), nullable=False),
        sa.Column("abbr", sa.String(length=1), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_jp_era")),
        sa.UniqueConstraint("abbr", name=op.f("uq_jp_era_abbr")),
        sa.UniqueConstraint("name", name=op.f("uq_jp_era_name")),
        sa.UniqueConstraint("start", name=op.f("uq_jp_era_start")),
    )
    # The eras are parameter rows (標準仕様 j280): a new 元号 is a new row, not a code change.
    era_table = sa.table(
        "jp_era",
        sa.column("code", sa.Integer),
        sa.column("name", sa.String),
        sa.column("abbr", sa.String),
        sa.column("start", sa.Date),
        sa.column("last_day", sa.Date),
    )
    op.bulk_insert(
        era_table,
        [
            {
                "code": 1,
                "name": "明治",
                "abbr": "M",
                "start": dt.date(1868, 1, 25),
                "last_day": dt.date(1912, 7, 30),
            },
            {
                "code": 2,
                "name": "大正",
                "abbr": "T",
                "start": dt.date(1912, 7, 30),
                "last_day": dt.date(1926, 12, 25),
            },
            {"code": 3, "name": "昭和", "abbr": "S", "start": dt.date(1926, 12, 25), "last_day": None},
            {"code": 4, "name": "平成", "abbr": "H", "start": dt.date(1989, 1, 8), "last_day": None},
            {"code": 5, "name": "令和", "abbr": "R", "start": dt.date(2019, 5, 1), "last_day": None},
        ],
    )
    op.create_table(
        "municipality",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("prefecture", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lg_code", name=op.f("pk_municipality")),
    )
    op.create_table(
        "municipality_setting",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_municipality_setting_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "key", "effective_from", name=op.f("pk_municipality_setting")),
    )
    op.create_table(
        "registry_event",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("event_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=4), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("event_date_text", sa.String(length=72), nullable=True),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("processed_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancels_event_no", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code", "cancels_event_no"],
            ["registry_event.lg_code", "registry_event.event_no"],
            name=op.f("fk_registry_event_lg_code_cancels_event_no_registry_event"),
        ),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_registry_event_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "event_no", name=op.f("pk_registry_event")),
    )
    with op.batch_alter_table("registry_event", schema=None) as batch_op:
        batch_op.create_index("ix_registry_event_cancels", ["lg_code", "cancels_event_no"], unique=False)
        batch_op.create_index("ix_registry_event_type", ["lg_code", "event_type", "event_no"], unique=False)

    op.create_table(
        "registry_household",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("household_no", sa.String(length=10), nullable=False),
        sa.Column("created_event_no", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_registry_household_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "household_no", name=op.f("pk_registry_household")),
    )
    op.create_table(
        "registry_person",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("current_history_no", sa.Integer(), nullable=False),
        sa.Column("created_event_no", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_registry_person_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "atena_no", name=op.f("pk_registry_person")),
    )
    op.create_table(
        "tenant_sequence",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code"], ["municipality.lg_code"], name=op.f("fk_tenant_sequence_lg_code_municipality")
        ),
        sa.PrimaryKeyConstraint("lg_code", "name", name=op.f("pk_tenant_sequence")),
    )
    op.create_table(
        "registry_event_person",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("event_no", sa.Integer(), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("history_no_before", sa.Integer(), nullable=True),
        sa.Column("history_no_after", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lg_code", "atena_no"],
            ["registry_person.lg_code", "registry_person.atena_no"],
            name=op.f("fk_registry_event_person_lg_code_atena_no_registry_person"),
        ),
        sa.ForeignKeyConstraint(
            ["lg_code", "event_no"],
            ["registry_event.lg_code", "registry_event.event_no"],
            name=op.f("fk_registry_event_person_lg_code_event_no_registry_event"),
        ),
        sa.PrimaryKeyConstraint("lg_code", "event_no", "atena_no", name=op.f("pk_registry_event_person")),
    )
    with op.batch_alter_table("registry_event_person", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_event_person_atena", ["lg_code", "atena_no", "event_no"], unique=False
        )

    op.create_table(
        "registry_person_record",
        sa.Column("lg_code", sa.String(length=6), nullable=False),
        sa.Column("atena_no", sa.String(length=10), nullable=False),
        sa.Column("history_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("event_no", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "resident",
                "moved_out",
                "deceased",
                "removed",
                name="resident_status",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum("japanese", "foreign", name="resident_kind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("household_no", sa.String(length=10), nullable=False),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("head_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_kana", sa.String(length=100), nullable=False),
        sa.Column("given_kana", sa.String(length=100), nullable=False),
        sa.Column("kana_confirmed", sa.Boolean(), nullable=False),
        sa.Column("former_surname", sa.String(length=50), nullable=True),
        sa.Column("former_surname_kana", sa.String(length=100), nullable=True),
        sa.Column("name_roman", sa.String(length=200), nullable=True),
        sa.Column("alias_name", sa.String(length=100), nullable=True),
        sa.Column("alias_kana", sa.String(length=100), nullable=True),
        sa.Column(
            "kana_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "given_kana_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "name_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "address_key",
            sa.String(length=200).with_variant(sa.String(length=200, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("birth_date_text", sa.String(length=72), nullable=True),
        sa.Column("sex", sa.Enum("male", "female", name="sex", native_enum=False, length=20), nullable=False),
        sa.Column("address_area", sa.String(length=120), nullable=False),
        sa.Column("address_number", sa.String(length=50), nullable=False),
        sa.Column("address_building", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=7), nullable=True),
        sa.Column("address_set_on", sa.Date(), nullable=False),
        sa.Column("address_set_on_text", sa.String(length=72), nullable=True),
        sa.Column("became_resident_on", sa.Date(), nullable=False),
        sa.Column("became_resident_on_text", sa.String(length=72), nullable=True),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("previous_address", sa.String(length=400), nullable=True),
        sa.Column("prior_address", sa.String(length=400), nullable=True),
        sa.Column("honseki", sa.String(length=200), nullable=True),
        sa.Column("honseki_head", sa.String(length=100), nullable=True),
        sa.Column("juminhyo_code", sa.String(length=11), nullable=False),
        sa.Column("my_number", sa.String(length=12), nullable=True),
        sa.Column("nationality", sa.String(length=100), nullable=True),
        sa.Column("foreign_category", sa.String(length=30), nullable=True),
        sa.Column("residence_status", sa.String(length=60), nullable=True),
        sa.Column("period_of_stay", sa.String(length=30), nullable=True),
        sa.Column("stay_expires_on", sa.Date(), nullable=True),
        sa.Column("residence_card_no", sa.String(length=12), nullable=True),
        sa.Column("foreign_resident_since", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(length=40), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("move_out_destination", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["lg_code", "atena_no"],
            ["registry_person.lg_code", "registry_person.atena_no"],
            name=op.f("fk_registry_person_record_lg_code_atena_no_registry_person"),
        ),
        sa.ForeignKeyConstraint(
            ["lg_code", "event_no"],
            ["registry_event.lg_code", "registry_event.event_no"],
            name=op.f("fk_registry_person_record_lg_code_event_no_registry_event"),
        ),
        sa.ForeignKeyConstraint(
            ["lg_code", "household_no"],
            ["registry_household.lg_code", "registry_household.household_no"],
            name=op.f("fk_registry_person_record_lg_code_household_no_registry_household"),
        ),
        sa.PrimaryKeyConstraint("lg_code", "atena_no", "history_no", name=op.f("pk_registry_person_record")),
    )
    with op.batch_alter_table("registry_person_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_record_address",
            ["lg_code", "address_key"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index(
            "ix_registry_record_birth",
            ["lg_code", "birth_date"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index(
            "ix_registry_record_given_kana",
            ["lg_code", "given_kana_key"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index(
            "ix_registry_record_household",
            ["lg_code", "household_no"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index("ix_registry_record_juminhyo", ["lg_code", "juminhyo_code"], unique=False)
        batch_op.create_index(
            "ix_registry_record_kana",
            ["lg_code", "kana_key"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index(
            "ix_registry_record_name",
            ["lg_code", "name_key"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("registry_person_record", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_registry_record_name",
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.drop_index(
            "ix_registry_record_kana",
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.drop_index("ix_registry_record_juminhyo")
        batch_op.drop_index(
            "ix_registry_record_household",
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.drop_index(
            "ix_registry_record_given_kana",
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.drop_index(
            "ix_registry_record_birth",
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.drop_index(
            "ix_registry_record_address",
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )

    op.drop_table("registry_person_record")
    with op.batch_alter_table("registry_event_person", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_event_person_atena")

    op.drop_table("registry_event_person")
    op.drop_table("tenant_sequence")
    op.drop_table("registry_person")
    op.drop_table("registry_household")
    with op.batch_alter_table("registry_event", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_event_type")
        batch_op.drop_index("ix_registry_event_cancels")

    op.drop_table("registry_event")
    op.drop_table("municipality_setting")
    op.drop_table("municipality")
    op.drop_table("jp_era")
