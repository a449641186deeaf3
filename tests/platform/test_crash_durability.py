"""Durability of the primary (DESIGN §3.5, issue 5): SIGKILL a writer at random, lose nothing acknowledged.

A child process (tests/platform/crash_writer.py) opens the database with the product's ``make_engine`` and
records real 異動 through ``services.record_event`` as fast as it can, in two towns; after each commit
returned it appends the event to an ack file and fsyncs it. The parent kills it with SIGKILL at a random
moment, many times on the same database, and after every kill checks:

- every acknowledged event is there, with exactly the persons acknowledged, their snapshots and audit entries;
- no event number was handed out twice, and event numbers, 宛名番号 and 世帯番号 stay gap-free per town;
- no transaction is half there: every event has both of its persons, their records and their audit entries;
- each town's audit hash chain verifies;
- SQLite: the WAL is recovered, ``PRAGMA integrity_check`` and ``quick_check`` answer ``ok`` and a full
  checkpoint completes; PostgreSQL: the killed session is gone from the server.

The kill points are drawn from a seeded generator: set ``JICHITAI_CRASH_SEED`` to replay a failing run's seed
(printed in every assertion message) and ``JICHITAI_CRASH_ROUNDS`` for a longer soak.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select

from jichitai.modules.registry.records.models import Event, EventPerson, Household, Person, PersonRecord
from jichitai.platform.audit import AuditEntry, verify_chain
from jichitai.platform.db import is_sqlite, read_session
from jichitai.platform.tenancy import Tenant, TenantSequence

WRITER = Path(__file__).with_name("crash_writer.py")
ROUNDS = int(os.environ.get("JICHITAI_CRASH_ROUNDS", "20"))
APPLICATION_NAME = "jichitai-crash-writer"
KILL_AFTER = (0.02, 0.6)
"""Seconds between the writer's ``ready`` line and the SIGKILL (uniform)."""


@dataclass
class Ledger:
    """What the killed writers acknowledged, read back from the ack file."""

    acked: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)

    def read(self, path: Path) -> None:
        self.acked.clear()
        self.duplicates.clear()
        data = path.read_bytes() if path.exists() else b""
        # Only whole lines count: a line cut by the kill was never acknowledged.
        for line in data.decode().splitlines(keepends=True):
            if not line.endswith("\n"):
                continue
            lg_code, event_no, atenas = line.split()
            key = (lg_code, int(event_no))
            if key in self.acked:
                self.duplicates.append(line.strip())
            self.acked[key] = set(atenas.split(","))


def start_writer(url: str, ack_file: Path, tenants: tuple[Tenant, ...], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, str(WRITER), url, str(ack_file), ",".join(t.lg_code for t in tenants)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float, why: str) -> dict[str, str]:
    """The settings the writer printed on its ``ready`` line."""
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout], [], [], timeout)
    assert readable, f"writer not ready within {timeout} s; {why}"
    line = proc.stdout.readline().decode()
    assert line.startswith("ready"), f"writer failed to start ({line!r}): {tail(log)}; {why}"
    return dict(pair.split("=", 1) for pair in line.split()[1:])


def reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


def check_sqlite_file(path: Path, rng: random.Random, why: str) -> None:
    """Open the crashed file afresh (SQLite recovers the WAL on open) and check it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], why
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)], why
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",), why
        if rng.random() < 0.5:
            # Half of the rounds checkpoint the recovered WAL completely; the others leave it to grow across
            # crashes, so later writers start on a WAL that earlier crashes left behind.
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0, why
    finally:
        conn.close()


def wait_session_gone(engine: Engine, why: str) -> None:
    """The killed writer's backend ends (its open transaction rolled back) before the checks run."""
    deadline = time.monotonic() + 30
    while True:
        with engine.connect() as conn:
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(name)s"
                " AND datname = current_database()",
                {"name": APPLICATION_NAME},
            ).scalar_one()
        if left == 0:
            return
        assert time.monotonic() < deadline, f"killed writer's session still on the server; {why}"
        time.sleep(0.05)


def check_database(engine: Engine, tenants: tuple[Tenant, ...], ledger: Ledger, why: str) -> dict[str, int]:
    """Every acknowledged event is there, nothing is half there, counters are gap-free, chains verify."""
    assert ledger.duplicates == [], f"event numbers acknowledged twice: {ledger.duplicates[:5]}; {why}"
    unacked_committed = 0
    with read_session(engine) as session:
        for tenant in tenants:
            lg = tenant.lg_code
            events = set(session.scalars(sql_select(Event.event_no).where(Event.lg_code == lg)))
            top = max(events, default=0)
            assert events == set(range(1, top + 1)), f"{lg}: event numbers not gap-free; {why}"
            counters = dict(
                session.execute(
                    sql_select(TenantSequence.name, TenantSequence.last_value).where(
                        TenantSequence.lg_code == lg
                    )
                ).all()
            )
            assert counters.get("event", 0) == top, f"{lg}: event counter {counters} vs {top}; {why}"

            links: defaultdict[int, set[str]] = defaultdict(set)
            for event_no, atena_no in session.execute(
                sql_select(EventPerson.event_no, EventPerson.atena_no).where(EventPerson.lg_code == lg)
            ).all():
                links[event_no].add(atena_no)
            assert set(links) == events, f"{lg}: events without persons or persons without events; {why}"
            assert all(len(a) == 2 for a in links.values()), f"{lg}: an event lost a person; {why}"

            acked = {no: atenas for (code, no), atenas in ledger.acked.items() if code == lg}
            lost = sorted(set(acked) - events)
            assert lost == [], f"{lg}: acknowledged events lost: {lost}; {why}"
            wrong = sorted(no for no, atenas in acked.items() if links[no] != atenas)
            assert wrong == [], f"{lg}: events whose persons differ from the acknowledgement: {wrong}; {why}"
            unacked_committed += len(events - set(acked))

            persons = dict(
                session.execute(
                    sql_select(Person.atena_no, Person.created_event_no).where(Person.lg_code == lg)
                ).all()
            )
            expected = {atena: no for no, atenas in links.items() for atena in atenas}
            assert persons == expected, f"{lg}: persons differ from the events that created them; {why}"
            records = set(
                session.execute(
                    sql_select(PersonRecord.atena_no, PersonRecord.event_no).where(
                        PersonRecord.lg_code == lg, PersonRecord.is_current.is_(True)
                    )
                ).all()
            )
            assert records == set(expected.items()), f"{lg}: person records differ from events; {why}"
            households = session.scalar(
                sql_select(func.count()).select_from(Household).where(Household.lg_code == lg)
            )
            assert counters.get("atena", 0) == len(persons), f"{lg}: 宛名番号 counter not gap-free; {why}"
            assert counters.get("household", 0) == households, f"{lg}: 世帯番号 counter not gap-free; {why}"

            audited = {
                (subject, details["event_no"])
                for subject, details in session.execute(
                    sql_select(AuditEntry.subject, AuditEntry.details).where(
                        AuditEntry.lg_code == lg, AuditEntry.action == "registry:event:record"
                    )
                ).all()
            }
            assert audited == set(expected.items()), f"{lg}: audit entries differ from events; {why}"
            verdict = verify_chain(session, tenant)
            assert verdict.ok, f"{lg}: audit chain broken: {verdict}; {why}"
    return {"acked": len(ledger.acked), "unacked_committed": unacked_committed}


def test_sigkilled_writer_loses_no_acknowledged_event(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    seed = int(os.environ.get("JICHITAI_CRASH_SEED", str(random.SystemRandom().randrange(2**32))))
    rng = random.Random(seed)
    url = engine.url
    if not is_sqlite(engine):
        url = url.update_query_dict({"application_name": APPLICATION_NAME})
    child_url = url.render_as_string(hide_password=False)
    ack_file = tmp_path / "acks.log"
    log = tmp_path / "writer.stderr"
    ledger = Ledger()
    stats: list[dict[str, int]] = []
    for round_no in range(1, ROUNDS + 1):
        why = f"{engine.dialect.name} seed={seed} round={round_no}/{ROUNDS} (JICHITAI_CRASH_SEED={seed})"
        engine.dispose()  # the parent holds no connection while the writer runs and dies
        delay = rng.uniform(*KILL_AFTER)
        proc = start_writer(child_url, ack_file, towns, log)
        try:
            seen = wait_ready(proc, log, 60, why)
            if is_sqlite(engine):
                assert seen == {"journal_mode": "wal", "synchronous": "2"}, why  # 2 = FULL
            else:
                assert seen == {"synchronous_commit": "on", "fsync": "on"}, why
            time.sleep(delay)
            assert proc.poll() is None, f"writer died by itself: {tail(log)}; {why}"
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL, why
        finally:
            reap(proc)
        if is_sqlite(engine):
            check_sqlite_file(Path(str(engine.url.database)), rng, why)
        else:
            wait_session_gone(engine, why)
        ledger.read(ack_file)
        stats.append(check_database(engine, towns, ledger, why))
    assert stats[-1]["acked"] > ROUNDS, (
        f"the writer acknowledged too little to prove anything: {stats}; seed={seed}"
    )
