"""Moving snapshot rows between the database and JSON at bulk speed (snapshot parts, restore).

The general helpers (:func:`.journal.to_json`, SQLAlchemy's per-row parameter handling) decide per value;
for millions of rows that decision is most of the cost (measured: ~60 % of shipping, ~40–60 % of a restore).
Here each column's conversion is chosen once, columns that need none are skipped, and rows go to the
database as tuples: ``COPY … FROM STDIN`` on PostgreSQL when the role may (row-level security refuses COPY
FROM to a role it applies to), a driver ``executemany`` on SQLite, the ordinary insert otherwise.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, insert

from jichitai.platform.db import may_copy_from
from jichitai.platform.offsite import journal

Fn = Callable[[Any], Any]


def _encoder(column: Column[Any]) -> Fn | None:
    """What :func:`journal.to_json` does to this column's non-null values, or None when nothing."""
    if getattr(column.type, "enum_class", None) is not None:
        return lambda v: v.value
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    if python_type is dt.datetime:
        return journal.to_json
    if python_type is dt.date:
        return lambda v: v.isoformat()
    if python_type is bytes:
        return lambda v: base64.b64encode(bytes(v)).decode("ascii")
    if python_type is decimal.Decimal:
        return str
    return None


def encoders(table: Table) -> list[tuple[int, Fn]]:
    """(position, encoder) for the columns of ``table`` whose values need converting to JSON."""
    out = []
    for i, column in enumerate(table.columns):
        fn = _encoder(column)
        if fn is not None:
            out.append((i, fn))
    return out


def encode_rows(rows: Sequence[Sequence[Any]], plan: list[tuple[int, Fn]]) -> list[list[Any]]:
    """Rows (in ``table.columns`` order) as JSON-safe lists."""
    out = []
    for row in rows:
        values = list(row)
        for i, fn in plan:
            if values[i] is not None:
                values[i] = fn(values[i])
        out.append(values)
    return out


def _apply(rows: list[list[Any]], steps: list[tuple[int, Fn]]) -> None:
    for row in rows:
        for i, fn in steps:
            if row[i] is not None:
                row[i] = fn(row[i])


def insert_rows(conn: Connection, table: Table, columns: list[str], rows: list[list[Any]]) -> None:
    """Insert JSON-form ``rows`` (values in ``columns`` order) into ``table`` in the caller's transaction."""
    if not rows:
        return
    names = [name for name in columns if name in table.c]
    index = [columns.index(name) for name in names]
    values = [[row[i] for i in index] for row in rows]
    parse = [(i, journal.converter(table.c[name])) for i, name in enumerate(names)]
    _apply(values, [(i, fn) for i, fn in parse if fn is not journal.identity])
    dialect = conn.dialect
    copy = dialect.name == "postgresql" and may_copy_from(conn)
    if not copy and dialect.name != "sqlite":
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in values])
        return
    binds = [
        (i, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for i, name in enumerate(names)
    ]
    _apply(values, [(i, fn) for i, fn in binds if fn is not None])
    driver = conn.connection.driver_connection
    if copy:
        cursor = driver.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as stream:
            for row in values:
                stream.write_row(row)
        return
    marks = ", ".join("?" for _ in names)
    driver.executemany(  # type: ignore[union-attr]
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", values
    )
