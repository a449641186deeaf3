"""Fixtures: every database test runs on real SQLite and on the real PostgreSQL server.

The PostgreSQL half is skipped with a printed reason (``-ra``) when no server answers, unless
``JICHITAI_REQUIRE_POSTGRES=1`` (set by CI), where a missing server fails the run instead.
Each test gets an empty schema: SQLite copies a migrated template file; PostgreSQL truncates one migrated
database per xdist worker. Two municipalities exist in every fixture.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from jichitai.app import create_app
from jichitai.bootstrap import metadata
from jichitai.platform.db import UnitOfWork, make_engine
from jichitai.platform.migrate import upgrade
from jichitai.platform.tenancy import Tenant, create_municipality
from jichitai.settings import Settings

PG_ADMIN = os.environ.get("JICHITAI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TOWN_A = Tenant("034614")  # 大槌町
TOWN_B = Tenant("046060")  # 南三陸町
KEEP = {"jp_era", "alembic_version"}


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


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


@pytest.fixture
def client(engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path) -> Iterator[TestClient]:
    """The real app on the real database, driven in-process."""
    settings = Settings(var_dir=tmp_path, log_format="text", log_level="WARNING")
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as test_client:
        yield test_client
