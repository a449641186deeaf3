"""Which tables make a town's copy, checked against the database, and each table's content digest.

The set comes from the loaded module declarations only (DESIGN §5: the copy is whole by construction). A
snapshot, a restore or a drill refuses to run when that set is empty (the process never loaded the modules)
or differs from the town-keyed tables the database really has (a table no loaded module declares would be
silently left behind; a declared one missing from the database means the schema is not migrated).

Two digests, for two questions:

- a snapshot manifest records, per table, the row count and the SHA-256 of the table's parts as plaintext
  (:class:`PartDigests`), which costs one hash over bytes the snapshot serialises anyway; a restore recomputes
  it from the parts it opened and counts the rows it wrote;
- a drill asks whether two databases hold the same town, so :func:`table_digest` hashes the rows as they
  stand, in primary-key order and canonical JSON, alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, inspect, select
from sqlalchemy.orm import Session

from jichitai.platform.modules import catalog
from jichitai.platform.offsite.bulk_rows import encode_rows, encoders


class CopyIncomplete(RuntimeError):
    """The set of town tables is empty or differs from the database's: copying now would lose data."""


def copied_tables() -> list[Table]:
    """The town tables every copy holds, in foreign-key order; refuses an empty set."""
    tables = catalog().town_tables
    if not tables:
        raise CopyIncomplete("no town tables are declared: the modules were not loaded in this process")
    return tables


def town_keyed_in_database(conn: Connection) -> set[str]:
    """Names of the database's tables whose primary key includes ``lg_code`` (one catalogue query for all
    tables, not one per table: shipping asks on every pass)."""
    keys = inspect(conn).get_multi_pk_constraint()
    return {
        name for (_schema, name), pk in keys.items() if "lg_code" in (pk.get("constrained_columns") or [])
    }


def checked_tables(conn: Connection) -> list[Table]:
    """:func:`copied_tables`, refused unless they match the database's town-keyed tables exactly."""
    tables = copied_tables()
    declared = {t.name for t in tables}
    present = town_keyed_in_database(conn)
    undeclared = sorted(present - declared - catalog().not_copied)
    missing = sorted(declared - present)
    problems = []
    if undeclared:
        problems.append(
            f"town tables in the database that no loaded module declares: {', '.join(undeclared)}"
        )
    if missing:
        problems.append(
            f"declared town tables missing from the database (not migrated?): {', '.join(missing)}"
        )
    if problems:
        raise CopyIncomplete("; ".join(problems))
    return tables


def canonical_row(values: list[Any]) -> bytes:
    """One encoded row as canonical JSON (sorted keys inside JSON columns) plus a newline."""
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@dataclass
class TableDigest:
    """How many town rows a table holds, and the SHA-256 of them in primary-key order."""

    rows: int = 0
    sha256: str = hashlib.sha256().hexdigest()

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as recorded in a snapshot manifest."""
        return {"rows": self.rows, "sha256": self.sha256}


class Digester:
    """Accumulates a :class:`TableDigest` over encoded rows fed in primary-key order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._rows = 0

    def feed(self, rows: Iterable[list[Any]]) -> None:
        """Add encoded rows (as :func:`~.bulk_rows.encode_rows` makes them)."""
        for row in rows:
            self._hash.update(canonical_row(row))
            self._rows += 1

    def result(self) -> TableDigest:
        """The digest so far."""
        return TableDigest(self._rows, self._hash.hexdigest())


class PartDigests:
    """Per table: rows and SHA-256 of its snapshot parts' plaintext, in part order (every table starts
    empty, so a table with no rows is recorded too)."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self._hashes = {t.name: hashlib.sha256() for t in tables}
        self._rows = dict.fromkeys(self._hashes, 0)

    def add(self, table: str, plain: bytes, rows: int) -> None:
        """Account for one part of ``table``."""
        self._hashes[table].update(plain)
        self._rows[table] += rows

    def result(self) -> dict[str, TableDigest]:
        """The digests so far."""
        return {name: TableDigest(self._rows[name], h.hexdigest()) for name, h in self._hashes.items()}


def table_digest(bind: Connection | Session, table: Table, lg_code: str, batch: int = 20_000) -> TableDigest:
    """The digest of ``table``'s rows of ``lg_code`` as they stand in ``bind``'s transaction."""
    query = select(table).where(table.c.lg_code == lg_code).order_by(*table.primary_key.columns)
    digester = Digester()
    plan = encoders(table)
    result = bind.execute(query, execution_options={"yield_per": batch})
    for part in result.partitions():
        digester.feed(encode_rows(part, plan))
    return digester.result()


def town_digests(bind: Connection | Session, tables: list[Table], lg_code: str) -> dict[str, TableDigest]:
    """Every copied table's digest for one town."""
    return {table.name: table_digest(bind, table, lg_code) for table in tables}


def differences(expected: dict[str, dict[str, Any]], actual: dict[str, TableDigest]) -> list[str]:
    """Tables whose rows differ, each named with what was expected and found (empty when equal)."""
    found = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            found.append(f"{name}: not in the copy ({got.rows if got else 0} rows here)")
        elif got is None:
            found.append(f"{name}: in the copy ({want['rows']} rows) but not restored")
        elif want["rows"] != got.rows:
            found.append(f"{name}: {want['rows']} rows expected, {got.rows} found")
        elif want["sha256"] != got.sha256:
            found.append(f"{name}: same {got.rows} rows counted but their contents differ")
    return found


__all__ = [
    "CopyIncomplete",
    "Digester",
    "PartDigests",
    "TableDigest",
    "checked_tables",
    "copied_tables",
    "differences",
    "table_digest",
    "town_digests",
]
