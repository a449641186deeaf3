"""What every command line of the platform and the modules shares: the engine of a command and its errors.

The entry point (``jichitai.cli``) loads the modules before any command runs; :func:`engine_for_command`
asks for the catalogue first, so a command reached without the loader fails instead of working on half the
schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy import Engine

from jichitai.platform.db import make_engine
from jichitai.platform.errors import DomainError
from jichitai.platform.modules import catalog
from jichitai.platform.offsite import capture
from jichitai.settings import get_settings

ACTOR = "cli"
"""The audit actor of changes made from the command line."""
console = Console(soft_wrap=True)  # a log line stays one line when piped to cron or grep


def database_url() -> str:
    """The installation's database URL (the var directory is created for SQLite)."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url()


def command_engine() -> Engine:
    """An engine on the configured database, working as the application role (``JICHITAI_DB_ROLE``)."""
    return make_engine(database_url(), role=get_settings().db_role or None)


@contextmanager
def engine_for_command() -> Iterator[Engine]:
    """The command's engine: a refusal becomes its Japanese message and exit status 2; always disposed."""
    catalog()  # the modules must be loaded: the journal and the copy depend on every declared table
    capture.install()  # commands that write journal what they change, like the server
    engine = command_engine()
    try:
        yield engine
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red] ({exc.code})")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
