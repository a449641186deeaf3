"""The one migration history builds exactly the schema the models declare, on both engines, and reverses."""

from __future__ import annotations

import os

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from jichitai.bootstrap import metadata
from jichitai.platform.db import make_engine
from jichitai.platform.migrate import alembic_config

from .conftest import PG_ADMIN


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata())
    assert diff == []


def test_partial_indexes_are_declared_as_the_queries_render_them(engine: Engine) -> None:
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("registry_person_record")}
    assert {"ix_registry_record_kana", "ix_registry_record_my_number"} <= set(indexes)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_registry_record_kana'"
            ).scalar_one()
        assert sql.endswith("WHERE is_current = 1")


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    """Every revision's downgrade runs, on a database of its own (the PostgreSQL one is made fresh)."""
    if engine.dialect.name == "sqlite":
        url = engine.url.render_as_string(hide_password=False)
        scratch = engine
    else:
        name = f"jichitai_test_migrations_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        scratch = make_engine(url, pool_size=1)
    cfg = alembic_config(url)
    try:
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        assert "registry_person_record" not in inspect(scratch).get_table_names()
        command.upgrade(cfg, "head")
        assert "registry_person_record" in inspect(scratch).get_table_names()
    finally:
        if scratch is not engine:
            scratch.dispose()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
