"""``jichitai jobs list | run NAME``: the declared jobs with their leases and last runs, and one run now
under the same lease as the servers' schedulers. On each engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from jichitai.cli import app
from jichitai.platform.jobs import PlatformJob, claim
from jichitai.platform.modules import catalog
from jichitai.platform.tenancy import Tenant
from jichitai.settings import get_settings

ELSEWHERE = "other-host:4242:0123456789ab"


@pytest.fixture
def jobs(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands work on the test's database (the process's settings re-read around it)."""
    monkeypatch.setenv("JICHITAI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JICHITAI_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("JICHITAI_EXTRA_MODULES", raising=False)
    get_settings.cache_clear()
    try:
        yield CliRunner()
    finally:
        get_settings.cache_clear()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, ["jobs", *args])


def line_of(output: str, name: str) -> str:
    """The line ``jobs list`` prints for the job ``name``."""
    return next(line for line in output.splitlines() if line.startswith(f"{name}: "))


def row(engine: Engine, name: str) -> PlatformJob | None:
    with Session(engine) as session:
        return session.get(PlatformJob, name)


def test_list_shows_every_declared_job_and_run_runs_one_now(jobs: CliRunner, engine: Engine) -> None:
    before = invoke(jobs, "list")
    assert before.exit_code == 0, before.output
    for name, spec in catalog().jobs.items():
        assert line_of(before.output, name).endswith("実行者なし, 前回: 未実行")
        assert f"  {spec.description}" in before.output
    assert line_of(before.output, "offsite.ship").startswith("offsite.ship: 間隔 1 秒, ")
    # Nothing consumes a feed in the product alone, so the dispatch job is off; it still runs on demand.
    assert line_of(before.output, "feeds.dispatch").startswith("feeds.dispatch: 停止中 (間隔 0), ")

    ran = invoke(jobs, "run", "feeds.dispatch")
    assert ran.exit_code == 0, ran.output
    assert ran.output.startswith("ジョブ feeds.dispatch を実行しました")
    after = line_of(invoke(jobs, "list").output, "feeds.dispatch")
    assert "実行者なし, 前回: 開始 " in after
    assert after.endswith(", 成功")
    recorded = row(engine, "feeds.dispatch")
    assert recorded is not None
    assert (recorded.holder, recorded.last_ok) == (None, True)


def test_a_job_held_elsewhere_is_not_run_and_an_unknown_name_is_refused(
    jobs: CliRunner, engine: Engine
) -> None:
    assert claim(engine, "offsite.ship", ELSEWHERE, interval=None).taken
    held = invoke(jobs, "run", "offsite.ship")
    assert held.exit_code == 2, held.output
    assert "ジョブ offsite.ship は他の実行者が実行中のため実行しませんでした" in held.output
    assert ELSEWHERE in held.output
    untouched = row(engine, "offsite.ship")
    assert untouched is not None
    assert (untouched.holder, untouched.last_finished_at) == (ELSEWHERE, None)
    listed = line_of(invoke(jobs, "list").output, "offsite.ship")
    assert f"実行者 {ELSEWHERE} (リース期限 " in listed
    assert listed.endswith(", 実行中")

    unknown = invoke(jobs, "run", "offsite.shipping")
    assert unknown.exit_code == 2
    assert unknown.output.startswith("未知のジョブです: offsite.shipping (宣言されているジョブ: audit.sign, ")
    assert row(engine, "offsite.shipping") is None


def test_a_failing_job_exits_1_and_its_error_is_listed(
    jobs: CliRunner,
    engine: Engine,
    towns: tuple[Tenant, Tenant],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("JICHITAI_KEY_DIR", str(blocker))  # the signing key cannot be stored
    monkeypatch.setenv("JICHITAI_AUDIT_SIGN_EVERY", "1")
    get_settings.cache_clear()
    failed = invoke(jobs, "run", "audit.sign")
    assert failed.exit_code == 1, failed.output
    assert failed.output.startswith("ジョブ audit.sign は失敗しました: ")
    listed = line_of(invoke(jobs, "list").output, "audit.sign")
    assert "実行者なし, 前回: 開始 " in listed
    assert ", 失敗: " in listed
    recorded = row(engine, "audit.sign")
    assert recorded is not None
    assert (recorded.holder, recorded.last_ok) == (None, False)
