"""``jichitai offsite …``: keys, custodians, shipping, status, restore and drills (DESIGN §5).

Messages name keys by id only; no command prints, logs or ships key material.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jichitai.platform.db import UnitOfWork, make_engine, read_session
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.envelope import ChunkCorrupt
from jichitai.platform.offsite.keys import KeyMissing, KeyStore
from jichitai.platform.offsite.restore import RestoreRefused, RestoreReport, drill, restore
from jichitai.platform.offsite.shipper import add_custodian, rotate_town_key, ship_all, status
from jichitai.platform.tenancy import list_municipalities, parse_lg_code
from jichitai.settings import get_settings

offsite_app = typer.Typer(help="副本 (オフサイト複製) と復元", no_args_is_help=True)
keys_app = typer.Typer(help="副本の暗号鍵", no_args_is_help=True)
custodian_app = typer.Typer(help="副本の保管先", no_args_is_help=True)
offsite_app.add_typer(keys_app, name="keys")
offsite_app.add_typer(custodian_app, name="custodian")
console = Console()

CODE = typer.Option("--municipality", help="全国地方公共団体コード")
OPTIONAL_CODE = typer.Option("--municipality", help="全国地方公共団体コード (省略時は全団体)")


def _url() -> str:
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url()


def _keys() -> KeyStore:
    return KeyStore(get_settings().resolved_key_dir())


@keys_app.command("init")
def keys_init(municipality: Annotated[str | None, OPTIONAL_CODE] = None) -> None:
    """Create the escrow key and each town's key where missing (prints key ids only)."""
    store = _keys()
    console.print(f"escrow: {store.init_escrow()}")
    engine = make_engine(_url())
    try:
        with read_session(engine) as session:
            codes = [municipality] if municipality else [m.lg_code for m in list_municipalities(session)]
    finally:
        engine.dispose()
    for code in codes:
        console.print(f"{code}: {store.init_town(parse_lg_code(code))}")


@keys_app.command("rotate")
def keys_rotate(municipality: Annotated[str, CODE]) -> None:
    """Give a town a new key and re-wrap every chunk's data key at its custodians (no re-encryption)."""
    from sqlalchemy import select

    from jichitai.platform.offsite.shipper import OffsiteCustodian

    engine = make_engine(_url())
    try:
        with read_session(engine) as session:
            locations = session.scalars(
                select(OffsiteCustodian.location).where(OffsiteCustodian.lg_code == municipality)
            ).all()
    finally:
        engine.dispose()
    try:
        new_id, count = rotate_town_key(_keys(), municipality, [DirectoryCustodian(p) for p in locations])
    except (KeyMissing, ChunkCorrupt) as exc:
        console.print(f"[red]鍵を更新できません: {exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{municipality}: 新しい鍵 {new_id}、{count} 件のデータ鍵を再ラップしました。")


@custodian_app.command("add")
def custodian_add(
    municipality: Annotated[str, CODE],
    directory: Annotated[Path, typer.Option("--dir", help="保管先ディレクトリ (マウントした遠隔パス)")],
) -> None:
    """Register a directory custodian for a town."""
    engine = make_engine(_url())
    try:
        with UnitOfWork(engine) as uow:
            add_custodian(uow, municipality, str(directory.resolve()))
    finally:
        engine.dispose()
    console.print(f"{municipality}: 保管先 {directory} を登録しました。")


@offsite_app.command("ship")
def offsite_ship(
    municipality: Annotated[str | None, OPTIONAL_CODE] = None,
    snapshot: Annotated[bool, typer.Option("--snapshot", help="全件スナップショットも送る")] = False,
) -> None:
    """One shipping pass to every custodian (exit 1 when one failed)."""
    capture.install()
    engine = make_engine(_url())
    failed = False
    try:
        results = ship_all(
            engine,
            _keys(),
            lg_code=municipality,
            snapshot_every=get_settings().offsite_snapshot_every,
            force_snapshot=snapshot,
        )
    finally:
        engine.dispose()
    for result in results:
        if isinstance(result, str):
            failed = True
            console.print(f"[red]{result}[/red]")
        else:
            console.print(
                f"{result.lg_code} → {result.custodian}: {result.chunks} チャンク, {result.entries} 件"
                f"{' (スナップショット含む)' if result.snapshot else ''}, 送付済み {result.shipped_seq}"
            )
    if failed:
        raise typer.Exit(1)


@offsite_app.command("status")
def offsite_status(municipality: Annotated[str | None, OPTIONAL_CODE] = None) -> None:
    """Each custodian's lag; ALERT when one has been unreachable past ``offsite_alert_after`` (exit 1)."""
    settings = get_settings()
    engine = make_engine(_url())
    try:
        rows = status(
            engine, alert_after=dt.timedelta(seconds=settings.offsite_alert_after), lg_code=municipality
        )
    finally:
        engine.dispose()
    for row in rows:
        mark = "[red]ALERT[/red]" if row.alert else "OK"
        shipped_at = row.shipped_at.isoformat(timespec="seconds") if row.shipped_at else "未送付"
        console.print(
            f"{mark} {row.lg_code} {row.location}: 記録 {row.journal_seq}, 送付済み {row.shipped_seq} "
            f"(未送付 {row.unshipped}), 最終送付 {shipped_at}"
            + (f", 失敗: {row.last_error}" if row.last_error else "")
        )
    if not rows:
        console.print("保管先は登録されていません。")
    if any(row.alert for row in rows):
        raise typer.Exit(1)


def _restore_keys(municipality: str, escrow: bool) -> dict[str, bytes]:
    store = _keys()
    return dict([store.escrow() if escrow else store.town(municipality)])


def _print_report(report: RestoreReport) -> None:
    audit = report.audit
    console.print(
        f"{report.lg_code}: スナップショット {report.snapshot_seq} + ジャーナル {report.entries} 件 "
        f"(最終 {report.journal_seq}), チャンク {report.chunks}"
    )
    for table, count in sorted(report.rows.items()):
        console.print(f"  {table}: {count}")
    verdict = (
        "OK"
        if audit is not None and audit.ok
        else f"NG ({audit.first_bad if audit else '-'} {audit.reason if audit else ''})"
    )
    console.print(f"監査証跡: {verdict}, ヘッド一致: {'はい' if report.heads_match else 'いいえ'}")


@offsite_app.command("restore")
def offsite_restore(
    municipality: Annotated[str, CODE],
    source: Annotated[Path, typer.Option("--from", help="保管先ディレクトリ")],
    until: Annotated[int | None, typer.Option(help="このジャーナル番号まで復元")] = None,
    database_url: Annotated[str | None, typer.Option(help="復元先 (省略時は設定のデータベース)")] = None,
    escrow: Annotated[bool, typer.Option("--escrow", help="団体鍵の代わりに預託鍵を使う")] = False,
) -> None:
    """Rebuild a town on a fresh install from one custodian; verify the journal and audit chains."""
    try:
        report = restore(
            database_url or _url(),
            DirectoryCustodian(source),
            municipality,
            _restore_keys(municipality, escrow),
            until=until,
        )
    except (ChunkCorrupt, RestoreRefused, KeyMissing) as exc:
        console.print(f"[red]復元できません: {exc}[/red]")
        raise typer.Exit(2) from exc
    _print_report(report)
    if report.audit is None or not report.audit.ok or not report.heads_match:
        raise typer.Exit(1)


@offsite_app.command("drill")
def offsite_drill(
    municipality: Annotated[str, CODE],
    source: Annotated[Path, typer.Option("--from", help="保管先ディレクトリ")],
    escrow: Annotated[bool, typer.Option("--escrow", help="団体鍵の代わりに預託鍵を使う")] = False,
) -> None:
    """Restore into a scratch database and print RPO and RTO (exit 1 when the drill fails)."""
    url = _url()
    upgrade(url)
    engine = make_engine(url)
    try:
        result = drill(engine, DirectoryCustodian(source), municipality, _restore_keys(municipality, escrow))
    except (ChunkCorrupt, RestoreRefused, KeyMissing) as exc:
        console.print(f"[red]訓練失敗: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    _print_report(result.restore)
    console.print(
        f"RPO: {result.rpo_entries} 件 / {result.rpo_seconds:.1f} 秒, RTO: {result.rto_seconds:.2f} 秒"
    )
    if result.restore.audit is None or not result.restore.audit.ok:
        raise typer.Exit(1)
