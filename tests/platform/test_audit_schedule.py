"""Periodic signing of the chains' heads: who is due, the scheduled job, and a prompt stop."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jichitai.app import create_app
from jichitai.platform import audit_heads
from jichitai.platform.audit import Entry, append_entries
from jichitai.platform.audit_heads import AuditChainHead, load_key, verify_heads
from jichitai.platform.audit_schedule import chain_positions, sign_due_heads
from jichitai.platform.db import UnitOfWork, read_session, utcnow
from jichitai.platform.jobs import PlatformJob, Scheduler, run_job_once
from jichitai.platform.modules import JobSpec, catalog
from jichitai.platform.tenancy import Tenant
from jichitai.settings import Settings

HOUR = dt.timedelta(hours=1)


def write(engine: Engine, tenant: Tenant, count: int) -> None:
    """Append ``count`` entries to the town's chain in one transaction."""
    with UnitOfWork(engine) as uow:
        append_entries(uow.session, tenant, [Entry(actor="suzuki", action="registry:resident:read")] * count)
        uow.commit()


def heads(engine: Engine, tenant: Tenant) -> list[int]:
    with Session(engine) as session:
        rows = session.query(AuditChainHead).filter_by(lg_code=tenant.lg_code).order_by(AuditChainHead.seq)
        return [head.seq for head in rows]


def test_a_town_is_signed_once_enough_entries_are_written(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    town, other = towns
    write(engine, town, 9)  # 10 with the creation entry
    write(engine, other, 3)
    signed = sign_due_heads(engine, tmp_path, every_entries=10, max_age=None)
    assert [(h.lg_code, h.seq) for h in signed] == [(town.lg_code, 10)]
    assert sign_due_heads(engine, tmp_path, every_entries=10, max_age=None) == []
    write(engine, town, 9)
    assert sign_due_heads(engine, tmp_path, every_entries=10, max_age=None) == []
    write(engine, town, 1)
    assert [h.seq for h in sign_due_heads(engine, tmp_path, every_entries=10, max_age=None)] == [20]
    assert heads(engine, town) == [10, 20]
    assert heads(engine, other) == []
    key = load_key(tmp_path, town.lg_code)
    assert key is not None
    with Session(engine) as session:
        assert verify_heads(session, town, key.public_key()).checked == 2


def test_an_old_head_is_renewed_after_any_new_entry(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    town, other = towns
    # No head yet counts as an old head: both towns (one entry each) are signed.
    assert len(sign_due_heads(engine, tmp_path, every_entries=1000, max_age=HOUR)) == 2
    write(engine, town, 1)
    assert sign_due_heads(engine, tmp_path, every_entries=1000, max_age=HOUR) == []  # head is fresh
    later = utcnow() + 2 * HOUR
    signed = sign_due_heads(engine, tmp_path, every_entries=1000, max_age=HOUR, now=later)
    assert [(h.lg_code, h.seq) for h in signed] == [(town.lg_code, 2)]  # the quiet town is left alone
    assert heads(engine, other) == [1]


def test_only_the_named_towns_are_considered(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    town, other = towns
    signed = sign_due_heads(engine, tmp_path, every_entries=1, lg_codes=[other.lg_code])
    assert [h.lg_code for h in signed] == [other.lg_code]
    assert heads(engine, town) == []


def test_position_and_the_every_entries_floor(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    town, _ = towns
    write(engine, town, 4)
    sign_due_heads(engine, tmp_path, every_entries=1, lg_codes=[town.lg_code])
    write(engine, town, 2)
    with read_session(engine, tenant=town.lg_code) as session:
        position = chain_positions(session, [town.lg_code])[town.lg_code]
    assert (position.last_seq, position.head_seq, position.unsigned) == (7, 5, 2)
    assert position.head_signed_at is not None
    assert position.head_signed_at.tzinfo is not None
    with pytest.raises(ValueError, match="at least 1"):
        sign_due_heads(engine, tmp_path, every_entries=0)


def test_a_head_signed_by_another_process_meanwhile_is_skipped(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost_the_race(*_args: object) -> None:
        raise IntegrityError("INSERT INTO audit_chain_head", None, Exception("duplicate key"))

    monkeypatch.setattr(audit_heads, "sign_head", lost_the_race)
    assert sign_due_heads(engine, tmp_path, every_entries=1) == []


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def signing_job(interval: float) -> JobSpec:
    """The platform's ``audit.sign`` job with another interval (the setting is whole seconds)."""
    return dataclasses.replace(catalog().jobs["audit.sign"], interval=lambda _settings: interval)


def test_the_scheduler_signs_in_the_background_and_stops_promptly(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    town, _ = towns
    settings = Settings(var_dir=tmp_path, audit_sign_every=3)
    scheduler = Scheduler(engine, settings, [signing_job(0.05)], tick=0.02)
    scheduler.start()
    try:
        assert scheduler.running
        assert wait_for(lambda: heads(engine, town) == [1])  # a chain never signed is due at once
        write(engine, town, 3)
        assert wait_for(lambda: heads(engine, town) == [1, 4])
    finally:
        began = time.monotonic()
        scheduler.stop()
    assert time.monotonic() - began < 2
    assert not scheduler.running


def test_a_long_interval_does_not_delay_the_stop(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    scheduler = Scheduler(engine, Settings(var_dir=tmp_path), [signing_job(300)])
    scheduler.start()
    scheduler.start()  # a second start is a no-op
    began = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - began < 2
    assert not scheduler.running


def test_interval_zero_disables_the_signer(engine: Engine, tmp_path: Path) -> None:
    scheduler = Scheduler(engine, Settings(var_dir=tmp_path, audit_sign_interval=0), [signing_job(0)])
    scheduler.start()
    assert not scheduler.running
    scheduler.stop()


def test_a_failing_pass_is_logged_and_recorded_not_raised(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "keys"
    not_a_directory.write_text("a file where the key directory should be")
    settings = Settings(var_dir=tmp_path, key_dir=not_a_directory, audit_sign_every=1)
    with caplog.at_level(logging.ERROR, logger="jichitai.platform.jobs"):
        run = run_job_once(engine, settings, "audit.sign")
    assert run.ran
    assert not run.ok
    assert "job audit.sign failed" in caplog.text
    with Session(engine) as session:
        row = session.get(PlatformJob, "audit.sign")
        assert row is not None
        assert row.last_ok is False
        assert row.last_error == run.error
        assert row.holder is None  # the lease is released after a failure too


def test_the_cli_signs_only_due_chains_with_every(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from jichitai.cli import app
    from jichitai.settings import get_settings

    monkeypatch.setenv("JICHITAI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JICHITAI_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("JICHITAI_AUDIT_KEY_DIR", str(tmp_path / "keys"))
    get_settings.cache_clear()
    town, _ = towns
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["audit", "sign", "--every", "5", "--municipality", town.lg_code])
        assert (first.exit_code, first.output.splitlines()[-1]) == (0, "署名したヘッド: 1 件"), first.output
        write(engine, town, 2)
        quiet = runner.invoke(app, ["audit", "sign", "--every", "5"])
        assert quiet.output.splitlines()[-1] == "署名したヘッド: 1 件"  # the other town, never signed before
        write(engine, town, 3)
        due = runner.invoke(app, ["audit", "sign", "--every", "5"])
        assert f"{town.lg_code}: 6 番に署名しました。" in due.output
        refused = runner.invoke(app, ["audit", "sign", "--every", "0"])
        assert refused.exit_code == 2
    finally:
        get_settings.cache_clear()
    assert heads(engine, town) == [1, 6]
    assert (tmp_path / "keys" / f"{town.lg_code}.audit-ed25519.pem").exists()


def scheduler_threads() -> int:
    return sum(thread.name == "job-scheduler" for thread in threading.enumerate())


@pytest.mark.parametrize(("interval", "running"), [(300, 1), (0, 0)])
def test_the_app_runs_the_scheduler_while_it_serves(
    engine: Engine, tmp_path: Path, interval: int, running: int
) -> None:
    settings = Settings(
        var_dir=tmp_path,
        log_format="text",
        log_level="WARNING",
        audit_sign_interval=interval,
        offsite_ship_interval=0,
        metering_interval=0,  # the only job left is the signer
    )
    before = scheduler_threads()
    began = time.monotonic()
    with TestClient(create_app(settings, engine)):
        assert scheduler_threads() == before + running
    assert scheduler_threads() == before
    assert time.monotonic() - began < 5  # the shutdown does not wait out the 300 s interval
