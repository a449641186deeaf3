"""``jichitai jobs list | run NAME``: the declared periodic jobs, their leases and last runs; one run now.

Jobs are installation-wide (one lease row per job in ``platform_job``, no town), so neither command takes a
municipality. ``run`` goes through :func:`jichitai.platform.jobs.run_job_once`: the same lease as the
servers' schedulers, so a run from the command line never overlaps one in a worker.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import select

from jichitai.platform.cli_support import console, engine_for_command
from jichitai.platform.db import as_utc, read_session, utcnow
from jichitai.platform.jobs import PlatformJob, run_job_once
from jichitai.platform.modules import catalog
from jichitai.settings import get_settings

jobs_app = typer.Typer(help="定期処理 (ジョブ) の一覧と手動実行", no_args_is_help=True)


@dataclass(frozen=True)
class _State:
    """One job's row of ``platform_job`` as read (times in UTC)."""

    holder: str | None
    lease_until: dt.datetime | None
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_ok: bool | None
    last_error: str | None


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "—"


def _interval(seconds: float) -> str:
    return f"間隔 {seconds:g} 秒" if seconds > 0 else "停止中 (間隔 0)"


def _lease(row: _State | None) -> str:
    if row is None or row.holder is None:
        return "実行者なし"
    return f"実行者 {row.holder} (リース期限 {_when(row.lease_until)})"


def _last(row: _State | None) -> str:
    if row is None or row.last_started_at is None:
        return "前回: 未実行"
    started, finished = row.last_started_at, row.last_finished_at
    if finished is None or finished < started:
        held = row.holder is not None and row.lease_until is not None and row.lease_until > utcnow()
        outcome = "実行中" if held else "中断 (終了の記録なし)"
    elif row.last_ok:
        outcome = "成功"
    else:
        outcome = f"失敗: {row.last_error or ''}"
    return f"前回: 開始 {_when(started)}, 終了 {_when(finished)}, {outcome}"


def _rows() -> dict[str, _State]:
    with engine_for_command() as engine, read_session(engine) as session:
        return {
            row.name: _State(
                holder=row.holder,
                lease_until=as_utc(row.lease_until),
                last_started_at=as_utc(row.last_started_at),
                last_finished_at=as_utc(row.last_finished_at),
                last_ok=row.last_ok,
                last_error=row.last_error,
            )
            for row in session.scalars(select(PlatformJob))
        }


@jobs_app.command("list")
def jobs_list() -> None:
    """Every declared job: its interval, who holds its lease until when, and how its last run went."""
    settings = get_settings()
    rows = _rows()
    declared = catalog().jobs
    for name, spec in declared.items():
        row = rows.get(name)
        console.print(
            escape(f"{name}: {_interval(spec.interval(settings))}, {_lease(row)}, {_last(row)}"),
            soft_wrap=True,
        )
        console.print(escape(f"  {spec.description}"), soft_wrap=True)
    for name in sorted(set(rows) - set(declared)):
        # A row left by a job no module declares any more (a module removed): shown, never run.
        console.print(escape(f"{name}: 宣言されていないジョブ, {_lease(rows[name])}"), soft_wrap=True)


@jobs_app.command("run")
def jobs_run(name: Annotated[str, typer.Argument(help="ジョブ名 (jichitai jobs list で確認)")]) -> None:
    """Run one job now, due or not (even one whose interval is 0), under its lease; exit 2 when the name is
    unknown or another holder is running it, 1 when the job fails."""
    declared = catalog().jobs
    if name not in declared:
        console.print(
            escape(f"未知のジョブです: {name} (宣言されているジョブ: {', '.join(declared)})"),
            style="red",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    started = time.monotonic()
    with engine_for_command() as engine:
        run = run_job_once(engine, get_settings(), name)
    if not run.ran:
        message = f"ジョブ {name} は他の実行者が実行中のため実行しませんでした: {_lease(_rows().get(name))}"
        console.print(escape(message), style="red", soft_wrap=True)
        raise typer.Exit(2)
    if run.error is not None:
        console.print(escape(f"ジョブ {name} は失敗しました: {run.error}"), style="red", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"ジョブ {name} を実行しました ({time.monotonic() - started:.1f} 秒)。", style="green")


__all__ = ["jobs_app"]
