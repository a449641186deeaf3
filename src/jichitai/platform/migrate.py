"""Run the one Alembic history shipped inside the package (``jichitai/migrations``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our history and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


APP_ROLE = "jichitai_app"
"""The PostgreSQL role the product works as by default (``JICHITAI_DB_ROLE``): no login, no superuser, no
BYPASSRLS, only row privileges on the tables, so row-level security binds every query it makes."""


def upgrade(url: str, revision: str = "head", *, app_role: str | None = APP_ROLE) -> None:
    """Bring the database schema up to ``revision``, then (PostgreSQL) provision the application role."""
    command.upgrade(alembic_config(url), revision)
    if app_role and url.startswith("postgresql"):
        ensure_app_role(url, app_role)


def ensure_app_role(url: str, role: str) -> bool:
    """Create ``role`` if missing (NOLOGIN, NOSUPERUSER, NOBYPASSRLS), grant it row privileges on every
    table and sequence, and make the migrating login a member so its connections may ``SET ROLE`` to it.

    Returns False (and changes nothing) when the login may not create roles: an ordinary login is then the
    role itself (set ``JICHITAI_DB_ROLE`` empty), or a database administrator runs the statements of
    docs/operations.md once.
    """
    quoted = '"' + role.replace('"', '""') + '"'
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            may = conn.execute(
                text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
            ).scalar_one()
            if not may:  # an ordinary login (itself bound by row-level security): nothing to provision
                return False
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            if exists is None:
                conn.execute(
                    text(
                        f"DO $$ BEGIN CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOBYPASSRLS; "
                        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
                    )
                )
            rows = "SELECT, INSERT, UPDATE, DELETE"
            conn.execute(text(f"GRANT {rows} ON ALL TABLES IN SCHEMA public TO {quoted}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
            # tables this login creates later (a module's own, outside the migrations) are covered too
            conn.execute(
                text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {rows} ON TABLES TO {quoted}")
            )
            conn.execute(
                text(
                    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}"
                )
            )
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            member = conn.execute(
                text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": role}
            ).scalar_one()
            if not member:
                conn.execute(text(f"GRANT {quoted} TO CURRENT_USER"))
    finally:
        engine.dispose()
    return True
