"""Capture, shipping and restore on the real databases."""

from __future__ import annotations

import itertools
import os
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select

from jichitai.bootstrap import metadata
from jichitai.devdata.registry.bulk import load_population
from jichitai.modules.registry.records.models import Event, Person
from jichitai.platform.audit import AuditEntry
from jichitai.platform.db import make_engine
from jichitai.platform.errors import Conflict
from jichitai.platform.offsite import bulk_rows, capture
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.envelope import ChunkCorrupt
from jichitai.platform.offsite.journal import GENESIS, JournalEntry, dict_digest, entry_to_dict, to_json
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.restore import RestoreRefused, restore
from jichitai.platform.offsite.shipper import ship_town
from jichitai.platform.tenancy import Tenant

from ...conftest import PG_ADMIN
from ...modules.registry.test_api_life_story import days
from ...modules.registry.test_services_concurrency import BODY, move_in, record

CANARY = "鶚澤"  # a family name that appears nowhere else in the product


def journal(engine: Engine, tenant: Tenant) -> list[JournalEntry]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(JournalEntry).where(JournalEntry.lg_code == tenant.lg_code).order_by(JournalEntry.seq)
        ).all()
    return [JournalEntry(**row._mapping) for row in rows]


def test_each_transaction_writes_one_chained_entry_per_town(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    town_a, town_b = towns
    before = len(journal(engine, town_a))
    record(engine, town_a, move_in(1))
    entries = journal(engine, town_a)
    assert len(entries) == before + 1
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS
    for prev, entry in itertools.pairwise(entries):
        assert entry.prev_hash == prev.entry_hash
        assert dict_digest(entry_to_dict(entry)) == entry.entry_hash
    last = entries[-1].payload
    assert set(last["upsert"]) >= {"registry_event", "registry_person", "audit_entry"}
    assert last["counters"]["journal"] == entries[-1].seq
    assert all(e.payload["upsert"].get("registry_person") is None for e in journal(engine, town_b))


def test_a_refused_event_writes_no_journal_entry(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town_a, _ = towns
    record(engine, town_a, move_in(1))
    with engine.connect() as conn:
        atena = (
            conn.execute(select(Person.atena_no).where(Person.lg_code == town_a.lg_code)).scalars().first()
        )
    death = BODY.validate_python({"type": "death", "event_date": days(0), "atena_no": atena})
    record(engine, town_a, death)
    count = len(journal(engine, town_a))
    with pytest.raises(Conflict):
        record(engine, town_a, death)
    assert len(journal(engine, town_a)) == count


class FlakyCustodian(DirectoryCustodian):
    """A directory custodian whose ``put`` fails while ``down`` is set (an outage)."""

    down = False

    def put(self, lg_code: str, chunk_id: str, blob: bytes, wraps: dict[str, str]) -> None:
        if self.down:
            raise OSError("custodian unreachable")
        super().put(lg_code, chunk_id, blob, wraps)


def test_shipping_resumes_after_an_outage_without_gaps_or_duplicates(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    town_a, _ = towns
    custodian = FlakyCustodian(tmp_path / "flaky")
    record(engine, town_a, move_in(1))
    first = ship_town(engine, keys, town_a.lg_code, custodian, batch=2)
    assert first.snapshot
    for i in range(2, 6):
        record(engine, town_a, move_in(i))
    custodian.down = True
    with pytest.raises(OSError, match="unreachable"):
        ship_town(engine, keys, town_a.lg_code, custodian, batch=2)
    custodian.down = False
    again = ship_town(engine, keys, town_a.lg_code, custodian, batch=2)
    assert again.shipped_seq == len(journal(engine, town_a))
    assert ship_town(engine, keys, town_a.lg_code, custodian, batch=2).chunks == 0
    ranges = sorted(
        (int(c.split("-")[1]), int(c[1:].split("-")[0]))
        for c in custodian.list(town_a.lg_code)
        if c[0] == "j"
    )
    covered = [seq for start, end in ranges for seq in range(start, end + 1)]
    assert covered == list(range(1, again.shipped_seq + 1))  # every entry exactly once


def _custodian_files(root: Path) -> list[bytes]:
    out = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out.append(data)
            for start in range(len(data)):
                try:
                    out.append(zlib.decompressobj().decompress(data[start:]))
                except zlib.error:
                    continue
    return out


def test_no_resident_name_reaches_the_custodian(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, custodian: DirectoryCustodian
) -> None:
    town_a, _ = towns
    body = move_in(7)
    for member in body.persons:
        member.family_name = CANARY
    record(engine, town_a, body)
    ship_town(engine, keys, town_a.lg_code, custodian)
    assert any(CANARY in str(e.payload) for e in journal(engine, town_a))  # the canary is in the journal
    canary = CANARY.encode()
    files = _custodian_files(custodian.root)
    assert files
    assert not [data for data in files if canary in data or CANARY.encode("utf-16-le") in data]
    keyring = keys.root.read_bytes() if keys.root.is_file() else b""
    assert keyring == b""
    for path in keys.root.iterdir():
        secret = path.read_text().strip().encode()
        assert not [data for data in files if secret in data or bytes.fromhex(secret.decode()) in data]


def _make_history(engine: Engine, tenant: Tenant, n: int) -> None:
    for i in range(1, n + 1):
        record(engine, tenant, move_in(i))


def _counts(engine: Engine, tenant: Tenant) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "persons": conn.execute(
                select(func.count()).select_from(Person).where(Person.lg_code == tenant.lg_code)
            ).scalar_one(),
            "pointers": conn.execute(  # moved by the services' bulk UPDATE, which the capture must see
                select(Person.atena_no, Person.current_history_no)
                .where(Person.lg_code == tenant.lg_code)
                .order_by(Person.atena_no)
            ).all(),
            "events": conn.execute(
                select(Event.event_no).where(Event.lg_code == tenant.lg_code).order_by(Event.event_no)
            )
            .scalars()
            .all(),
            "audit_head": tuple(
                conn.execute(
                    select(AuditEntry.seq, AuditEntry.entry_hash)
                    .where(AuditEntry.lg_code == tenant.lg_code)
                    .order_by(AuditEntry.seq.desc())
                    .limit(1)
                ).one()
            ),
        }


def _all_rows(engine: Engine, tenant: Tenant) -> dict[str, list[str]]:
    """Every journaled table's rows of the town, normalised the way the journal writes values."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in metadata().sorted_tables:
            if not capture.is_municipal(table):
                continue
            rows = conn.execute(select(table).where(table.c.lg_code == tenant.lg_code)).mappings()
            out[table.name] = sorted(repr(sorted((k, to_json(v)) for k, v in row.items())) for row in rows)
    return out


def test_site_loss_drill_restores_from_the_custodian_alone(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    _make_history(engine, town_a, 2)
    ship_town(engine, keys, town_a.lg_code, custodian)  # snapshot early, journal after it
    _make_history(engine, town_a, 3)
    with engine.connect() as conn:  # a relocation moves person pointers in one bulk UPDATE
        atena = (
            conn.execute(select(Person.atena_no).where(Person.lg_code == town_a.lg_code)).scalars().first()
        )
    record(engine, town_a, BODY.validate_python({"type": "death", "event_date": days(0), "atena_no": atena}))
    ship_town(engine, keys, town_a.lg_code, custodian)
    expected = _counts(engine, town_a)
    every_row = _all_rows(engine, town_a)
    assert any(history_no > 1 for _, history_no in expected["pointers"])
    # The site is lost: a fresh install restores from the custodian directory and the keys alone.
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    report = restore(
        target, DirectoryCustodian(custodian.root), town_a.lg_code, dict([keys.town(town_a.lg_code)])
    )
    assert report.audit is not None
    assert report.audit.ok, report.audit
    assert report.heads_match
    fresh = make_engine(target)
    try:
        assert _counts(fresh, town_a) == expected
        assert report.audit_head == expected["audit_head"]
        assert _all_rows(fresh, town_a) == every_row  # every column of every row, not only the counts
    finally:
        fresh.dispose()


def test_restore_with_the_escrow_key_when_the_town_key_is_lost(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    _make_history(engine, town_a, 2)
    ship_town(engine, keys, town_a.lg_code, custodian)
    os.remove(keys.root / f"town-{town_a.lg_code}.key")
    report = restore(f"sqlite:///{tmp_path / 'fresh.db'}", custodian, town_a.lg_code, dict([keys.escrow()]))
    assert report.audit is not None
    assert report.audit.ok
    assert report.rows["registry_person"] == 4


def test_restore_refuses_a_flipped_byte_naming_the_chunk(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    ship_town(engine, keys, town_a.lg_code, custodian)
    _make_history(engine, town_a, 1)
    ship_town(engine, keys, town_a.lg_code, custodian)
    victim = next(c for c in custodian.list(town_a.lg_code) if c.startswith("j"))
    path = custodian.root / town_a.lg_code / f"{victim}.chunk"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    target = tmp_path / "fresh.db"
    with pytest.raises(ChunkCorrupt, match=victim):
        restore(f"sqlite:///{target}", custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    assert not target.exists()  # refused before anything was written


def test_restore_until_a_sequence_stops_there(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    ship_town(engine, keys, town_a.lg_code, custodian)
    snapshot_seq = len(journal(engine, town_a))
    _make_history(engine, town_a, 3)
    ship_town(engine, keys, town_a.lg_code, custodian)
    report = restore(
        f"sqlite:///{tmp_path / 'fresh.db'}",
        custodian,
        town_a.lg_code,
        dict([keys.town(town_a.lg_code)]),
        until=snapshot_seq + 1,
    )
    assert report.journal_seq == snapshot_seq + 1
    assert report.heads_match  # nothing recorded to compare with at an arbitrary point
    assert report.audit is not None
    assert report.audit.ok
    assert report.rows["registry_person"] == 2


@pytest.fixture
def fresh_pg_url(pg_url: str | None) -> Iterator[str]:
    """An empty PostgreSQL database (a fresh install), dropped afterwards."""
    if pg_url is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    name = f"jichitai_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_site_loss_drill_restores_into_a_fresh_postgresql(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    fresh_pg_url: str,
) -> None:
    town_a, _ = towns
    load_population(engine, town_a, 12, 3, actor="test")
    _make_history(engine, town_a, 3)
    ship_town(engine, keys, town_a.lg_code, custodian, batch=2)
    expected = _counts(engine, town_a)
    report = restore(fresh_pg_url, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    assert report.audit is not None
    assert report.audit.ok, report.audit
    assert report.heads_match
    fresh = make_engine(fresh_pg_url)
    try:
        assert _counts(fresh, town_a) == expected
        assert _all_rows(fresh, town_a) == _all_rows(engine, town_a)  # COPY path: every column survives
    finally:
        fresh.dispose()


def test_restore_without_copy_rights_inserts_the_same_rows(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    fresh_pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A role under row-level security may not COPY FROM: the restore falls back to ordinary inserts."""
    town_a, _ = towns
    load_population(engine, town_a, 8, 5, actor="test")
    ship_town(engine, keys, town_a.lg_code, custodian)
    monkeypatch.setattr(bulk_rows, "may_copy_from", lambda _conn: False)
    report = restore(fresh_pg_url, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    assert report.audit is not None
    assert report.audit.ok
    fresh = make_engine(fresh_pg_url)
    try:
        assert _all_rows(fresh, town_a) == _all_rows(engine, town_a)
    finally:
        fresh.dispose()


def test_a_bulk_load_is_covered_by_a_fresh_snapshot(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    first = ship_town(engine, keys, town_a.lg_code, custodian)
    load_population(engine, town_a, 30, 7, actor="test")
    _make_history(engine, town_a, 1)
    again = ship_town(engine, keys, town_a.lg_code, custodian)
    assert first.snapshot
    assert again.snapshot
    expected = _counts(engine, town_a)
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    restore(target, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    fresh = make_engine(target)
    try:
        assert _counts(fresh, town_a) == expected
    finally:
        fresh.dispose()
    with pytest.raises(RestoreRefused, match="bulk load"):
        restore(
            f"sqlite:///{tmp_path / 'older.db'}",
            custodian,
            town_a.lg_code,
            dict([keys.town(town_a.lg_code)]),
            until=first.shipped_seq + 1,
        )
