"""The off-site copy made from the command line holds the whole town, and a drill notices anything less.

The command sequence of the operations guide (the cron path), run as separate processes exactly as a new
operator would, on each engine: a town with residents, staff, a DV等支援措置 and a certificate is shipped,
restored into a fresh database and compared column by column, row by row, table by table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, select, text

from jichitai.modules.registry.certificates.services import request_certificate
from jichitai.modules.registry.records.models import PersonRecord, ResidentStatus
from jichitai.modules.registry.support.schemas import CertificateIn, SupportMeasureIn
from jichitai.modules.registry.support.services import start_support_measure
from jichitai.platform.audit import Actor
from jichitai.platform.db import UnitOfWork, make_engine, read_session
from jichitai.platform.modules import catalog
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.journal import to_json
from jichitai.platform.tenancy import Tenant

from ...conftest import PG_ADMIN

TOWN = "034614"
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The live database and the fresh restore target, on one engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    names = [f"jichitai_whole_{uuid.uuid4().hex[:10]}_{n}" for n in ("live", "restored")]
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("JICHITAI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    yield tuple(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" for name in names)  # type: ignore[misc]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def jichitai(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One command of the product's CLI in a process of its own."""
    env = {
        **os.environ,
        "JICHITAI_VAR_DIR": str(tmp_path / "var"),
        "JICHITAI_DATABASE_URL": url,
        "JICHITAI_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    env.pop("JICHITAI_EXTRA_MODULES", None)
    return subprocess.run(
        [sys.executable, "-m", "jichitai.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def add_support_and_certificate(engine: Engine) -> None:
    """A DV等支援措置 on one resident and a certificate issued for another, through the real services."""
    capture.install()
    tenant = Tenant(TOWN)
    with read_session(engine) as session:
        victim, other = session.scalars(
            select(PersonRecord.atena_no)
            .where(
                PersonRecord.lg_code == TOWN,
                PersonRecord.is_current.is_(True),
                PersonRecord.status == ResidentStatus.RESIDENT,
            )
            .order_by(PersonRecord.atena_no)
            .limit(2)
        ).all()
    officer = Actor("support-1", role="support_officer", purpose="support_measure")
    measure = SupportMeasureIn.model_validate(
        {
            "atena_no": victim,
            "kind": "spousal_violence",
            "counterparty": {"name": "加害　太郎", "kana": "カガイ　タロウ", "birth_date": "1980-01-02"},
            "reason": "警察署の意見書あり",
        }
    )
    with UnitOfWork(engine) as uow:
        start_support_measure(uow, tenant, measure, actor=officer)
    body = CertificateIn.model_validate(
        {
            "type": "resident_record",
            "style": "individual",
            "atena_nos": [other],
            "requester": {"category": "self", "name": "本人", "atena_no": other},
        }
    )
    clerk = Actor("clerk-1", role="registry_clerk", purpose="certificate")
    with UnitOfWork(engine) as uow:
        request_certificate(
            uow, tenant, body, actor=clerk, principal_may_override=False, reveal_my_number=False
        )


def town_rows(url: str) -> dict[str, list[str]]:
    """Every column of every row of the town in every table of its copy, normalised as the journal does."""
    engine = make_engine(url)
    out: dict[str, list[str]] = {}
    try:
        with engine.connect() as conn:
            for table in catalog().town_tables:
                rows = conn.execute(select(table).where(table.c.lg_code == TOWN)).mappings()
                out[table.name] = sorted(
                    repr(sorted((k, to_json(v)) for k, v in row.items())) for row in rows
                )
    finally:
        engine.dispose()
    return out


def test_the_command_line_copy_restores_every_row_of_the_town(tmp_path: Path, urls: tuple[str, str]) -> None:
    live, target = urls
    ok(jichitai(tmp_path, live, "db", "upgrade"))
    ok(jichitai(tmp_path, live, "demo", "--residents", "40"))
    engine = make_engine(live)
    try:
        add_support_and_certificate(engine)
    finally:
        engine.dispose()
    ship_to_directory(tmp_path, live)
    restored = ok(
        jichitai(
            tmp_path,
            live,
            "offsite",
            "restore",
            "--municipality",
            TOWN,
            "--from",
            "./custody",
            "--database-url",
            target,
        )
    )
    assert "registry_person_record" in restored
    assert "staff_user" in restored
    expected = town_rows(live)
    assert all(
        expected[name]
        for name in (
            "registry_person",
            "registry_support_measure",
            "staff_user",
            "staff_role_grant",
            "registry_certificate_issue",
        )
    )
    assert town_rows(target) == expected
    drill = ok(jichitai(tmp_path, live, "offsite", "drill", "--municipality", TOWN))
    assert drill.startswith("OK")

    # The restored staff sign in with their passwords (sessions and tokens are not part of the copy).
    from fastapi.testclient import TestClient

    from jichitai.app import create_app
    from jichitai.settings import Settings

    restored_engine = make_engine(target)
    settings = Settings(var_dir=tmp_path / "restored-var", audit_sign_interval=0, offsite_ship_interval=0)
    try:
        with TestClient(create_app(settings, restored_engine)) as client:
            answer = client.post(
                "/api/v1/auth/token",
                json={
                    "lg_code": TOWN,
                    "login_name": "demo-clerk",
                    "password": "demo-password-2026",
                    "purpose": "resident_registry",
                },
            )
            assert answer.status_code == 201, answer.text
    finally:
        restored_engine.dispose()
    assert "auth_credential" not in town_rows(target)


def _break(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def shipped_town(tmp_path: Path, *staff: tuple[str, str, str]) -> str:
    """A migrated SQLite installation with the town, ``staff`` (login, name, role), a directory custodian
    and one shipped snapshot; its URL."""
    live = f"sqlite:///{tmp_path / 'live.db'}"
    ok(jichitai(tmp_path, live, "db", "upgrade"))
    town = ("--name", "大槌町", "--name-kana", "オオツチチョウ", "--prefecture", "岩手県")
    ok(jichitai(tmp_path, live, "municipality", "add", TOWN, *town, "--setting", "mayor_title=町長"))
    for login, name, role in staff:
        account = (login, "--name", name, "--password", "demo-password-2026", "--role", role)
        ok(jichitai(tmp_path, live, "staff", "add", TOWN, *account))
    ship_to_directory(tmp_path, live)
    return live


def ship_to_directory(tmp_path: Path, live: str) -> None:
    """Keys, a directory custodian ``./custody`` and one shipping pass with a snapshot."""
    ok(jichitai(tmp_path, live, "offsite", "keys", "init"))
    ok(jichitai(tmp_path, live, "offsite", "custodian", "add", "--municipality", TOWN, "--dir", "./custody"))
    ok(jichitai(tmp_path, live, "offsite", "ship", "--municipality", TOWN, "--snapshot"))


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        # A row the copy lacks: written behind the journal's back, so never shipped.
        (
            "INSERT INTO municipality_setting (lg_code, key, effective_from, value) "
            "VALUES ('034614', 'office_phone', '2020-01-01', '\"0193-42-2111\"')",
            "municipality_setting: 2 rows expected, 1 found",
        ),
        # A row the copy holds that the town no longer has.
        ("DELETE FROM staff_role_grant WHERE login_name = 'demo-auditor'", "staff_role_grant"),
        # A value changed behind the journal's back.
        ("UPDATE staff_user SET display_name = '改ざん' WHERE login_name = 'demo-admin'", "staff_user"),
    ],
)
def test_a_drill_of_a_copy_that_lacks_anything_fails_naming_it(
    tmp_path: Path, damage: str, named: str
) -> None:
    live = shipped_town(
        tmp_path, ("demo-admin", "管理　者", "admin"), ("demo-auditor", "監査　委員", "auditor")
    )
    assert ok(jichitai(tmp_path, live, "offsite", "drill", "--municipality", TOWN)).startswith("OK")
    _break(live, damage)
    failed = jichitai(tmp_path, live, "offsite", "drill", "--municipality", TOWN)
    assert failed.returncode == 1
    assert "NG" in failed.stdout
    assert named in " ".join(failed.stdout.split())


def test_an_undeclared_town_table_stops_shipping_and_drills(tmp_path: Path) -> None:
    live = shipped_town(tmp_path)
    _break(live, "CREATE TABLE tax_assessment (lg_code VARCHAR(6), no INTEGER, PRIMARY KEY (lg_code, no))")
    shipped = jichitai(tmp_path, live, "offsite", "ship", "--municipality", TOWN, "--snapshot")
    assert shipped.returncode == 2
    assert "tax_assessment" in shipped.stdout.replace("\n", "")
    drilled = jichitai(tmp_path, live, "offsite", "drill", "--municipality", TOWN)
    assert drilled.returncode == 1
    assert "tax_assessment" in drilled.stdout.replace("\n", "")


def test_copying_refuses_to_run_without_the_modules_loaded(tmp_path: Path) -> None:
    """A process that never ran the loader cannot snapshot, restore or journal (no half-empty copy)."""
    script = (
        "import sys\n"
        "from jichitai.platform.modules import ModulesNotLoaded\n"
        "from jichitai.platform.offsite.tables import copied_tables\n"
        "try:\n    copied_tables()\nexcept ModulesNotLoaded:\n    sys.exit(0)\nsys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
