"""Background work proportional to work: an idle pass of the signer, the shipper and the drill look costs
the same few statements for 2 towns as for 30, a town with something to do is still worked on, and a
commit wakes the shipper at once (issue 12)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from jichitai.platform import periodic
from jichitai.platform.audit import Entry, append_entries
from jichitai.platform.audit_schedule import sign_due_heads
from jichitai.platform.db import UnitOfWork, read_session, utcnow
from jichitai.platform.jobs import Scheduler
from jichitai.platform.jp.checkdigits import lg_code_check_digit
from jichitai.platform.modules import catalog
from jichitai.platform.offsite import capture, wake
from jichitai.platform.offsite.custodian import DirectoryCustodian, parse_chunk_id
from jichitai.platform.offsite.drills import record as record_drill
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import (
    ShipResult,
    add_custodian,
    drills_due,
    run_due_drills,
    ship_due,
)
from jichitai.platform.tenancy import ALL_TOWNS, Tenant, create_municipality
from jichitai.settings import Settings

WEEK = dt.timedelta(days=7)


@pytest.fixture(autouse=True)
def _capture() -> None:
    capture.install()  # as in the app and the CLI: every town change is journaled


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys")
    store.init_escrow()
    return store


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database inside the block (cursor executions, declarations included)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def statements(engine: Engine, work: Callable[[], object]) -> int:
    with counted(engine) as seen:
        work()
    return len(seen)


def add_towns(engine: Engine, count: int) -> list[str]:
    """Register ``count`` more towns (valid 全国地方公共団体コード in prefecture 47, unused by fixtures)."""
    codes = []
    for n in range(count):
        body = f"47{n + 300:03d}"
        code = f"{body}{lg_code_check_digit(body)}"
        with UnitOfWork(engine) as uow:
            create_municipality(
                uow,
                lg_code=code,
                name=f"試験町{n}",
                name_kana="シケンチョウ",
                prefecture="沖縄県",
                actor="test",
            )
        codes.append(code)
    return codes


def write(engine: Engine, lg_code: str, count: int = 1) -> None:
    """Append audit entries to a town in one transaction (a change its journal records too)."""
    with UnitOfWork(engine, tenant=lg_code) as uow:
        append_entries(
            uow.session, Tenant(lg_code), [Entry(actor="suzuki", action="registry:resident:read")] * count
        )
        uow.commit()


def all_codes(engine: Engine) -> list[str]:
    from jichitai.platform.tenancy import list_municipalities

    with read_session(engine, tenant=ALL_TOWNS) as session:
        return [m.lg_code for m in list_municipalities(session)]


def held_seq(custodian: DirectoryCustodian, lg_code: str) -> int:
    return max(
        (
            to
            for kind, _, to in map(parse_chunk_id, custodian.list(lg_code))
            if kind in ("journal", "snapshot")
        ),
        default=0,
    )


def bring_up_to_date(engine: Engine, keys: KeyStore, key_dir: Path, custodian: DirectoryCustodian) -> None:
    """Every town signed, registered with the custodian, shipped, and drilled just now (so nothing is due)."""
    with read_session(engine, tenant=ALL_TOWNS) as session:
        from jichitai.platform.offsite.shipper import OffsiteCustodian

        registered = {row.lg_code for row in session.query(OffsiteCustodian)}
    for code in all_codes(engine):
        if code not in registered:
            with UnitOfWork(engine) as uow:
                add_custodian(uow, code, str(custodian.root))
    sign_due_heads(engine, key_dir, every_entries=1)
    ship_due(engine, keys)
    # A recorded drill (here a failed one: it costs nothing to make) is a drill that is not due for a week.
    with read_session(engine, tenant=ALL_TOWNS) as session:
        undrilled = drills_due(session, WEEK)
    for code, location in undrilled:
        record_drill(engine, code, location, utcnow(), None, "test: recorded, not run")


def idle_costs(engine: Engine, keys: KeyStore, key_dir: Path) -> dict[str, int]:
    """Statements of one idle pass of each job's work, and that each pass found nothing to do."""
    costs: dict[str, int] = {}
    found: dict[str, object] = {}

    def sign() -> None:
        found["sign"] = sign_due_heads(engine, key_dir, every_entries=1)

    def ship() -> None:
        found["ship"] = ship_due(engine, keys)

    def drill() -> None:
        found["drill"] = run_due_drills(engine, keys, WEEK)

    for name, work in (("sign", sign), ("ship", ship), ("drill", drill)):
        costs[name] = statements(engine, work)
    assert found == {"sign": [], "ship": [], "drill": 0}
    return costs


def test_an_idle_pass_costs_the_same_for_2_towns_as_for_30_and_due_towns_are_still_worked_on(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    key_dir = tmp_path / "audit-keys"
    custodian = DirectoryCustodian(tmp_path / "custodian")
    bring_up_to_date(engine, keys, key_dir, custodian)
    few = idle_costs(engine, keys, key_dir)

    add_towns(engine, 28)
    bring_up_to_date(engine, keys, key_dir, custodian)
    assert len(all_codes(engine)) == 30
    many = idle_costs(engine, keys, key_dir)
    assert many == few
    assert max(few.values()) <= 3  # the discovery query, and its declaration on PostgreSQL

    # One town changes: the next passes sign it and ship it, and only it.
    town = towns[1].lg_code
    write(engine, town, 1)
    signed = sign_due_heads(engine, key_dir, every_entries=1)
    assert [(head.lg_code, head.seq) for head in signed] == [(town, signed[0].seq)]
    before = held_seq(custodian, town)
    shipped = ship_due(engine, keys)
    assert [(r.lg_code, r.busy) for r in shipped if isinstance(r, ShipResult)] == [(town, False)]
    assert len(shipped) == 1
    assert held_seq(custodian, town) > before
    assert idle_costs(engine, keys, key_dir) == few

    # A drill becomes due again after its interval; the grouped look names just that custodian.
    with read_session(engine, tenant=ALL_TOWNS) as session:
        assert drills_due(session, WEEK) == []
        assert len(drills_due(session, WEEK, now=utcnow() + WEEK)) == 30


def test_a_failing_custodian_waits_before_it_is_tried_again(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    town = towns[0].lg_code
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the custodian's directory should be")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town, str(blocker))
    (failed,) = ship_due(engine, keys)
    assert isinstance(failed, str)  # the error is recorded on the custodian's row, not raised
    write(engine, town, 1)
    assert ship_due(engine, keys) == []  # behind, but it failed a moment ago
    assert len(ship_due(engine, keys, now=utcnow() + dt.timedelta(minutes=1))) == 1


def test_a_commit_that_journals_a_change_wakes_the_shipper(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    town = towns[0].lg_code
    wake.clear()
    with UnitOfWork(engine, tenant=town) as uow:
        append_entries(uow.session, Tenant(town), [Entry(actor="suzuki", action="registry:resident:read")])
        # not committed: rolled back at the end of the block
    assert not wake.pending()
    with read_session(engine, tenant=town) as session:
        session.commit()
    assert not wake.pending()  # nothing journaled
    write(engine, town, 1)
    assert wake.pending()


def test_the_shipping_session_ships_a_commit_at_once_and_ends_with_the_scheduler(
    engine: Engine, towns: tuple[Tenant, Tenant], keys: KeyStore, tmp_path: Path
) -> None:
    town = towns[0].lg_code
    custodian = DirectoryCustodian(tmp_path / "custodian")
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town, str(custodian.root))
    # The fallback poll is far longer than this test waits: only the commit's wake-up can ship in time.
    settings = Settings(key_dir=keys.root.parent, offsite_ship_interval=600, audit_sign_interval=0)
    scheduler = Scheduler(engine, settings, [catalog().jobs[periodic.SHIP_JOB]])
    scheduler.start()
    try:
        wait_until(lambda: held_seq(custodian, town) > 0)  # the session's first pass: the snapshot
        first = held_seq(custodian, town)
        write(engine, town, 1)
        wait_until(lambda: held_seq(custodian, town) > first)
        write(engine, town, 2)
        write(engine, town, 3)
        second = held_seq(custodian, town)
        wait_until(lambda: held_seq(custodian, town) >= second + 2)
    finally:
        scheduler.stop(timeout=20)
    assert not [t for t in threading.enumerate() if t.name == f"job:{periodic.SHIP_JOB}"]


def wait_until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Wait for an outcome (never a measurement: the limit only keeps a broken test from hanging)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)
