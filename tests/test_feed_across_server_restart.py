"""A registry change reaches a change-feed consumer exactly once across real server restarts.

``jichitai serve`` runs as a process of its own, with the test-only probe module plugged in through
``JICHITAI_EXTRA_MODULES`` (its consumer writes one ``probe_seen`` row per delivery, so a repeat would
show) and the feed-dispatch job due at every scheduler tick. Changes are recorded over HTTP while it runs
and through the same API in the test's own process while it is down. The server is killed hard (SIGKILL)
as soon as the first change is delivered, so as a rule in the middle of delivering the demo towns' history,
and later stopped gracefully (SIGTERM). After each restart every town's consumer must hold every position
of its feed exactly once, in order, none missing. On each engine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from jichitai.app import create_app
from jichitai.platform.db import as_utc, make_engine, read_session, utcnow
from jichitai.platform.feeds import DISPATCH_JOB
from jichitai.platform.jobs import PlatformJob
from jichitai.platform.modules import catalog
from jichitai.platform.tenancy import Tenant, list_municipalities
from jichitai.settings import Settings

from .conftest import PG_ADMIN
from .probe_module.module import Seen

REPO = Path(__file__).resolve().parents[1]
PROBE = "tests.probe_module.module"
TOWN = "034614"
EVENTS = f"/api/v1/municipalities/{TOWN}/registry/events"
"""Where the register records a 異動 (JSON API)."""
FEED = "registry.changes"
DISPATCH = "feeds.dispatch"
PATIENCE = 20.0
"""Seconds to wait for the server to answer, or for the changes to be delivered, before failing."""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on one engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}"
        return
    name = f"jichitai_restart_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("JICHITAI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    """The server's environment: the probe plugged in, feeds dispatched often, the other jobs off."""
    path = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
        "JICHITAI_VAR_DIR": str(tmp_path / "var"),
        "JICHITAI_DATABASE_URL": url,
        "JICHITAI_EXTRA_MODULES": PROBE,
        "JICHITAI_FEED_DISPATCH_INTERVAL": "0.5",
        "JICHITAI_WORKERS": "1",  # the lease holder is the pid the test kills
        "JICHITAI_AUDIT_SIGN_INTERVAL": "0",
        "JICHITAI_OFFSITE_SHIP_INTERVAL": "0",
        "JICHITAI_LOG_FORMAT": "text",
        "JICHITAI_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``jichitai serve`` in a process of its own, started and stopped by the test; its output kept."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp_path = tmp_path
        self.env = environment(tmp_path, url)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.tmp_path / f"serve-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jichitai.cli", "serve", "--port", str(self.port)],
                cwd=self.tmp_path,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.ready, "the server to answer /readyz", self)

    def ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, f"the server exited ({self.process.returncode})\n{self.output()}"
        try:
            with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as response:
                status: int = response.status
                return status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def crash(self) -> int:
        """Kill the server at once (no shutdown of any kind); its process id."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        return self.process.pid

    def stop(self) -> None:
        """Stop the server gracefully, as a service manager does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status is SIGTERM's own.
        assert code in (0, -signal.SIGTERM), self.output()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        """The tail of every run's output, for assertion messages."""
        parts = [f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in self.logs]
        return "\n".join(parts)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """The server on the database (not started); always killed at the end."""
    started = Server(tmp_path, database_url)
    try:
        yield started
    finally:
        started.close()


def wait_until(done: Callable[[], bool], what: str, server: Server) -> None:
    """Poll ``done`` until it holds; fail naming ``what`` (with the server's output) after PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{server.output()}")
        time.sleep(0.05)


def jichitai(tmp_path: Path, url: str, *args: str) -> None:
    """One command of the product's CLI in a process of its own (without the probe)."""
    env = {**environment(tmp_path, url), "JICHITAI_EXTRA_MODULES": ""}
    result = subprocess.run(
        [sys.executable, "-m", "jichitai.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        pytest.fail(f"POST {url}: {exc.code} {exc.read().decode(errors='replace')}")


def move_in(n: int) -> dict[str, Any]:
    """A 国内転入 of one person; ``n`` makes each one a different person."""
    today = dt.date.today()
    return {
        "type": "domestic_move_in",
        "event_date": (today - dt.timedelta(days=30)).isoformat(),
        "notified_on": (today - dt.timedelta(days=25)).isoformat(),
        "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
        "address": {"area": "本町一丁目", "number": f"{n}番1号", "postal_code": "0281115"},
        "persons": [
            {
                "family_name": "再起",
                "given_name": f"試験{n}",
                "family_kana": "サイキ",
                "given_kana": "シケン",
                "kana_confirmed": True,
                "birth_date": (dt.date(1980, 1, 1) + dt.timedelta(days=n)).isoformat(),
                "sex": "female",
                "relationship": "世帯主",
            }
        ],
    }


class Recorder:
    """Records 異動 as the demo clerk: over HTTP while the server runs, in this process while it is down."""

    def __init__(self, tmp_path: Path, url: str, engine: Engine) -> None:
        self.settings = Settings(
            var_dir=tmp_path / "var",
            database_url=url,
            log_format="text",
            log_level="WARNING",
            audit_sign_interval=0,
            offsite_ship_interval=0,
        )
        self.engine = engine
        self.token = ""
        self.count = 0

    def sign_in(self, server: Server) -> None:
        body = {
            "lg_code": TOWN,
            "login_name": "demo-clerk",
            "password": "demo-password-2026",
            "purpose": "resident_registry",
        }
        self.token = post_json(f"{server.base}/api/v1/auth/token", body)["token"]

    def over_http(self, server: Server, times: int) -> None:
        for _ in range(times):
            self.count += 1
            post_json(f"{server.base}{EVENTS}", move_in(self.count), self.token)

    def while_down(self, times: int) -> None:
        # The app is not entered as a context, so its lifespan (and with it the scheduler) never starts:
        # nothing in this process delivers, it only records.
        client = TestClient(
            create_app(self.settings, self.engine),
            raise_server_exceptions=True,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        for _ in range(times):
            self.count += 1
            response = client.post(EVENTS, json=move_in(self.count))
            assert response.status_code == 201, response.text


def positions(engine: Engine) -> dict[str, list[int]]:
    """Every position of each town's registry change feed, in order (what the consumer must take in)."""
    feed = catalog().feeds[FEED]
    with read_session(engine) as session:
        towns = [Tenant(m.lg_code) for m in list_municipalities(session)]
        return {town.lg_code: [c.position for c in feed.read(session, town, 0, 1_000_000)] for town in towns}


def heads(engine: Engine) -> dict[str, int]:
    """Each town's last position of the registry's change feed."""
    feed = catalog().feeds[FEED]
    with read_session(engine) as session:
        towns = [Tenant(m.lg_code) for m in list_municipalities(session)]
        return {town.lg_code: feed.head(session, town) for town in towns}


def seen(engine: Engine) -> dict[str, list[int]]:
    """The positions the probe took in, per town, in the order it took them in."""
    taken: dict[str, list[int]] = {}
    with read_session(engine) as session:
        rows = session.execute(select(Seen.lg_code, Seen.position).order_by(Seen.lg_code, Seen.seen_no))
        for code, position in rows:
            taken.setdefault(code, []).append(position)
    return taken


def caught_up(engine: Engine) -> Callable[[], bool]:
    """True once every town's consumer has taken in its feed's last change (repeats are judged after)."""

    def check() -> bool:
        taken = seen(engine)
        return all(taken.get(code, [0])[-1] >= last for code, last in heads(engine).items())

    return check


def assert_exactly_once(engine: Engine, server: Server) -> None:
    """Every town's consumer took in every position of its feed once, in order, and nothing else."""
    expected = {code: found for code, found in positions(engine).items() if found}
    assert seen(engine) == expected, server.output()


def dispatch_lease(engine: Engine) -> tuple[str | None, dt.datetime | None]:
    """Who holds the feed-dispatch job's lease, and until when."""
    with read_session(engine) as session:
        row = session.get(PlatformJob, DISPATCH)
        return (row.holder, row.lease_until) if row is not None else (None, None)


def assert_short_lease_of_the_dead(engine: Engine, pid: int) -> None:
    """A server killed mid-dispatch keeps the job for at most the dispatch job's own short lease."""
    holder, until = dispatch_lease(engine)
    if holder is None or until is None:
        return  # killed between two runs: nothing held
    assert holder.split(":")[1] == str(pid), holder
    assert as_utc(until) - utcnow() <= dt.timedelta(seconds=DISPATCH_JOB.lease or 0), until


def test_a_registry_change_reaches_the_consumer_exactly_once_across_server_restarts(
    tmp_path: Path, database_url: str, server: Server
) -> None:
    jichitai(tmp_path, database_url, "demo", "--residents", "20")
    engine = make_engine(database_url)
    try:
        Seen.metadata.create_all(engine)
        recorder = Recorder(tmp_path, database_url, engine)
        assert min(heads(engine).values()) > 0  # the demo towns start with history to deliver

        # 1. The server delivers the demo history and the changes made over HTTP; it is killed mid-way.
        server.start()
        recorder.sign_in(server)
        recorder.over_http(server, 3)
        wait_until(lambda: bool(seen(engine)), "the first delivery", server)
        killed = server.crash()
        assert_short_lease_of_the_dead(engine, killed)

        # 2. Changes made while no server runs; the restarted server delivers the rest, once.
        recorder.while_down(3)
        server.start()
        recorder.over_http(server, 2)
        wait_until(caught_up(engine), "every change after the crash", server)
        assert_exactly_once(engine, server)

        # 3. A graceful stop releases the lease; the changes made meanwhile follow after the restart.
        recorder.over_http(server, 2)
        server.stop()
        assert dispatch_lease(engine) == (None, None)
        recorder.while_down(2)
        server.start()
        recorder.over_http(server, 1)
        wait_until(caught_up(engine), "every change after the graceful restart", server)
        assert_exactly_once(engine, server)
    finally:
        engine.dispose()
