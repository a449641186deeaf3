"""Fixtures: every database test runs on real SQLite and on the real PostgreSQL server.

The PostgreSQL half is skipped with a printed reason (``-ra``) when no server answers, unless
``JICHITAI_REQUIRE_POSTGRES=1`` (set by CI), where a missing server fails the run instead.
Each test gets an empty schema: SQLite copies a migrated template file; PostgreSQL truncates one migrated
database per xdist worker. Two municipalities exist in every fixture.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from jichitai.app import create_app
from jichitai.bootstrap import load, metadata
from jichitai.platform.audit import Actor
from jichitai.platform.auth.passwords import use_hasher
from jichitai.platform.auth.permissions import standard_roles
from jichitai.platform.auth.services import (
    Policy,
    create_operator,
    create_user,
    login_operator,
    login_staff,
)
from jichitai.platform.db import UnitOfWork, make_engine
from jichitai.platform.migrate import APP_ROLE, upgrade
from jichitai.platform.tenancy import Tenant, create_municipality
from jichitai.settings import Settings

load()  # the tests see exactly what the product loads (DESIGN §2)

PG_ADMIN = os.environ.get("JICHITAI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TOWN_A = Tenant("034614")  # 大槌町
TOWN_B = Tenant("046060")  # 南三陸町
KEEP = {"jp_era", "alembic_version"}


@pytest.fixture(scope="session", autouse=True)
def data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private XDG data home, so a setting left at its default (``~/.local/share/jichitai``) in this
    process or a command it starts never touches the tester's real data directory."""
    home = tmp_path_factory.mktemp("xdg-data")
    previous = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = previous


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with the smallest parameters: the same code path at a fraction of the cost (injected)."""
    previous = use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    use_hasher(previous)


def _worker() -> str:
    """A name unique to this test run and worker, so concurrent runs never drop each other's databases."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8] or str(os.getpid())
    return f"{run}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    name = f"jichitai_test_{_worker()}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("JICHITAI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN}: {exc}")
        yield None
        return
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in metadata().sorted_tables if t.name not in KEEP]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """An empty, migrated database on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "jichitai.db"
        shutil.copy(sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        url = request.getfixturevalue("pg_url")
        if url is None:
            pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}; PostgreSQL half skipped")
        eng = make_engine(url, pool_size=4)
        _truncate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def towns(engine: Engine) -> tuple[Tenant, Tenant]:
    """Two municipalities in the same installation."""
    for tenant, name, kana in (
        (TOWN_A, "大槌町", "オオツチチョウ"),
        (TOWN_B, "南三陸町", "ミナミサンリクチョウ"),
    ):
        with UnitOfWork(engine) as uow:
            create_municipality(
                uow,
                lg_code=tenant.lg_code,
                name=name,
                name_kana=kana,
                prefecture="岩手県" if tenant is TOWN_A else "宮城県",
                settings={"mayor_title": "町長", "mayor_name": "見本　太郎"},
                actor="test",
            )
    return TOWN_A, TOWN_B


PASSWORD = "correct horse battery staple"
"""Password of every staff member the fixtures create."""

StaffHeaders = Callable[..., dict[str, str]]


def make_staff(
    engine: Engine,
    tenant: Tenant,
    login_name: str,
    roles: list[str],
    purpose: str | None = None,
) -> dict[str, str]:
    """Register a staff member holding ``roles`` and return headers carrying a bearer token for them."""
    actor = Actor("test-admin", role="admin", purpose="administration")
    with UnitOfWork(engine, tenant=tenant.lg_code) as uow:  # also an app's engine, under row-level security
        create_user(
            uow,
            tenant,
            login_name=login_name,
            display_name=f"試験 {login_name}",
            password=PASSWORD,
            roles=roles,
            actor=actor,
        )
    with UnitOfWork(engine) as uow:
        issued = login_staff(
            uow, tenant.lg_code, login_name, PASSWORD, kind="token", policy=Policy(), purpose=purpose
        )
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def staff(engine: Engine, towns: tuple[Tenant, Tenant]) -> StaffHeaders:
    """``staff(role, town=TOWN_A, purpose=None)``: headers of a fresh staff member of ``town`` with ``role``.

    The token is bound to ``purpose`` (or, when not given, to the role's first purpose), so each request
    needs no ``X-Jichitai-Purpose`` header.
    """
    counter = iter(range(1, 10_000))

    def make(role: str, town: Tenant = TOWN_A, purpose: str | None = None) -> dict[str, str]:
        chosen = purpose or next(r for r in standard_roles() if r.code == role).purposes_in_order()[0]
        return make_staff(engine, town, f"{role.replace('_', '-')}{next(counter)}", [role], chosen)

    return make


@pytest.fixture
def operator(engine: Engine) -> dict[str, str]:
    """Headers of an operator of the installation (manages municipalities, reads no resident)."""
    with UnitOfWork(engine) as uow:
        create_operator(uow, "ops", "運用 担当", PASSWORD)
    with UnitOfWork(engine) as uow:
        issued = login_operator(uow, "ops", PASSWORD, kind="token", policy=Policy())
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    """Settings of the app under test (files under the test's own directory)."""
    return Settings(
        var_dir=tmp_path,
        log_format="text",
        log_level="WARNING",
        audit_sign_interval=0,
        offsite_ship_interval=0,
        metering_interval=0,  # tests flush and measure when they mean to (tests/platform/test_metering.py)
    )


@pytest.fixture
def client(
    engine: Engine, towns: tuple[Tenant, Tenant], app_settings: Settings, staff: StaffHeaders
) -> Iterator[TestClient]:
    """The real app on the real database, driven in-process, signed in as a 住民記録担当 of town A
    (purpose 住民基本台帳事務, 個人番号 visible). Use ``staff`` for other roles and towns, and
    :func:`anonymous` for a client without credentials."""
    headers = staff("registry_clerk", purpose="resident_registry")
    # On PostgreSQL the app works as the application role, as the server does by default, so row-level
    # security (fail closed) binds every request of the API suite; the tests' own reads stay superuser.
    app_engine = engine
    if engine.dialect.name == "postgresql":
        app_engine = make_engine(engine.url.render_as_string(hide_password=False), pool_size=4, role=APP_ROLE)
    try:
        app = create_app(app_settings, app_engine)
        with TestClient(app, raise_server_exceptions=False, headers=headers) as c:
            yield c
    finally:
        if app_engine is not engine:
            app_engine.dispose()


def anonymous(client: TestClient) -> TestClient:
    """A client on the same app without any credentials."""
    return TestClient(client.app, raise_server_exceptions=False)
