"""Command line: ``jichitai serve | db upgrade | municipality add|set | staff add | operator add | demo |
audit | offsite | custody``, and each module's own commands (``jichitai registry generate`` …)."""

from __future__ import annotations

import ctypes
import datetime as dt
import multiprocessing
import os
import signal
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.bootstrap import load
from jichitai.cli_offsite import custody_app, offsite_app
from jichitai.platform.auth.models import StaffUser
from jichitai.platform.cli_support import ACTOR, database_url, engine_for_command
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.migrate import upgrade
from jichitai.platform.tenancy import (
    Municipality,
    Tenant,
    create_municipality,
    get_tenant,
    list_municipalities,
    set_setting,
)
from jichitai.settings import get_settings

CATALOG = load()
"""Every command runs with the modules loaded: tables, permissions, settings and the modules' own commands."""

app = typer.Typer(help="jichitai-cloud: 自治体クラウド 共同利用基盤", no_args_is_help=True)
db_app = typer.Typer(help="データベースの管理", no_args_is_help=True)
municipality_app = typer.Typer(help="市区町村 (テナント) の管理", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(municipality_app, name="municipality")
audit_app = typer.Typer(help="監査証跡", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
staff_app = typer.Typer(help="職員アカウントの管理", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
operator_app = typer.Typer(help="運用者アカウントの管理", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
app.add_typer(offsite_app, name="offsite")
app.add_typer(custody_app, name="custody")
for declaration in CATALOG.modules:
    for command_name, command_app in declaration.cli:
        app.add_typer(command_app, name=command_name)
console = Console(soft_wrap=True)  # a log line stays one line when piped to cron or grep


MUNICIPALITY_OPTION = typer.Option("--municipality", help="全国地方公共団体コード (省略時は全団体)")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations (スキーマを最新にします)."""
    upgrade(database_url(), revision, app_role=get_settings().db_role or None)
    console.print(f"[green]データベースを {revision} に更新しました。[/green]")


@municipality_app.command("add")
def municipality_add(
    lg_code: Annotated[str, typer.Argument(help="全国地方公共団体コード (6桁)")],
    name: Annotated[str, typer.Option(help="名称 (例: 大槌町)")],
    name_kana: Annotated[str, typer.Option(help="名称のフリガナ")],
    prefecture: Annotated[str, typer.Option(help="都道府県名")],
    setting: Annotated[list[str] | None, typer.Option(help="設定 KEY=VALUE (複数可)")] = None,
) -> None:
    """Register a municipality (市区町村を登録します)."""
    settings = dict(s.split("=", 1) for s in setting or [])
    with engine_for_command() as engine, UnitOfWork(engine) as uow:
        create_municipality(
            uow,
            lg_code=lg_code,
            name=name,
            name_kana=name_kana,
            prefecture=prefecture,
            settings=settings,
            actor=ACTOR,
        )
    console.print(f"[green]{prefecture}{name} ({lg_code}) を登録しました。[/green]")


@municipality_app.command("set")
def municipality_set(
    lg_code: Annotated[str, typer.Argument(help="全国地方公共団体コード")],
    assignment: Annotated[str, typer.Argument(help="設定 KEY=VALUE (例: fee_juminhyo=300)")],
    effective_from: Annotated[
        str | None, typer.Option("--from", help="適用開始日 (YYYY-MM-DD; 省略時は本日)")
    ] = None,
) -> None:
    """Set a per-town setting from a date on (設定値を適用開始日つきで登録します; audited)."""
    from jichitai.platform.clock import today_jst
    from jichitai.platform.errors import InvalidInput

    key, _, text = assignment.partition("=")
    with engine_for_command() as engine, UnitOfWork(engine) as uow:
        spec = CATALOG.settings.get(key)
        if spec is None:
            raise InvalidInput("unknown_setting", f"未知の設定項目です: {key}", "key")
        try:
            value = spec.parse(text)
            start = dt.date.fromisoformat(effective_from) if effective_from else today_jst()
        except ValueError as exc:
            raise InvalidInput(
                "invalid_setting", f"{key} の値または適用開始日が正しくありません。", "value"
            ) from exc
        tenant = get_tenant(uow.session, lg_code)
        row = set_setting(uow, tenant, key, value, start, actor=ACTOR)
    console.print(f"[green]{lg_code}: {key} = {row.value!r} ({row.effective_from} から)[/green]")


PASSWORD_OPTION = typer.Option(
    "--password",
    envvar="JICHITAI_NEW_PASSWORD",
    prompt="パスワード (12文字以上)",
    hide_input=True,
    confirmation_prompt=True,
    help="初期パスワード (省略時は入力を求めます)",
)


@staff_app.command("add")
def staff_add(
    lg_code: Annotated[str, typer.Argument(help="全国地方公共団体コード")],
    login_name: Annotated[str, typer.Argument(help="ログイン名 (英小文字・数字)")],
    display_name: Annotated[str, typer.Option("--name", help="氏名")],
    password: Annotated[str, PASSWORD_OPTION],
    role: Annotated[list[str], typer.Option(help="ロールのコード (複数可; 例: admin)")],
) -> None:
    """Register a staff member of a town (e.g. its first administrator); audited as actor "cli"."""
    from jichitai.platform.audit import Actor
    from jichitai.platform.auth.services import create_user

    with engine_for_command() as engine, UnitOfWork(engine) as uow:
        tenant = get_tenant(uow.session, lg_code)
        create_user(
            uow,
            tenant,
            login_name=login_name,
            display_name=display_name,
            password=password,
            roles=role,
            actor=Actor(ACTOR, role="operator", purpose="administration"),
        )
    console.print(f"[green]{lg_code} の職員 {login_name} ({', '.join(role)}) を登録しました。[/green]")


@operator_app.command("add")
def operator_add(
    login_name: Annotated[str, typer.Argument(help="ログイン名 (英小文字・数字)")],
    display_name: Annotated[str, typer.Option("--name", help="氏名")],
    password: Annotated[str, PASSWORD_OPTION],
) -> None:
    """Register an operator of the installation (manages municipalities; reads no resident)."""
    from jichitai.platform.auth.services import create_operator

    with engine_for_command() as engine, UnitOfWork(engine) as uow:
        create_operator(uow, login_name, display_name, password)
    console.print(f"[green]運用者 {login_name} を登録しました。[/green]")


def _audit_codes(session: Session, municipality: str | None) -> list[str]:
    return [municipality] if municipality else [m.lg_code for m in list_municipalities(session)]


@audit_app.command("verify")
def audit_verify(
    municipality: Annotated[str | None, MUNICIPALITY_OPTION] = None,
) -> None:
    """Verify every audit hash chain, its signed heads, and the heads the key directory, the off-site
    custodians and the signing schedule expect; name the first bad entry (exit 1 when broken)."""
    from jichitai.platform.audit_verify import expectations, verify_town

    expect = expectations(get_settings())
    broken = False
    with engine_for_command() as engine:
        with read_session(engine) as session:
            codes = _audit_codes(session, municipality)
        for code in codes:
            verdict = verify_town(engine, code, expect)
            if verdict.ok:
                console.print(f"{code}: OK ({verdict.checked} 件, 署名済みヘッド {verdict.heads_checked} 件)")
            else:
                broken = True
                where = f"最初の不正な記録は {verdict.first_bad} 番 " if verdict.first_bad is not None else ""
                console.print(f"[red]{code}: 改ざんを検出しました — {where}({verdict.reason})[/red]")
            for note in verdict.notes:
                console.print(f"[yellow]{code}: 注意 [{note.code}] {note.message}[/yellow]")
    if broken:
        raise typer.Exit(1)


@audit_app.command("sign")
def audit_sign(
    municipality: Annotated[str | None, MUNICIPALITY_OPTION] = None,
    every: Annotated[
        int | None,
        typer.Option(
            "--every",
            min=1,
            help="前回の署名から N 件以上進んだ (または1時間以上たった) 証跡だけに署名",
        ),
    ] = None,
) -> None:
    """Sign each audit chain's current head with the town's Ed25519 key (run periodically, e.g. hourly).

    A town whose heads were deleted or whose chain no longer holds its last signed head is not signed
    (a new head would hide the damage): it is named and the exit status is 1.
    """
    from jichitai.platform.audit_heads import SigningRefused, sign_town

    key_dir = get_settings().resolved_audit_key_dir()
    refused: list[SigningRefused] = []
    if every is not None:
        from jichitai.platform.audit_schedule import SigningIncomplete, sign_due_heads

        with engine_for_command() as engine:
            codes = [municipality] if municipality else None
            try:
                heads = sign_due_heads(engine, key_dir, every_entries=every, lg_codes=codes)
            except SigningIncomplete as incomplete:
                heads, refused = incomplete.signed, incomplete.refused
        for signed in heads:
            console.print(f"{signed.lg_code}: {signed.seq} 番に署名しました。")
        console.print(f"署名したヘッド: {len(heads)} 件")
    else:
        with engine_for_command() as engine:
            with read_session(engine) as session:
                codes = _audit_codes(session, municipality)
            for code in codes:
                try:
                    head = sign_town(engine, code, key_dir)
                except SigningRefused as exc:
                    refused.append(exc)
                    continue
                console.print(
                    f"{code}: " + (f"{head.seq} 番に署名しました。" if head else "新しい記録はありません。")
                )
    for refusal in refused:
        console.print(
            f"[red]{refusal.lg_code}: 署名しませんでした — 証跡が損なわれています ({refusal.reason})。"
            "jichitai audit verify で確認してください。[/red]"
        )
    if refused:
        raise typer.Exit(1)


DEMO_TOWNS = (
    ("034614", "大槌町", "オオツチチョウ", "岩手県", "町長", "見本　太郎"),
    ("032107", "陸前高田市", "リクゼンタカタシ", "岩手県", "市長", "試験　花子"),
    ("046060", "南三陸町", "ミナミサンリクチョウ", "宮城県", "町長", "仮名　一郎"),
)
"""Demo tenants: real codes and names of towns whose registry servers the 2011 tsunami struck; the mayors'
names and every resident are synthetic."""

DEMO_STAFF = (
    ("demo-admin", "管理　者", "admin"),
    ("demo-auditor", "監査　委員", "auditor"),
)
"""The platform's demo accounts; each module's demo seeding adds its own (its ``DemoSpec``)."""


@app.command()
def demo(
    residents: Annotated[int | None, typer.Option(help="1市区町村あたりの住民数")] = None,
) -> None:
    """Seed the three demo municipalities (accounts, then each module's demo data); skips towns present."""
    from jichitai.platform.auth.services import DEMO_PASSWORD, create_demo_users

    count = residents or get_settings().demo_residents
    upgrade(database_url(), app_role=get_settings().db_role or None)
    with engine_for_command() as engine:
        for i, (code, name, kana, pref, title, mayor) in enumerate(DEMO_TOWNS):
            with read_session(engine) as session:
                present = session.get(Municipality, code) is not None
            if present:
                console.print(f"{pref}{name} は登録済みです。")
                continue
            with UnitOfWork(engine) as uow:
                town = create_municipality(
                    uow,
                    lg_code=code,
                    name=name,
                    name_kana=kana,
                    prefecture=pref,
                    settings={
                        "mayor_title": title,
                        "mayor_name": mayor,
                        "office_name": f"{name}役場" if title == "町長" else f"{name}役所",
                        "office_address": f"{pref}{name}本町1番1号",
                        "fee_juminhyo": 300,
                    },
                    effective_from=dt.date(2024, 4, 1),
                    actor=ACTOR,
                )
            create_demo_users(engine, Tenant(town.lg_code), DEMO_STAFF)
            seeders = sorted((d.demo for d in CATALOG.modules if d.demo), key=lambda spec: spec.order)
            for spec in seeders:
                spec.seed(engine, Tenant(town.lg_code), count, i + 1)
            console.print(f"[green]{pref}{name} ({code}) に {count} 人を生成しました。[/green]")
        with read_session(engine) as session:
            from jichitai.platform.auth.models import OperatorAccount

            has_operator = session.get(OperatorAccount, "demo-ops") is not None
        if not has_operator:
            from jichitai.platform.auth.services import create_operator

            with UnitOfWork(engine) as uow:
                create_operator(uow, "demo-ops", "運用　担当", DEMO_PASSWORD)
        with read_session(engine, tenant=DEMO_TOWNS[0][0]) as session:
            logins = session.scalars(
                select(StaffUser.login_name)
                .where(StaffUser.lg_code == DEMO_TOWNS[0][0], StaffUser.login_name.like("demo-%"))
                .order_by(StaffUser.login_name)
            ).all()
        console.print(
            f"デモ用アカウント (パスワード {DEMO_PASSWORD}): 各団体の {', '.join(logins)}、運用者 demo-ops。"
            " 本番環境では使わないでください。"
        )


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a process gets when its parent dies."""


def worker_app() -> object:
    """The app of one ``jichitai serve`` worker process (uvicorn's factory when there are several).

    The worker asks Linux to stop it (SIGTERM, graceful) when the supervising process dies: a supervisor
    killed outright (SIGKILL, out of memory) would otherwise leave its workers serving on the port, holding
    the scheduler's leases and database connections, and a restarted server could not bind.
    """
    supervisor = multiprocessing.parent_process()  # uvicorn starts its workers with multiprocessing
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: workers outlive a killed supervisor, as before
        pass
    else:
        if supervisor is not None and not supervisor.is_alive():  # it died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)
    from jichitai.app import create_app

    return create_app()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="待ち受けるアドレス")] = None,
    port: Annotated[int | None, typer.Option(help="待ち受けるポート")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="ワーカープロセス数")] = None,
) -> None:
    """Run the HTTP server (graceful shutdown on SIGTERM/SIGINT).

    Worker processes: ``--workers``, else ``JICHITAI_WORKERS``, else the cores on PostgreSQL and one on
    SQLite (:attr:`jichitai.settings.Settings.workers`).
    """
    settings = get_settings()
    database_url()
    count = workers or settings.workers
    if count > 1:
        # Each worker process builds its own app (and connection pool) from the environment, which tells it
        # how many workers share the database (the connection sizing check at startup counts them).
        os.environ["JICHITAI_WORKERS"] = str(count)
        target: object = "jichitai.cli:worker_app"
    else:
        from jichitai.app import create_app

        target = create_app(settings.model_copy(update={"workers": 1}))
    uvicorn.run(
        target,  # type: ignore[arg-type]
        factory=count > 1,
        workers=count if count > 1 else None,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # forwarded headers only from the proxies the installation lists (none by default)
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
    )


if __name__ == "__main__":  # pragma: no cover
    app()
