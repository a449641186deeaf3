"""Capture: append one journal entry per touched town to every committing transaction.

Session events collect the primary keys of the municipal rows (tables with an ``lg_code`` column) that a
transaction inserts, updates or deletes — flushed ORM objects and ORM bulk ``UPDATE``/``DELETE`` statements
alike. Just before the commit the rows are read back as they now stand and written, with the town's
counters, as one :class:`~.journal.JournalEntry` per town in the same transaction: the journal commits or
rolls back with the work it records. Writes that bypass the ORM session (the bulk loader's COPY) are not
seen; the shipper's full snapshot covers them (docs/adr/0010-offsite-journal.md).

Once such a transaction has committed, the capture wakes the server's shipper (:mod:`.wake`), so that the
change is shipped at once rather than at the next poll.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, event, inspect, select, tuple_
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from jichitai.platform.modules import catalog
from jichitai.platform.offsite import journal, wake
from jichitai.platform.tenancy import Tenant, TenantSequence

KEY = "offsite_touched"
OBJECTS = "offsite_objects"
JOURNALED = "offsite_journaled"
"""Set in ``session.info`` when the committing transaction appended entries: the shipper is woken after it."""

Touched = dict[str, dict[Table, set[tuple[Any, ...]]]]
_installed = False


_copied: tuple[object, frozenset[Table]] = (None, frozenset())


def is_municipal(table: Table) -> bool:
    """True for the tables of a town's copy, as the loaded declarations say (never the journal itself,
    shipping or drill state, or the counters, which every entry carries)."""
    global _copied
    loaded = catalog()  # raises in a process that never loaded the modules: no write goes unjournaled
    if _copied[0] is not loaded:
        _copied = (loaded, frozenset(loaded.town_tables))
    return table in _copied[1]


def install() -> None:
    """Register the capture on every ORM session of the process (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _before_bulk)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _transaction_end)
    _installed = True


def _touched(session: Session) -> Touched:
    touched: Touched = session.info.setdefault(KEY, defaultdict(lambda: defaultdict(set)))
    return touched


def _objects(session: Session) -> dict[tuple[str, tuple[Any, ...]], Any]:
    objects: dict[tuple[str, tuple[Any, ...]], Any] = session.info.setdefault(OBJECTS, {})
    return objects


def _clear(session: Session) -> None:
    session.info.pop(KEY, None)
    session.info.pop(OBJECTS, None)


def _transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction ends the capture: a rolled-back savepoint keeps what the rest did
    # (its own rows are then simply found missing and journaled as absent).
    if transaction.parent is None:
        _clear(session)
        session.info.pop(JOURNALED, None)  # a rollback after before_commit: nothing was committed


def _after_commit(session: Session) -> None:
    # Runs before after_transaction_end, once the entries are durable: now the shipper may find them.
    if session.info.pop(JOURNALED, None):
        wake.notify()


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    deleted = set(map(id, session.deleted))
    new = set(map(id, session.new))
    for obj in [*session.new, *session.dirty, *session.deleted]:
        state = inspect(obj)
        table = state.mapper.local_table
        if not isinstance(table, Table) or not is_municipal(table):
            continue
        key = state.identity or tuple(state.mapper.primary_key_from_instance(obj))
        pk = dict(zip((c.name for c in state.mapper.primary_key), key, strict=True))
        ordered = tuple(pk[c.name] for c in table.primary_key.columns)
        _touched(session)[str(pk["lg_code"])][table].add(ordered)
        # Remember the object: its image at commit comes from memory, not from a read-back.
        objects = _objects(session)
        if id(obj) in deleted:
            objects.pop((table.name, ordered), None)
        else:
            previous = objects.get((table.name, ordered))
            objects[table.name, ordered] = (obj, id(obj) in new or (previous is not None and previous[1]))


@dataclass(frozen=True)
class _Inserted:
    """A row inserted through Core by this transaction, remembered by its values (there is no object)."""

    image: dict[str, Any]


def remember_inserted(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Note rows this transaction inserted with a Core ``INSERT`` (which the flush events never see): their
    keys are touched like a flushed object's, and their journal images are the values given, not a read-back.
    Each row must give every column of ``table``."""
    if not is_municipal(table):
        return
    names = [c.name for c in table.primary_key.columns]
    columns = [c.name for c in table.columns]
    touched = _touched(session)
    objects = _objects(session)
    for row in rows:
        key = tuple(row[n] for n in names)
        touched[str(row["lg_code"])][table].add(key)
        objects[table.name, key] = (_Inserted({c: journal.to_json(row[c]) for c in columns}), True)


def _before_bulk(state: ORMExecuteState) -> None:
    """Note the keys an ORM bulk UPDATE/DELETE is about to touch (same WHERE clause, read first)."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    table = state.bind_mapper.local_table
    if not isinstance(table, Table) or not is_municipal(table):
        return
    where = getattr(state.statement, "whereclause", None)
    query = select(*table.primary_key.columns)
    if where is not None:
        query = query.where(where)
    names = [c.name for c in table.primary_key.columns]
    objects = _objects(state.session)
    for row in state.session.execute(query):
        _touched(state.session)[str(row[names.index("lg_code")])][table].add(tuple(row))
        objects.pop((table.name, tuple(row)), None)  # the statement bypasses the object: read it back


def _before_commit(session: Session) -> None:
    session.flush()
    touched: Touched | None = session.info.pop(KEY, None)
    objects = session.info.pop(OBJECTS, {})
    if not touched:
        return
    for lg_code in sorted(touched):
        write_entry(session, Tenant(lg_code), touched[lg_code], objects)
    session.flush()
    _clear(session)
    wake.announce(session)  # PostgreSQL: every process's shipper hears of it when (and if) this commits
    session.info[JOURNALED] = True


def _image_in_memory(obj: Any, table: Table, inserted: bool) -> dict[str, Any] | None:
    """The row as the flushed object holds it, or None when some column is not loaded (then read it back).

    An object changed only by an ORM bulk UPDATE is stale in memory; those keys are never remembered as
    objects after the bulk statement (``_before_bulk`` forgets them), so they are read back.
    """
    if isinstance(obj, _Inserted):
        return obj.image
    state = inspect(obj)
    if state.deleted or state.detached or state.expired_attributes:
        return None
    values = state.dict
    image: dict[str, Any] = {}
    for prop in state.mapper.column_attrs:
        column = prop.columns[0]
        if column.table is not table:
            return None
        if prop.key in values:
            image[column.name] = journal.to_json(values[prop.key])
        elif inserted and column.server_default is None and column.default is None:
            # Never set on an object this transaction inserted, and nothing fills it: the row holds NULL.
            image[column.name] = None
        else:
            return None
    return image


def row_images(session: Session, table: Table, keys: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The current rows of ``table`` with these primary keys, JSON-safe."""
    columns = list(table.primary_key.columns)
    images: list[dict[str, Any]] = []
    for start in range(0, len(keys), 500):
        batch = keys[start : start + 500]
        rows = session.execute(select(table).where(tuple_(*columns).in_(batch))).mappings()
        images.extend({name: journal.to_json(value) for name, value in row.items()} for row in rows)
    return images


def counters(session: Session, tenant: Tenant) -> dict[str, int]:
    """Every per-town counter's last value (written by Core upserts, so read rather than captured)."""
    rows = session.execute(
        select(TenantSequence.name, TenantSequence.last_value).where(TenantSequence.lg_code == tenant.lg_code)
    )
    return {str(row[0]): int(row[1]) for row in rows.all()}


def write_entry(
    session: Session,
    tenant: Tenant,
    tables: dict[Table, set[tuple[Any, ...]]],
    objects: dict[tuple[str, tuple[Any, ...]], Any] | None = None,
) -> journal.JournalEntry:
    """One journal entry with the current images of the touched rows; vanished rows become deletions.

    Rows whose flushed objects are still in the session are imaged from memory; the rest (bulk-updated or
    unloaded rows) are read back, in primary-key order either way.
    """
    upserts: dict[str, list[dict[str, Any]]] = {}
    deletes: dict[str, list[list[Any]]] = {}
    known = objects or {}
    for table, keys in sorted(tables.items(), key=lambda item: item[0].name):
        ordered = sorted(keys, key=repr)
        in_memory: dict[tuple[Any, ...], dict[str, Any]] = {}
        for key in ordered:
            remembered = known.get((table.name, key))
            image = _image_in_memory(remembered[0], table, remembered[1]) if remembered else None
            if image is not None:
                in_memory[key] = image
        read = row_images(session, table, [k for k in ordered if k not in in_memory])
        by_key = {tuple(image[c.name] for c in table.primary_key.columns): image for image in read}
        images = []
        for key in ordered:
            if key in in_memory:
                images.append(in_memory[key])
            else:
                json_key = tuple(journal.to_json(v) for v in key)
                if json_key in by_key:
                    images.append(by_key[json_key])
        if images:
            upserts[table.name] = images
        pk_names = [c.name for c in table.primary_key.columns]
        found = {tuple(image[n] for n in pk_names) for image in images}
        gone = [[journal.to_json(v) for v in key] for key in ordered]
        gone = [key for key in gone if tuple(key) not in found]
        if gone:
            deletes[table.name] = gone
    # The counter row of the journal itself moves in append(); the counters are read after it.
    return journal.append(
        session,
        tenant,
        "changes",
        lambda _seq: {"upsert": upserts, "delete": deletes, "counters": counters(session, tenant)},
    )
