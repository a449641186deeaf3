"""The one job scheduler: a job runs under a lease, so two schedulers on one database never run it at once;
a dead holder's lease expires; an interval of 0 turns a job off; a failing job is recorded, never raised."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jichitai.platform.db import utcnow
from jichitai.platform.jobs import PlatformJob, Scheduler, claim, finish, run_job_once
from jichitai.platform.modules import JobContext, JobSpec
from jichitai.settings import Settings

MINUTE = dt.timedelta(minutes=1)


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


class Recorded:
    """A job that notes when each run started and ended (and optionally fails)."""

    def __init__(self, name: str, interval: float, hold: float = 0.03, fail: bool = False) -> None:
        self.runs: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        self.hold = hold
        self.fail = fail
        self.spec = JobSpec(name, "試験用のジョブ", interval=lambda _settings: interval, run=self.run)

    def run(self, _context: JobContext) -> None:
        began = time.monotonic()
        time.sleep(self.hold)
        with self.lock:
            self.runs.append((began, time.monotonic()))
        if self.fail:
            raise RuntimeError("試験用の失敗")

    def count(self) -> int:
        with self.lock:
            return len(self.runs)


def job_row(engine: Engine, name: str) -> PlatformJob | None:
    with Session(engine) as session:
        return session.get(PlatformJob, name)


def test_two_schedulers_on_one_database_never_run_a_job_at_once(engine: Engine, tmp_path: Path) -> None:
    job = Recorded("test.record", interval=0.001)
    settings = Settings(var_dir=tmp_path)
    first = Scheduler(engine, settings, [job.spec], tick=0.002)
    second = Scheduler(engine, settings, [job.spec], tick=0.002)
    assert first.holder != second.holder
    first.start()
    second.start()
    try:
        assert wait_for(lambda: job.count() >= 10)
    finally:
        first.stop()
        second.stop()
    runs = sorted(job.runs)
    for (_, ended), (began, _) in pairwise(runs):
        assert began >= ended  # each run starts only after the previous one ended, whoever ran it
    row = job_row(engine, "test.record")
    assert row is not None
    assert (row.holder, row.lease_until, row.last_ok) == (None, None, True)


def test_the_interval_is_kept_across_schedulers(engine: Engine) -> None:
    now = utcnow()
    assert claim(engine, "test.hourly", "worker-1", interval=60 * MINUTE, now=now).taken
    finish(engine, "test.hourly", "worker-1", None)
    later = claim(engine, "test.hourly", "worker-2", interval=60 * MINUTE, now=now + MINUTE)
    assert not later.taken  # another worker does not run it again within the hour
    assert later.retry_at == now + 60 * MINUTE
    assert claim(engine, "test.hourly", "worker-2", interval=60 * MINUTE, now=now + 61 * MINUTE).taken


def test_a_dead_holders_lease_expires(engine: Engine, tmp_path: Path) -> None:
    now = utcnow()
    assert claim(engine, "test.lease", "dead", interval=None, lease=MINUTE, now=now).taken
    held = claim(engine, "test.lease", "alive", interval=None, now=now + MINUTE / 2)
    assert not held.taken
    assert held.retry_at == now + MINUTE
    assert claim(engine, "test.lease", "alive", interval=None, now=now + 2 * MINUTE).taken
    finish(engine, "test.lease", "dead", "too late")  # the dead holder's late finish changes nothing
    row = job_row(engine, "test.lease")
    assert row is not None
    assert (row.holder, row.last_error) == ("alive", None)

    # A scheduler takes over a job whose holder died, once the lease has run out.
    job = Recorded("test.takeover", interval=0.01)
    assert claim(engine, "test.takeover", "dead", interval=None, lease=dt.timedelta(seconds=1)).taken
    scheduler = Scheduler(engine, Settings(var_dir=tmp_path), [job.spec], tick=0.01)
    began = time.monotonic()
    scheduler.start()
    try:
        assert wait_for(lambda: job.count() >= 1)
    finally:
        scheduler.stop()
    assert job.runs[0][0] - began >= 0.5  # it waited for the dead holder's lease


def test_interval_zero_turns_a_job_off(engine: Engine, tmp_path: Path) -> None:
    off = Recorded("test.off", interval=0)
    scheduler = Scheduler(engine, Settings(var_dir=tmp_path), [off.spec], tick=0.01)
    scheduler.start()
    assert not scheduler.running
    scheduler.stop()
    assert off.count() == 0
    assert job_row(engine, "test.off") is None


def test_a_failing_job_is_recorded_and_the_scheduler_goes_on(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Recorded("test.failing", interval=0.01, hold=0, fail=True)
    scheduler = Scheduler(engine, Settings(var_dir=tmp_path), [failing.spec], tick=0.01)
    scheduler.start()
    try:
        assert wait_for(lambda: failing.count() >= 3)  # it keeps being tried
        assert scheduler.running
    finally:
        scheduler.stop()
    row = job_row(engine, "test.failing")
    assert row is not None
    assert row.last_ok is False
    assert row.last_error == "RuntimeError: 試験用の失敗"
    assert "job test.failing failed" in caplog.text


def test_run_job_once_respects_the_lease(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert claim(engine, "feeds.dispatch", "a-worker", interval=None).taken
    busy = run_job_once(engine, settings, "feeds.dispatch")
    assert (busy.ran, busy.ok) == (False, False)
    finish(engine, "feeds.dispatch", "a-worker", None)
    done = run_job_once(engine, settings, "feeds.dispatch")
    assert (done.ran, done.ok) == (True, True)
    with pytest.raises(KeyError):
        run_job_once(engine, settings, "no.such.job")


def test_the_platform_declares_its_periodic_work_as_jobs(tmp_path: Path, engine: Engine) -> None:
    settings = Settings(var_dir=tmp_path, offsite_drill_interval=7 * 24 * 3600)
    scheduler = Scheduler(engine, settings)
    # The feed dispatcher is off while no module consumes a feed.
    assert sorted(scheduler.jobs) == [
        "audit.sign",
        "metering.flush",
        "metering.measure",
        "offsite.drills",
        "offsite.ship",
    ]
    assert scheduler.jobs["offsite.drills"][1] == dt.timedelta(hours=1)  # looks hourly for due drills
    quiet = Settings(var_dir=tmp_path, audit_sign_interval=0, offsite_ship_interval=0, metering_interval=0)
    assert Scheduler(engine, quiet).jobs == {}
