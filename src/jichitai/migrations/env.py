"""Alembic environment: batch mode so SQLite gets "move and copy" ALTERs (alembic batch.rst)."""

from __future__ import annotations

from alembic import context

from jichitai.bootstrap import metadata
from jichitai.platform.db import make_engine

config = context.config
target_metadata = metadata()  # the loader imports every declaration, and so every table


def run_migrations_online() -> None:
    """Run against a live connection (the only mode we use)."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
