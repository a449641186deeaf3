"""Snapshots in parts, pruning at the custodian and restoring to a point in time."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from jichitai.devdata.registry.bulk import load_population
from jichitai.platform.db import UnitOfWork, make_engine
from jichitai.platform.offsite import restore as restore_module
from jichitai.platform.offsite.custodian import DirectoryCustodian, parse_chunk_id
from jichitai.platform.offsite.envelope import ChunkCorrupt
from jichitai.platform.offsite.journal import JournalEntry
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.restore import RestoreRefused, restore, verify_custodian
from jichitai.platform.offsite.shipper import (
    OffsiteCustodian,
    ShipResult,
    _lease,
    add_custodian,
    ship_all,
    ship_town,
)
from jichitai.platform.tenancy import Municipality, Tenant

from .test_journal_shipping import _all_rows, _make_history, journal


def _kinds(custodian: DirectoryCustodian, lg_code: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"journal": [], "snapshot": [], "snapshot-part": []}
    for cid in custodian.list(lg_code):
        out[parse_chunk_id(cid)[0]].append(cid)
    return out


def _town_exists(url: str, lg_code: str) -> bool:
    fresh = make_engine(url)
    try:
        with fresh.connect() as conn:
            found = conn.execute(select(Municipality.lg_code).where(Municipality.lg_code == lg_code)).first()
            return found is not None
    finally:
        fresh.dispose()


def test_a_town_is_shipped_in_parts_and_restored_row_for_row(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    load_population(engine, town_a, 40, 11, actor="test")
    _make_history(engine, town_a, 2)
    result = ship_town(engine, keys, town_a.lg_code, custodian, part_rows=7)
    held = _kinds(custodian, town_a.lg_code)
    assert result.snapshot
    assert len(held["snapshot"]) == 1
    assert len(held["snapshot-part"]) > 6  # 40+ residents at 7 rows a part, plus their other tables
    assert result.chunks == len(held["snapshot-part"]) + 1 + len(held["journal"])
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    report = restore(target, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    assert report.audit is not None
    assert report.audit.ok
    assert report.heads_match
    fresh = make_engine(target)
    try:
        assert _all_rows(fresh, town_a) == _all_rows(engine, town_a)
    finally:
        fresh.dispose()


@pytest.mark.parametrize("damage", ["missing", "swapped", "flipped"])
def test_a_damaged_part_is_refused_by_name_and_nothing_is_kept(
    damage: str,
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    load_population(engine, town_a, 30, 5, actor="test")
    ship_town(engine, keys, town_a.lg_code, custodian, part_rows=5)
    parts = _kinds(custodian, town_a.lg_code)["snapshot-part"]
    victim, other = parts[-1], parts[-2]
    folder = custodian.root / town_a.lg_code
    if damage == "missing":
        (folder / f"{victim}.chunk").unlink()
    elif damage == "swapped":  # a valid chunk of the same snapshot under another part's name
        (folder / f"{victim}.chunk").write_bytes((folder / f"{other}.chunk").read_bytes())
        (folder / f"{victim}.keys").write_bytes((folder / f"{other}.keys").read_bytes())
    else:
        data = bytearray((folder / f"{victim}.chunk").read_bytes())
        data[-20] ^= 0x01
        (folder / f"{victim}.chunk").write_bytes(bytes(data))
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(ChunkCorrupt, match=victim):
        restore(target, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    if (tmp_path / "fresh.db").exists():  # a part is checked while applying: all of it was rolled back
        assert not _town_exists(target, town_a.lg_code)


def test_pruning_keeps_the_newest_snapshots_and_the_journal_after_the_oldest(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    snapshots = []
    for round_no in range(4):
        _make_history(engine, town_a, 2)
        result = ship_town(engine, keys, town_a.lg_code, custodian, force_snapshot=True, keep_snapshots=2)
        assert result.snapshot
        snapshots.append(result.shipped_seq)
        if round_no >= 2:
            assert result.pruned > 0
    held = _kinds(custodian, town_a.lg_code)
    kept = sorted(parse_chunk_id(cid)[2] for cid in held["snapshot"])
    assert kept == snapshots[-2:]
    assert all(parse_chunk_id(cid)[2] in kept for cid in held["snapshot-part"])
    assert all(parse_chunk_id(cid)[2] > kept[0] for cid in held["journal"])
    with pytest.raises(RestoreRefused, match="no snapshot"):
        restore(
            f"sqlite:///{tmp_path / 'old.db'}",
            custodian,
            town_a.lg_code,
            dict([keys.town(town_a.lg_code)]),
            until=snapshots[0],
        )
    report = restore(
        f"sqlite:///{tmp_path / 'mid.db'}",
        custodian,
        town_a.lg_code,
        dict([keys.town(town_a.lg_code)]),
        until=kept[0] + 1,
    )
    assert (report.snapshot_seq, report.journal_seq) == (kept[0], kept[0] + 1)
    assert report.audit is not None
    assert report.audit.ok


def test_an_interrupted_snapshot_is_ignored_then_pruned(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    town_a, _ = towns

    class Breaking(DirectoryCustodian):
        puts = 0
        fail_at = 3

        def put(self, lg_code: str, chunk_id: str, blob: bytes, wraps: dict[str, str]) -> None:
            self.puts += 1
            if self.puts == self.fail_at:
                raise OSError("connection reset")
            super().put(lg_code, chunk_id, blob, wraps)

    custodian = Breaking(tmp_path / "custodian")
    custodian.fail_at = 10_000
    load_population(engine, town_a, 20, 3, actor="test")
    ship_town(engine, keys, town_a.lg_code, custodian, part_rows=4)
    _make_history(engine, town_a, 1)
    custodian.puts, custodian.fail_at = 0, 3
    with pytest.raises(OSError, match="reset"):
        ship_town(engine, keys, town_a.lg_code, custodian, part_rows=4, force_snapshot=True)
    report = restore(
        f"sqlite:///{tmp_path / 'a.db'}", custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)])
    )
    assert report.audit is not None
    assert report.audit.ok  # the half-shipped snapshot has no manifest, so the complete one is used
    _make_history(engine, town_a, 1)
    custodian.fail_at = 10_000
    ship_town(engine, keys, town_a.lg_code, custodian, part_rows=4, force_snapshot=True, keep_snapshots=1)
    held = _kinds(custodian, town_a.lg_code)
    (newest,) = [parse_chunk_id(cid)[2] for cid in held["snapshot"]]
    assert {parse_chunk_id(cid)[2] for cid in held["snapshot-part"]} == {newest}


def test_restore_until_a_time_stops_at_the_last_change_before_it(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
) -> None:
    town_a, _ = towns
    _make_history(engine, town_a, 1)
    ship_town(engine, keys, town_a.lg_code, custodian)
    _make_history(engine, town_a, 2)
    time.sleep(0.05)
    moment = dt.datetime.now(dt.UTC)
    last_before = len(journal(engine, town_a))
    time.sleep(0.05)
    _make_history(engine, town_a, 2)
    ship_town(engine, keys, town_a.lg_code, custodian)
    with engine.connect() as conn:
        recorded = conn.execute(
            select(JournalEntry.recorded_at).where(
                JournalEntry.lg_code == town_a.lg_code, JournalEntry.seq == last_before
            )
        ).scalar_one()
    assert recorded.replace(tzinfo=dt.UTC) <= moment
    report = restore(
        f"sqlite:///{tmp_path / 'fresh.db'}",
        custodian,
        town_a.lg_code,
        dict([keys.town(town_a.lg_code)]),
        until_time=moment,
    )
    assert report.journal_seq == last_before
    assert report.audit is not None
    assert report.audit.ok
    with pytest.raises(RestoreRefused, match="nothing as old"):
        restore(
            f"sqlite:///{tmp_path / 'early.db'}",
            custodian,
            town_a.lg_code,
            dict([keys.town(town_a.lg_code)]),
            until_time=moment - dt.timedelta(days=3650),
        )


def test_one_shipper_at_a_time_per_custodian(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, custodian: DirectoryCustodian
) -> None:
    """Server workers and a cron pass must not ship the same snapshot twice at once (same part ids)."""
    town_a, _ = towns
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town_a.lg_code, str(custodian.root))
    assert _lease(engine, town_a.lg_code, str(custodian.root), "another-worker")
    (busy,) = ship_all(engine, keys, lg_code=town_a.lg_code)
    assert isinstance(busy, ShipResult)
    assert busy.busy
    assert custodian.list(town_a.lg_code) == []
    with engine.begin() as conn:  # the other worker died an hour ago: its lease has run out
        conn.execute(
            update(OffsiteCustodian)
            .where(OffsiteCustodian.lg_code == town_a.lg_code)
            .values(lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    (done,) = ship_all(engine, keys, lg_code=town_a.lg_code)
    assert isinstance(done, ShipResult)
    assert not done.busy
    assert done.snapshot
    assert _lease(engine, town_a.lg_code, str(custodian.root), "next")  # released after the pass


def test_a_pass_that_died_before_writing_the_heads_is_repaired(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    """heads.json is written after each chunk: a crash between the two leaves it behind, never wrong after."""
    town_a, _ = towns

    class DiesBeforeHeads(DirectoryCustodian):
        dying = False

        def put_heads(self, lg_code: str, heads: dict[str, Any]) -> None:
            if self.dying:
                raise OSError("killed")
            super().put_heads(lg_code, heads)

    custodian = DiesBeforeHeads(tmp_path / "custodian")
    _make_history(engine, town_a, 1)
    ship_town(engine, keys, town_a.lg_code, custodian)
    _make_history(engine, town_a, 2)
    custodian.dying = True
    with pytest.raises(OSError, match="killed"):
        ship_town(engine, keys, town_a.lg_code, custodian)
    stale = custodian.heads(town_a.lg_code)
    assert stale is not None
    newest = len(journal(engine, town_a))
    assert stale["journal"]["seq"] < newest  # the chunk got there, its heads did not
    town_key = dict([keys.town(town_a.lg_code)])
    assert verify_custodian(engine, custodian, town_a.lg_code, town_key).heads_match
    custodian.dying = False
    ship_town(engine, keys, town_a.lg_code, custodian)  # nothing new to ship: the heads are repaired
    repaired = custodian.heads(town_a.lg_code)
    assert repaired is not None
    assert repaired["journal"]["seq"] == newest
    _make_history(engine, town_a, 1)
    ship_town(engine, keys, town_a.lg_code, custodian)
    fresh_heads = custodian.heads(town_a.lg_code)
    assert fresh_heads is not None
    assert fresh_heads["journal"]["seq"] == len(journal(engine, town_a))
    report = restore(
        f"sqlite:///{tmp_path / 'fresh.db'}", custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)])
    )
    assert report.heads_match
    assert report.audit is not None
    assert report.audit.ok
    result = verify_custodian(engine, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    assert result.heads_match


def test_a_restore_that_writes_fewer_rows_than_the_manifest_counts_is_refused(
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    keys: KeyStore,
    custodian: DirectoryCustodian,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection: an insert path that silently drops a row (as a bad driver conversion would)."""
    town_a, _ = towns
    load_population(engine, town_a, 20, 5, actor="test")
    ship_town(engine, keys, town_a.lg_code, custodian, part_rows=7)
    original = restore_module._insert_part

    def lossy(conn: Any, tables: Any, body: dict[str, Any], cid: str) -> int:
        if body["table"] == "registry_event_person" and len(body["rows"]) > 1:
            body = {**body, "rows": body["rows"][:-1]}
        return original(conn, tables, body, cid)

    monkeypatch.setattr(restore_module, "_insert_part", lossy)
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(RestoreRefused, match=r"registry_event_person: \d+ rows expected, \d+ found"):
        restore(target, custodian, town_a.lg_code, dict([keys.town(town_a.lg_code)]))
    assert not _town_exists(target, town_a.lg_code)
