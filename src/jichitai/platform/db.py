"""Engine, declarative base and the unit of work.

Durability comes first (DESIGN §3.5): SQLite runs in WAL mode with ``synchronous=FULL`` and foreign keys on,
PostgreSQL keeps ``synchronous_commit=on``, so a success answer means the data is on disk. SQLite write
transactions start with ``BEGIN IMMEDIATE`` so that two writers never deadlock on a lock upgrade; reads stay
deferred and run beside writers thanks to WAL.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, ClassVar, overload

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LG_CODE = String(6)
"""Column type of the tenant key, 全国地方公共団体コード."""

SEARCH_KEY = String(200).with_variant(String(200, collation="C"), "postgresql")
"""Normalised search keys compare by code point on both engines, so prefix ranges use a plain b-tree."""


class Base(DeclarativeBase):
    """Declarative base for every table; one MetaData with a naming convention keeps migrations portable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: DateTime(timezone=True)}


def utcnow() -> dt.datetime:
    """Aware UTC now; stored timestamps are always UTC."""
    return dt.datetime.now(dt.UTC)


@overload
def as_utc(value: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, and every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take over transaction control from pysqlite so BEGIN is ours (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, role: str | None = None) -> Engine:
    """Create an engine with the durability settings of DESIGN §3.5 applied on every connection.

    On PostgreSQL, ``role`` (the application role, see :func:`jichitai.platform.migrate.ensure_app_role`) is
    taken by every connection with ``SET ROLE``: whatever login the URL names, the product then works as a
    role that row-level security binds. None keeps the login's own role (migrations, tests' direct reads).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"options": "-c synchronous_commit=on -c timezone=UTC"},
    )
    if role:
        quoted = '"' + role.replace('"', '""') + '"'

        def _take_role(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {quoted}")
            dbapi_connection.commit()

        event.listen(engine, "connect", _take_role)
    return engine


def is_sqlite(engine: Engine) -> bool:
    """True on the embedded engine (used to pick bulk-load paths, never business rules)."""
    return engine.dialect.name == "sqlite"


_sqlite_writers: dict[str, threading.Lock] = {}
_sqlite_writers_guard = threading.Lock()


def _sqlite_writer_lock(engine: Engine) -> threading.Lock:
    """One lock per SQLite file and process: writers of a process queue in order on it.

    SQLite admits one writer at a time anyway; without this, waiting writers poll with SQLite's busy handler,
    which sleeps with back-off and lets late arrivals overtake (p99 near a second under 8 clients).
    """
    key = engine.url.render_as_string(hide_password=True)
    with _sqlite_writers_guard:
        return _sqlite_writers.setdefault(key, threading.Lock())


TENANT_SETTING = "jichitai.tenant"
"""The PostgreSQL setting row-level security reads (migrations/rls.py)."""


def _declare_on(conn: Connection, lg_code: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "SELECT set_config(%(name)s, %(value)s, true)", {"name": TENANT_SETTING, "value": lg_code}
        )


def _redeclare(session: Session, _transaction: Any, conn: Connection) -> None:
    lg_code = session.info.get(TENANT_SETTING)
    if lg_code is not None:
        _declare_on(conn, lg_code)


def bind_tenant(session: Session, lg_code: str) -> None:
    """Declare ``lg_code`` (or ``'*'``) for the session's transaction and every later one it begins.

    The setting is transaction-local, and a use case may commit and go on (a read noted, then more read), so
    the declaration is repeated at each begin. Nothing happens on SQLite, which has no row-level security.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    if session.info.get(TENANT_SETTING) is None:
        event.listen(session, "after_begin", _redeclare)
    session.info[TENANT_SETTING] = lg_code
    _declare_on(session.connection(), lg_code)


class UnitOfWork:
    """One use case, one transaction: ``commit()`` makes it durable, leaving the block otherwise rolls back.

    Services receive a unit of work and never commit partially, so a refused request writes nothing
    (DESIGN §3.3).
    """

    def __init__(self, engine: Engine, *, write: bool = True, tenant: str | None = None) -> None:
        bind = engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine
        self._factory = sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
        self._session: Session | None = None
        self._lock = _sqlite_writer_lock(engine) if write and is_sqlite(engine) else None
        self.engine = engine
        self.tenant = tenant
        """A town code (or ``'*'``) declared for row-level security from the start (see :func:`bind_tenant`);
        request paths leave it None and declare through ``tenancy.get_tenant``."""

    @property
    def session(self) -> Session:
        """The open session; only valid inside the ``with`` block."""
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its with-block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        self._session = self._factory()
        if self.tenant is not None:
            bind_tenant(self._session, self.tenant)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()
            self._session = None
            if self._lock is not None:
                self._lock.release()

    def commit(self) -> None:
        """Commit the whole use case at once."""
        self.session.commit()


@contextmanager
def read_session(engine: Engine, tenant: str | None = None) -> Iterator[Session]:
    """A short read-only session for queries (declaring ``tenant``, a town code or ``'*'``, when given)."""
    with Session(engine, expire_on_commit=False) as session:
        if tenant is not None:
            bind_tenant(session, tenant)
        try:
            yield session
        finally:
            session.rollback()


def may_copy_from(conn: Connection) -> bool:
    """True on PostgreSQL when this role may ``COPY … FROM`` into our tables: row-level security (forced on
    every town table) refuses COPY FROM to a role it applies to, so only a superuser or a BYPASSRLS role may;
    the others insert. Asked once per connection."""
    if conn.dialect.name != "postgresql":
        return False
    cached = conn.info.get("jichitai_may_copy")
    if cached is None:
        cached = bool(
            conn.exec_driver_sql(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            ).scalar()
        )
        conn.info["jichitai_may_copy"] = cached
    return bool(cached)
