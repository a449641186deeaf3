"""The one loader: finds every module's declaration, checks them, and installs the catalogue.

The app, every CLI command, Alembic, the tests and the benchmarks call :func:`load` first; nothing else
registers a module (DESIGN §2). Modules are found by shape, not by name: every package under
``jichitai.modules`` with a ``module.py`` exporting ``MODULE``, plus the declarations named in
``JICHITAI_EXTRA_MODULES`` (``package.module`` or ``package.module:ATTRIBUTE``, comma-separated), which is
how a third-party or test-only module plugs in without any edit here or in the platform.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Sequence

from sqlalchemy import MetaData

import jichitai.modules
from jichitai.platform.db import Base
from jichitai.platform.modules import (
    Catalog,
    DeclarationError,
    ModuleDeclaration,
    build_catalog,
    install,
    installed,
)
from jichitai.platform.web.templating import add_templates

EXTRA_ENV = "JICHITAI_EXTRA_MODULES"
_loaded: dict[tuple[str, ...], Catalog] = {}


def _declaration(path: str) -> ModuleDeclaration:
    module_path, _, attribute = path.partition(":")
    found = getattr(importlib.import_module(module_path), attribute or "MODULE", None)
    if not isinstance(found, ModuleDeclaration):
        raise DeclarationError(f"{path} does not name a ModuleDeclaration")
    return found


def discover(extra: Sequence[str] = ()) -> list[ModuleDeclaration]:
    """The platform's own declaration, then the installed modules' (alphabetical), then the extra ones.

    The order is the order of routes, purposes and menu entries.
    """
    from jichitai.platform.core import PLATFORM

    found = []
    for info in sorted(pkgutil.iter_modules(jichitai.modules.__path__), key=lambda i: i.name):
        if info.ispkg and importlib.util.find_spec(f"{jichitai.modules.__name__}.{info.name}.module"):
            found.append(_declaration(f"{jichitai.modules.__name__}.{info.name}.module"))
    return [PLATFORM, *found, *(_declaration(path) for path in extra)]


def _extra_from_env() -> tuple[str, ...]:
    return tuple(p.strip() for p in os.environ.get(EXTRA_ENV, "").split(",") if p.strip())


def load(extra: Sequence[str] | None = None) -> Catalog:
    """Load every declaration and install the catalogue; returns it.

    ``extra`` names extra declarations; without it a process keeps the catalogue it already installed (so
    an app built inside a test that loaded a test-only module keeps that module), or on first use takes the
    extras from ``JICHITAI_EXTRA_MODULES``. Each set is built once per process.

    Refuses a table that is on the shared metadata but declared by no module: it would be migrated and
    served, yet missing from every town's off-site copy.
    """
    if extra is None:
        current = installed()
        if current is not None:
            return current
    key = tuple(extra) if extra is not None else _extra_from_env()
    loaded = _loaded.get(key)
    if loaded is None:
        loaded = build_catalog(discover(key))
        undeclared = sorted(set(Base.metadata.tables) - set(loaded.owners))
        if undeclared:
            raise DeclarationError(f"tables registered by import but declared by no module: {undeclared}")
        for declaration in loaded.modules:
            if declaration.templates:
                add_templates(declaration.templates)
        _loaded[key] = loaded
    install(loaded)
    return loaded


def metadata() -> MetaData:
    """The product's metadata (every declared table of the platform and the installed modules), for Alembic
    and the tests; test-only modules keep their tables on a metadata of their own."""
    discover()  # imports every declaration, and with it every model
    return Base.metadata


__all__ = ["EXTRA_ENV", "discover", "load", "metadata"]
