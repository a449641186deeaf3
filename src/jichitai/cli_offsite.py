"""``jichitai offsite …``: keys, custodians, shipping, status, restore and drills (DESIGN §5).

Messages name keys by id only; no command prints, logs or ships key material.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine, select

from jichitai.platform import cli_support
from jichitai.platform.clock import JST
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import DomainError
from jichitai.platform.migrate import upgrade
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.custodian import Custodian, DirectoryCustodian
from jichitai.platform.offsite.custody import TOKEN_PREFIX, grant, grants, revoke
from jichitai.platform.offsite.envelope import ChunkCorrupt
from jichitai.platform.offsite.http_custodian import TokenMissing, close, is_url, open_custodian, save_token
from jichitai.platform.offsite.keys import KeyMissing, KeyStore
from jichitai.platform.offsite.restore import (
    CopyIncomplete,
    RestoreRefused,
    RestoreReport,
    drill,
    restore,
    verify_custodian,
)
from jichitai.platform.offsite.shipper import (
    OffsiteCustodian,
    add_custodian,
    rotate_town_key,
    run_drill_at,
    ship_all,
    status,
)
from jichitai.platform.tenancy import ALL_TOWNS, list_municipalities, parse_lg_code
from jichitai.settings import get_settings

offsite_app = typer.Typer(help="副本 (オフサイト複製) と復元", no_args_is_help=True)
keys_app = typer.Typer(help="副本の暗号鍵", no_args_is_help=True)
custodian_app = typer.Typer(help="副本の保管先", no_args_is_help=True)
offsite_app.add_typer(keys_app, name="keys")
offsite_app.add_typer(custodian_app, name="custodian")
console = Console(soft_wrap=True)  # a log line stays one line when piped to cron or grep

CODE = typer.Option("--municipality", help="全国地方公共団体コード")
OPTIONAL_CODE = typer.Option("--municipality", help="全国地方公共団体コード (省略時は全団体)")


def _keys() -> KeyStore:
    return KeyStore(get_settings().resolved_key_dir())


@keys_app.command("init")
def keys_init(municipality: Annotated[str | None, OPTIONAL_CODE] = None) -> None:
    """Create the escrow key and each town's key where missing (prints key ids only)."""
    store = _keys()
    console.print(f"escrow: {store.init_escrow()}")
    engine = cli_support.command_engine()
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
    engine = cli_support.command_engine()
    try:
        with read_session(engine, tenant=municipality) as session:
            locations = session.scalars(
                select(OffsiteCustodian.location).where(OffsiteCustodian.lg_code == municipality)
            ).all()
    finally:
        engine.dispose()
    try:
        custodians = [open_custodian(p, municipality, get_settings().resolved_key_dir()) for p in locations]
        new_id, count = rotate_town_key(_keys(), municipality, custodians)
        for custodian in custodians:
            close(custodian)
    except (KeyMissing, ChunkCorrupt, TokenMissing, OSError) as exc:
        console.print(f"[red]鍵を更新できません: {exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{municipality}: 新しい鍵 {new_id}、{count} 件のデータ鍵を再ラップしました。")


@custodian_app.command("add")
def custodian_add(
    municipality: Annotated[str, CODE],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="保管先ディレクトリ (マウントした遠隔パス)")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="保管先となる他の導入先の URL")] = None,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help="保管先が発行した保管トークンのファイル")
    ] = None,
) -> None:
    """Register a custodian for a town: a directory, or a partner installation's URL and its token."""
    if (directory is None) == (url is None):
        console.print("[red]--dir か --url のどちらか一方を指定してください。[/red]")
        raise typer.Exit(2)
    if url is not None:
        if not is_url(url) or token_file is None:
            console.print("[red]--url は http(s):// で始め、--token-file を指定してください。[/red]")
            raise typer.Exit(2)
        location = url.rstrip("/")
        save_token(get_settings().resolved_key_dir(), location, municipality, _read_token(token_file))
    else:
        assert directory is not None
        location = str(directory.resolve())
    engine = cli_support.command_engine()
    try:
        with UnitOfWork(engine) as uow:
            add_custodian(uow, municipality, location)
    finally:
        engine.dispose()
    console.print(f"{municipality}: 保管先 {location} を登録しました。")


def _read_token(path: Path) -> str:
    try:
        token = path.read_text("utf-8").strip()
    except OSError as exc:
        console.print(f"[red]保管トークンのファイルを読めません: {path}[/red]")
        raise typer.Exit(2) from exc
    if not token.startswith(TOKEN_PREFIX):
        console.print(f"[red]保管トークンではありません: {path}[/red]")
        raise typer.Exit(2)
    return token


def _source(municipality: str, source: str, token_file: Path | None) -> Custodian:
    """The custodian to restore from: a directory, or a partner URL (token from the file or the key dir)."""
    token = _read_token(token_file) if token_file is not None else None
    try:
        return open_custodian(source, municipality, get_settings().resolved_key_dir(), token)
    except TokenMissing as exc:
        console.print(f"[red]保管トークンがありません。--token-file で指定してください ({exc})。[/red]")
        raise typer.Exit(2) from exc


@offsite_app.command("ship")
def offsite_ship(
    municipality: Annotated[str | None, OPTIONAL_CODE] = None,
    snapshot: Annotated[bool, typer.Option("--snapshot", help="全件スナップショットも送る")] = False,
) -> None:
    """One shipping pass to every custodian (exit 1 when one failed)."""
    capture.install()
    engine = cli_support.command_engine()
    failed = False
    try:
        results = ship_all(
            engine,
            _keys(),
            lg_code=municipality,
            snapshot_every=get_settings().offsite_snapshot_every,
            force_snapshot=snapshot,
            keep_snapshots=get_settings().offsite_keep_snapshots,
        )
    except CopyIncomplete as exc:
        console.print(f"[red]送付できません: {exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    for result in results:
        if isinstance(result, str):
            failed = True
            console.print(f"[red]{result}[/red]")
        elif result.busy:
            console.print(f"{result.lg_code} → {result.custodian}: 他の送付処理が実行中のため省略しました")
        else:
            console.print(
                f"{result.lg_code} → {result.custodian}: {result.chunks} チャンク, {result.entries} 件"
                f"{' (スナップショット含む)' if result.snapshot else ''}, 送付済み {result.shipped_seq}"
            )
    if failed:
        raise typer.Exit(1)


@offsite_app.command("status")
def offsite_status(municipality: Annotated[str | None, OPTIONAL_CODE] = None) -> None:
    """Each custodian's lag and drills; ALERT (exit 1) when one has been unreachable past
    ``offsite_alert_after`` or has no successful drill within ``offsite_drill_max_age``."""
    settings = get_settings()
    engine = cli_support.command_engine()
    try:
        rows = status(
            engine,
            alert_after=dt.timedelta(seconds=settings.offsite_alert_after),
            lg_code=municipality,
            drill_max_age=dt.timedelta(seconds=settings.offsite_drill_max_age),
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
        if row.drill is not None:
            good = row.drill.last_ok_at.isoformat(timespec="seconds") if row.drill.last_ok_at else "なし"
            mark = "[red]ALERT[/red]" if row.drill_alert else "OK"
            console.print(
                f"{mark}   復元訓練: 最終成功 {good}"
                + (f", 直近の失敗: {row.drill.last_error}" if row.drill.last_error else "")
            )
    if not rows:
        console.print("保管先は登録されていません。")
    if any(row.alert or row.drill_alert for row in rows):
        raise typer.Exit(1)


def _restore_keys(municipality: str, escrow: bool) -> dict[str, bytes]:
    store = _keys()
    try:
        return dict([store.escrow() if escrow else store.town(municipality)])
    except KeyMissing as exc:
        console.print(f"[red]鍵がありません: {exc}[/red]")
        raise typer.Exit(2) from exc


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


FROM = typer.Option("--from", help="保管先 (ディレクトリまたは他の導入先の URL)")
TOKEN_FILE = typer.Option("--token-file", help="URL の保管先の保管トークン (省略時は登録済みのもの)")
ESCROW = typer.Option("--escrow", help="団体鍵の代わりに預託鍵を使う")


def _until_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        console.print(f"[red]--until-time は ISO 8601 の日時で指定してください: {value}[/red]")
        raise typer.Exit(2) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


@offsite_app.command("restore")
def offsite_restore(
    municipality: Annotated[str, CODE],
    source: Annotated[str, FROM],
    until: Annotated[int | None, typer.Option(help="このジャーナル番号まで復元")] = None,
    until_time: Annotated[
        str | None,
        typer.Option("--until-time", help="この日時 (ISO 8601、既定は日本時間) までに記録された変更まで復元"),
    ] = None,
    database_url: Annotated[str | None, typer.Option(help="復元先 (省略時は設定のデータベース)")] = None,
    escrow: Annotated[bool, ESCROW] = False,
    token_file: Annotated[Path | None, TOKEN_FILE] = None,
) -> None:
    """Rebuild a town on a fresh install from one custodian; verify the journal and audit chains."""
    moment = _until_time(until_time)
    custodian = _source(municipality, source, token_file)
    try:
        report = restore(
            database_url or cli_support.database_url(),
            custodian,
            municipality,
            _restore_keys(municipality, escrow),
            until=until,
            until_time=moment,
        )
    except (ChunkCorrupt, RestoreRefused, CopyIncomplete, KeyMissing) as exc:
        console.print(f"[red]復元できません: {exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        close(custodian)
    _print_report(report)
    if report.audit is None or not report.audit.ok or not report.heads_match:
        raise typer.Exit(1)


@offsite_app.command("verify")
def offsite_verify(
    municipality: Annotated[str, CODE],
    source: Annotated[str, FROM],
    escrow: Annotated[bool, ESCROW] = False,
    token_file: Annotated[Path | None, TOKEN_FILE] = None,
) -> None:
    """Authenticate every chunk at a custodian, check the journal chain and compare its heads with ours."""
    custodian = _source(municipality, source, token_file)
    engine = cli_support.command_engine()
    try:
        result = verify_custodian(engine, custodian, municipality, _restore_keys(municipality, escrow))
    except (ChunkCorrupt, RestoreRefused, CopyIncomplete, KeyMissing) as exc:
        console.print(f"[red]検証失敗: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        close(custodian)
        engine.dispose()
    console.print(
        f"{municipality}: チャンク {result.chunks} 件を認証、"
        f"ジャーナル {result.custodian_seq} まで連結を確認 (この導入先は {result.local_seq})"
    )
    console.print(
        f"保管先の記録したヘッドとこの導入先のジャーナル: {'一致' if result.heads_match else '不一致'}"
    )
    if not result.heads_match:
        raise typer.Exit(1)


@offsite_app.command("drill")
def offsite_drill(
    municipality: Annotated[str | None, OPTIONAL_CODE] = None,
    source: Annotated[str | None, typer.Option("--from", help="保管先 (省略時は登録済みの全保管先)")] = None,
    escrow: Annotated[bool, ESCROW] = False,
    token_file: Annotated[Path | None, TOKEN_FILE] = None,
) -> None:
    """Restore into a scratch database and print RPO and RTO (exit 1 when a drill fails).

    Without ``--from``, every registered custodian (of one town or all) is drilled and the outcome recorded,
    which is what a weekly timer runs (R21).
    """
    url = cli_support.database_url()
    upgrade(url, app_role=get_settings().db_role or None)
    engine = cli_support.command_engine()
    try:
        if source is None:
            failed = _drill_registered(engine, municipality)
        else:
            if municipality is None:
                console.print("[red]--from には --municipality が必要です。[/red]")
                raise typer.Exit(2)
            failed = _drill_one(engine, municipality, source, escrow, token_file)
    finally:
        engine.dispose()
    if failed:
        raise typer.Exit(1)


def _drill_one(engine: Engine, municipality: str, source: str, escrow: bool, token_file: Path | None) -> bool:
    custodian = _source(municipality, source, token_file)
    try:
        result = drill(engine, custodian, municipality, _restore_keys(municipality, escrow))
    except (ChunkCorrupt, RestoreRefused, CopyIncomplete, KeyMissing) as exc:
        console.print(f"[red]訓練失敗: {exc}[/red]")
        return True
    finally:
        close(custodian)
    _print_report(result.restore)
    console.print(
        f"稼働中の団体とジャーナル {result.compared_seq} 時点で {result.tables_compared} 表の全行を比較: 一致"
    )
    console.print(
        f"RPO: {result.rpo_entries} 件 / {result.rpo_seconds:.1f} 秒, RTO: {result.rto_seconds:.2f} 秒"
    )
    return result.restore.audit is None or not result.restore.audit.ok


def _drill_registered(engine: Engine, municipality: str | None) -> bool:
    with read_session(engine, tenant=municipality or ALL_TOWNS) as session:
        query = select(OffsiteCustodian.lg_code, OffsiteCustodian.location)
        if municipality is not None:
            query = query.where(OffsiteCustodian.lg_code == municipality)
        targets = list(session.execute(query.order_by(OffsiteCustodian.lg_code, OffsiteCustodian.location)))
    if not targets:
        console.print("保管先は登録されていません。")
    failed = False
    for code, location in targets:
        row = run_drill_at(engine, _keys(), code, location)
        if row.ok:
            console.print(
                f"OK {code} {location}: 復元 {row.restored_seq}, RPO {row.rpo_entries} 件 / "
                f"{row.rpo_seconds or 0:.1f} 秒, RTO {row.rto_seconds or 0:.2f} 秒"
            )
        else:
            failed = True
            console.print(f"[red]NG {code} {location}: {row.error}[/red]")
    return failed


custody_app = typer.Typer(help="他団体の副本の保管 (この導入先が保管先になる)", no_args_is_help=True)


@custody_app.command("grant")
def custody_grant(
    municipality: Annotated[str, typer.Option("--municipality", help="預ける団体の全国地方公共団体コード")],
    label: Annotated[str, typer.Option(help="覚え書き (団体名など)")] = "",
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help="トークンを画面でなくこのファイルに書く (0600)")
    ] = None,
) -> None:
    """Allow a town to deposit its off-site copy here; prints its custody token once (or writes it)."""
    upgrade(cli_support.database_url(), app_role=get_settings().db_role or None)
    engine = cli_support.command_engine()
    try:
        with UnitOfWork(engine) as uow:
            token = grant(uow, municipality, label)
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if token_file is not None:
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(token + "\n")
        console.print(f"{municipality}: 保管を許可しました。トークンを {token_file} に書きました。")
    else:
        console.print(f"{municipality}: 保管を許可しました。保管トークン (一度だけ表示します):")
        console.print(token, soft_wrap=True)


@custody_app.command("revoke")
def custody_revoke(
    municipality: Annotated[str, typer.Option("--municipality", help="預けている団体のコード")],
) -> None:
    """Stop accepting a town's custody token (what it deposited stays)."""
    engine = cli_support.command_engine()
    try:
        with UnitOfWork(engine) as uow:
            revoke(uow, municipality)
    except DomainError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    console.print(f"{municipality}: 保管の許可を取り消しました。")


@custody_app.command("list")
def custody_list() -> None:
    """The towns allowed to deposit here and what each has stored."""
    settings = get_settings()
    engine = cli_support.command_engine()
    try:
        with read_session(engine) as session:
            rows = grants(session)
    finally:
        engine.dispose()
    store = DirectoryCustodian(settings.resolved_custody_dir())
    for row in rows:
        state = "取消済み" if row.revoked_at else "有効"
        heads = store.heads(row.depositor) or {}
        seq = (heads.get("journal") or {}).get("seq", "-")
        console.print(
            f"{row.depositor} {row.label} ({state}): チャンク {len(store.list(row.depositor))} 件, "
            f"ジャーナル {seq} まで"
        )
    if not rows:
        console.print("保管を許可している団体はありません。")
