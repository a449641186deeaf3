"""The PostgreSQL operations scripts (scripts/pg/) on a real, throwaway cluster: pgBackRest with two
encrypted repositories, restore drills (point in time, and site loss from repo2 alone), corruption found by
``verify`` (R5, R6, R8 of the reliability plan), and a streaming-replication standby.

The module starts its own primary with ``initdb --data-checksums`` on a free port under a temporary
directory owned by the ``postgres`` OS user (PostgreSQL refuses to run as root), migrates the product's schema
into it and records 異動 through the product's own services. The main server on port 5432 is not used.

It is skipped with a reason when pgbackrest, the PostgreSQL 15 binaries or a way to run them as ``postgres``
(root, or being ``postgres``) are missing, unless ``JICHITAI_REQUIRE_PGOPS=1``, which fails instead.

The tests run in file order on one shared scenario: the site-loss test deletes repo1, so it comes after the
other tests that read repo1.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import TypeAdapter
from sqlalchemy import Engine

from jichitai.modules.registry.records import schemas
from jichitai.modules.registry.records.services.record import record_event
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, make_engine
from jichitai.platform.migrate import upgrade
from jichitai.platform.tenancy import Tenant, create_municipality

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "pg"
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
STANZA = "jichitai_test"
DBNAME = "jichitai"
TOWN = Tenant("034614")  # 大槌町
PASSPHRASE = "test-only passphrase, not a secret: 0123456789abcdef"
REPL_PASSWORD = "test-only-replication-password-42"
SCRIPT_TIMEOUT = 180

FINGERPRINT_SQL = """
SELECT c.relname || ' ' || (xpath('/row/f/text()', query_to_xml(format(
         'SELECT count(*) || '' '' || md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text), '''')) AS f'
         ' FROM %I.%I t', n.nspname, c.relname), false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
 ORDER BY c.relname
""".strip()
"""One line per table of the product: ``name row_count md5(all rows in order)``."""


def _missing_prerequisite() -> str | None:
    if shutil.which("pgbackrest") is None:
        return "pgbackrest is not installed (apt-get install pgbackrest)"
    for binary in ("initdb", "pg_ctl", "psql", "pg_basebackup", "pg_isready"):
        if not (PGBIN / binary).exists():
            return f"{PGBIN / binary} not found (PostgreSQL 15 server binaries; set PGBIN)"
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return f"no {PG_USER!r} OS user"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != PG_USER:
        return f"needs root (to run PostgreSQL as {PG_USER!r} with runuser) or the {PG_USER!r} user itself"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser not found"
    return None


def _as_pg(argv: Sequence[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *argv]
    return list(argv)


def run_status(argv: Sequence[str], *, timeout: float = SCRIPT_TIMEOUT) -> tuple[int, str]:
    """Run a command from ``/`` with PGBIN set; returns its exit status and stdout + stderr."""
    env = {**os.environ, "PGBIN": str(PGBIN), "PG_OS_USER": PG_USER}
    result = subprocess.run(
        list(argv), cwd="/", env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.returncode, result.stdout + result.stderr


def run(argv: Sequence[str], *, check: bool = True) -> str:
    """:func:`run_status`, failing the test on a non-zero exit unless ``check`` is false."""
    code, output = run_status(argv)
    if check:
        assert code == 0, f"{' '.join(argv)} → exit {code}\n{output}"
    return output


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chown_pg(*paths: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Primary:
    """The throwaway primary cluster of this module and the paths of its pgBackRest set-up."""

    base: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.base / "primary"

    @property
    def sock(self) -> Path:
        return self.base / "sock"

    @property
    def config(self) -> Path:
        return self.base / "pgbackrest" / "pgbackrest.conf"

    @property
    def repo1(self) -> Path:
        return self.base / "repo1"

    @property
    def repo2(self) -> Path:
        return self.base / "repo2"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{DBNAME}"

    def conninfo(self, dbname: str = DBNAME, port: int | None = None) -> str:
        return f"host=127.0.0.1 port={port or self.port} user={PG_USER} dbname={dbname} connect_timeout=5"

    def pgbackrest(self, *args: str, check: bool = True) -> tuple[int, str]:
        argv = _as_pg(["pgbackrest", f"--config={self.config}", f"--stanza={STANZA}", *args])
        code, output = run_status(argv)
        if check:
            assert code == 0, f"pgbackrest {' '.join(args)} → exit {code}\n{output}"
        return code, output

    def drill(self, *args: str, check: bool = True) -> tuple[int, str]:
        argv = [
            str(SCRIPTS / "pgbackrest-drill"),
            "--config",
            str(self.config),
            "--stanza",
            STANZA,
            "--port",
            str(free_port()),
            "--pg-option",
            "shared_buffers=16MB",
            "--timeout",
            "120",
            *args,
        ]
        code, output = run_status(argv)
        if check:
            assert code == 0, f"pgbackrest-drill {' '.join(args)} → exit {code}\n{output}"
        return code, output


@dataclass
class Scenario:
    """What the module's scenario wrote, and the state of the primary at its recorded points."""

    primary: Primary
    engine: Engine
    setup_output: str
    target_time: str
    at_target: list[str]
    at_end: list[str]


def fingerprint(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        return [str(row[0]) for row in conn.execute(FINGERPRINT_SQL).fetchall()]


def drill_fingerprint(output: str) -> list[str]:
    return [line.removeprefix("verify: ") for line in output.splitlines() if line.startswith("verify: ")]


def drill_summary(output: str) -> dict[str, str]:
    line = next(line for line in output.splitlines() if line.startswith("drill: "))
    return dict(item.split("=", 1) for item in line.removeprefix("drill: ").split())


EVENT_BODY: TypeAdapter[schemas.EventBody] = TypeAdapter(schemas.EventBody)


def move_in(n: int) -> dict[str, Any]:
    """A valid 国内転入 of a couple at an address of its own."""
    return {
        "type": "domestic_move_in",
        "event_date": (today_jst() - dt.timedelta(days=1)).isoformat(),
        "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
        "address": {"area": "本町一丁目", "number": f"2番{n}号"},
        "persons": [
            {
                "family_name": "佐藤",
                "given_name": given,
                "family_kana": "サトウ",
                "given_kana": given_kana,
                "kana_confirmed": True,
                "birth_date": birth,
                "sex": sex,
                "relationship": relationship,
            }
            for given, given_kana, sex, birth, relationship in (
                ("太郎", "タロウ", "male", "1970-04-01", "世帯主"),
                ("花子", "ハナコ", "female", "1972-05-02", "妻"),
            )
        ],
    }


def record_move_ins(scenario_engine: Engine, start: int, count: int) -> None:
    for n in range(start, start + count):
        with UnitOfWork(scenario_engine) as uow:
            record_event(uow, TOWN, EVENT_BODY.validate_python(move_in(n)), actor="pgops-test")


def server_now(primary: Primary) -> str:
    """The primary's clock as a pgBackRest ``--target`` (UTC)."""
    with psycopg.connect(primary.conninfo()) as conn:
        row = conn.execute(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
        ).fetchone()
    assert row is not None
    return str(row[0])


def stop_cluster(pgdata: Path) -> None:
    if (pgdata / "postmaster.pid").exists():
        run(_as_pg([str(PGBIN / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"]), check=False)


@pytest.fixture(scope="module")
def primary() -> Iterator[Primary]:
    """A fresh primary with data checksums, on a free port, run by the ``postgres`` OS user."""
    missing = _missing_prerequisite()
    if missing is not None:
        if os.environ.get("JICHITAI_REQUIRE_PGOPS") == "1":
            pytest.fail(f"JICHITAI_REQUIRE_PGOPS=1 but {missing}")
        pytest.skip(missing)
    # Not under pytest's basetemp: /tmp/pytest-of-root is mode 0700, which the postgres user cannot traverse.
    base = Path(tempfile.mkdtemp(prefix="jichitai-pgops-"))
    cluster = Primary(base=base, port=free_port())
    try:
        for path in (cluster.sock, cluster.base / "pgbackrest"):
            path.mkdir()
        chown_pg(base, cluster.sock, cluster.base / "pgbackrest")
        base.chmod(0o700)  # root and postgres only: it will hold the repositories and the passphrase
        run(
            _as_pg(
                [
                    str(PGBIN / "initdb"),
                    *("-D", str(cluster.pgdata), "--data-checksums", "-U", PG_USER, "--auth=trust"),
                    *("--no-sync", "--encoding=UTF8", "--locale=C.UTF-8"),
                ]
            )
        )
        settings = {
            "port": str(cluster.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{cluster.sock}'",
            "shared_buffers": "16MB",
            "max_connections": "30",
            "max_wal_senders": "5",
            "max_replication_slots": "5",
            "wal_level": "replica",
            "logging_collector": "off",
        }
        conf = "\n".join(f"{key} = {value}" for key, value in settings.items())
        _append_as_pg(cluster.pgdata / "postgresql.conf", conf + "\n")
        # Replication is refused until standby-setup adds its own line (above this one).
        _write_as_pg(
            cluster.pgdata / "pg_hba.conf",
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 reject\n",
        )
        run(
            _as_pg(
                [
                    str(PGBIN / "pg_ctl"),
                    *("-D", str(cluster.pgdata), "-l", str(base / "primary.log"), "-w", "-t", "60", "start"),
                ]
            )
        )
        yield cluster
    finally:
        stop_cluster(base / "standby")
        stop_cluster(cluster.pgdata)
        shutil.rmtree(base, ignore_errors=True)


def _write_as_pg(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    chown_pg(path)


def _append_as_pg(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture(scope="module")
def scenario(primary: Primary) -> Iterator[Scenario]:
    """pgbackrest-setup, then 異動 written around a backup and a recorded point in time, all archived.

    A (3 events) → backup to both repositories → B (3) → target time → C (3) → ``pgbackrest check``.
    """
    passphrase = primary.base / "passphrase"
    _write_as_pg(passphrase, PASSPHRASE + "\n")
    passphrase.chmod(0o600)
    setup_output = run(
        [
            str(SCRIPTS / "pgbackrest-setup"),
            "--pgdata",
            str(primary.pgdata),
            "--port",
            str(primary.port),
            "--socket-dir",
            str(primary.sock),
            "--stanza",
            STANZA,
            "--config",
            str(primary.config),
            "--repo1-path",
            str(primary.repo1),
            "--repo2-path",
            str(primary.repo2),
            "--cipher-pass-file",
            str(passphrase),
            "--archive-timeout",
            "5",
            "--spool-path",
            str(primary.base / "pgbackrest" / "spool"),
            "--log-path",
            str(primary.base / "pgbackrest" / "log"),
            "--lock-path",
            str(primary.base / "pgbackrest" / "lock"),
            "--process-max",
            "1",
            "--compress-type",
            "lz4",
            "--restart",
        ]
    )
    with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    upgrade(primary.url)
    engine = make_engine(primary.url, pool_size=2)
    try:
        with UnitOfWork(engine) as uow:
            create_municipality(
                uow,
                lg_code=TOWN.lg_code,
                name="大槌町",
                name_kana="オオツチチョウ",
                prefecture="岩手県",
                settings={"mayor_title": "町長", "mayor_name": "見本　太郎"},
                actor="pgops-test",
            )
        record_move_ins(engine, 1, 3)
        run([str(SCRIPTS / "pgbackrest-backup"), "--config", str(primary.config), "--stanza", STANZA])
        record_move_ins(engine, 4, 3)
        at_target = fingerprint(primary.conninfo())
        target_time = server_now(primary)
        time.sleep(0.2)
        record_move_ins(engine, 7, 3)
        at_end = fingerprint(primary.conninfo())
        primary.pgbackrest("check")  # switches WAL and waits until the segment is in both repositories
        yield Scenario(primary, engine, setup_output, target_time, at_target, at_end)
    finally:
        engine.dispose()


def test_setup_archives_to_both_encrypted_repositories(scenario: Scenario) -> None:
    primary = scenario.primary
    assert PASSPHRASE not in scenario.setup_output
    assert primary.config.stat().st_mode & 0o777 == 0o600
    config = primary.config.read_text(encoding="utf-8")
    assert config.count("-cipher-type=aes-256-cbc") == 2
    assert "archive-async=y" in config
    with psycopg.connect(primary.conninfo("postgres")) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('archive_mode', 'archive_command', 'archive_timeout', 'data_checksums')"
            ).fetchall()
        )
        archiver = conn.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
    assert settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == "5"
    assert settings["data_checksums"] == "on"
    assert f"--stanza={STANZA} archive-push %p" in settings["archive_command"]
    assert archiver is not None
    assert archiver[0] > 0
    # Both repositories hold backups and WAL, encrypted: no plain manifest, no readable WAL header.
    _, info = primary.pgbackrest("info", "--output=text")
    assert "status: ok" in info
    for repo in (primary.repo1, primary.repo2):
        backups = sorted((repo / "backup" / STANZA).glob("2*F*"))
        assert backups, f"no backup in {repo}"
        manifest = (backups[-1] / "backup.manifest").read_bytes()
        assert manifest.startswith(b"Salted__"), "manifest is not encrypted"
        segments = list((repo / "archive" / STANZA).glob("15-1/*/*"))
        assert segments, f"no archived WAL in {repo}"
    assert PASSPHRASE not in info


def test_pitr_drill_restores_exactly_the_data_before_the_target(scenario: Scenario) -> None:
    _, output = scenario.primary.drill(
        "--repo", "1", "--target", scenario.target_time, "--dbname", DBNAME, "--verify-sql", FINGERPRINT_SQL
    )
    assert drill_fingerprint(output) == scenario.at_target
    assert scenario.at_target != scenario.at_end
    summary = drill_summary(output)
    assert summary["result"] == "passed"
    assert summary["verify"] == "ok"
    assert float(summary["total_seconds"]) > 0


def _flip_byte(path: Path) -> tuple[int, int]:
    data = bytearray(path.read_bytes())
    offset = len(data) // 2
    original = data[offset]
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return offset, original


def _unflip_byte(path: Path, offset: int, original: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] = original
    path.write_bytes(bytes(data))


def test_verify_detects_one_flipped_byte_in_a_backup_file_and_in_a_wal_segment(scenario: Scenario) -> None:
    primary = scenario.primary
    code, output = primary.drill("--repo", "1", "--verify-only")
    assert code == 0, output
    backup = sorted((primary.repo1 / "backup" / STANZA).glob("2*F*"))[-1]
    files = [p for p in (backup / "pg_data").rglob("*") if p.is_file()]
    data_file = max(files, key=lambda p: p.stat().st_size)
    # The oldest segment: newer ones may still be arriving (archive_timeout) under a temporary name.
    wal = min((primary.repo1 / "archive" / STANZA).glob("15-1/*/0*.lz4"))
    for damaged in (data_file, wal):
        offset, original = _flip_byte(damaged)
        try:
            code, output = primary.drill("--repo", "1", "--verify-only", check=False)
            assert code != 0, f"verify missed a flipped byte in {damaged}\n{output}"
            assert "verify=FAILED" in output
            # pgBackRest 2.45 itself exits 0 here and only reports the damage: the drill reads the report.
            _, raw = primary.pgbackrest("--repo=1", "--log-level-console=info", "verify", check=False)
            assert "status: error" in raw
        finally:
            _unflip_byte(damaged, offset, original)
    code, output = primary.drill("--repo", "1", "--verify-only")
    assert code == 0, output


def test_site_loss_restore_from_repo2_alone_has_every_archived_write(scenario: Scenario) -> None:
    primary = scenario.primary
    expected = fingerprint(primary.conninfo())
    primary.pgbackrest("check")  # everything written so far is archived in both repositories
    shutil.rmtree(primary.repo1)  # the site with the primary and its local repository is gone
    marker = primary.base / "hook-ran"
    _, output = primary.drill(
        "--repo",
        "2",
        "--dbname",
        DBNAME,
        "--verify-sql",
        FINGERPRINT_SQL,
        "--amcheck",
        "--hook",
        f'test "$(psql -XAtc "SELECT count(*) FROM registry_event")" -gt 0 && echo "$PGPORT" > {marker}',
    )
    assert drill_fingerprint(output) == expected
    assert marker.read_text(encoding="utf-8").strip().isdigit()
    summary = drill_summary(output)
    assert summary["repo"] == "2"
    assert summary["result"] == "passed"


def test_standby_replays_the_primary_writes(scenario: Scenario) -> None:
    primary = scenario.primary
    password = primary.base / "repl-password"
    _write_as_pg(password, REPL_PASSWORD + "\n")
    password.chmod(0o600)
    standby_port = free_port()
    output = run(
        [
            str(SCRIPTS / "standby-setup"),
            "--primary-host",
            "127.0.0.1",
            "--primary-port",
            str(primary.port),
            "--admin-conninfo",
            f"host={primary.sock} port={primary.port} user={PG_USER} dbname=postgres",
            "--repl-password-file",
            str(password),
            "--edit-primary-hba",
            "127.0.0.1/32",
            "--standby-pgdata",
            str(primary.base / "standby"),
            "--standby-port",
            str(standby_port),
            "--standby-listen",
            "127.0.0.1",
            "--standby-socket-dir",
            str(primary.sock),
            "--name",
            "standby1",
            "--passfile",
            str(primary.base / "standby.pgpass"),
            "--timeout",
            "60",
        ]
    )
    assert REPL_PASSWORD not in output
    assert "streaming" in output
    standby = primary.conninfo(port=standby_port)
    with psycopg.connect(standby) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row == (True,)

    record_move_ins(scenario.engine, 100, 1)
    expected = fingerprint(primary.conninfo())
    deadline = time.monotonic() + 60
    while (seen := fingerprint(standby)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert seen == expected
    with psycopg.connect(primary.conninfo("postgres")) as conn:
        state = conn.execute(
            "SELECT state FROM pg_stat_replication WHERE application_name = 'standby1'"
        ).fetchone()
    assert state == ("streaming",)
