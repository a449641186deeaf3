"""The command line and the real server process, as an operator uses them (SQLite under a temp var/)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import text

from jichitai.modules.registry import count_residents
from jichitai.platform.audit import append_entry
from jichitai.platform.db import UnitOfWork, make_engine, read_session
from jichitai.platform.tenancy import Tenant, list_municipalities


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JICHITAI_VAR_DIR": str(tmp_path / "var"), "JICHITAI_DATABASE_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "jichitai.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


ADD_OTSUCHI = (
    "municipality", "add", "034614",
    "--name", "大槌町", "--name-kana", "オオツチチョウ", "--prefecture", "岩手県",
)  # fmt: skip


def test_upgrade_and_add_municipality(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert (tmp_path / "var" / "jichitai.db").exists()
    added = run(tmp_path, *ADD_OTSUCHI, "--setting", "mayor_title=町長")
    assert added.returncode == 0, added.stderr
    again = run(tmp_path, *ADD_OTSUCHI)
    assert again.returncode == 2
    assert "既に登録" in again.stdout
    generated = run(
        tmp_path, "registry", "generate", "--municipality", "034614", "--residents", "300", "--seed", "7"
    )
    assert generated.returncode == 0, generated.stderr
    assert '"residents": 300' in generated.stdout
    missing = run(tmp_path, "registry", "generate", "--municipality", "999999", "--residents", "10")
    assert missing.returncode == 2
    assert "not_found" in missing.stdout
    bad = run(
        tmp_path, "municipality", "add", "034615", "--name", "x", "--name-kana", "x", "--prefecture", "x"
    )
    assert bad.returncode == 2
    assert "invalid_check_digit" in bad.stdout


def test_staff_and_operator_accounts_from_the_command_line(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, *ADD_OTSUCHI).returncode == 0
    env = {"JICHITAI_NEW_PASSWORD": "a long enough passphrase"}
    added = run_env(tmp_path, env, "staff", "add", "034614", "yamada", "--name", "山田", "--role", "admin")
    assert added.returncode == 0, added.stdout + added.stderr
    unknown = run_env(tmp_path, env, "staff", "add", "034614", "kato", "--name", "加藤", "--role", "king")
    assert (unknown.returncode, "unknown_role" in unknown.stdout) == (2, True)
    weak = run_env(tmp_path, {"JICHITAI_NEW_PASSWORD": "short"}, "operator", "add", "ops", "--name", "運用")
    assert (weak.returncode, "weak_password" in weak.stdout) == (2, True)
    assert run_env(tmp_path, env, "operator", "add", "ops", "--name", "運用").returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'jichitai.db'}")
    try:
        with read_session(engine) as session:
            actions = session.execute(text("SELECT actor, action FROM audit_entry ORDER BY seq")).all()
            assert ("cli", "admin:user:create") in [tuple(a) for a in actions]
    finally:
        engine.dispose()


def run_env(tmp_path: Path, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JICHITAI_VAR_DIR": str(tmp_path / "var"), "JICHITAI_DATABASE_URL": "", **extra}
    return subprocess.run(
        [sys.executable, "-m", "jichitai.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_serve_answers_and_shuts_down_gracefully(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    port = free_port()
    env = {
        **os.environ,
        "JICHITAI_VAR_DIR": str(tmp_path / "var"),
        "JICHITAI_DATABASE_URL": "",
        "JICHITAI_LOG_FORMAT": "json",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jichitai.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status: int | None = None
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/readyz")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert status == 200
        assert body["status"] == "ready"
        assert get(f"http://127.0.0.1:{port}/api/v1/municipalities") == (200, [])
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is SIGTERM's own.
    assert server.returncode in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("message") == "request"]
    assert access, output
    assert all(line["request_id"] != "-" for line in access)
    assert {line["path"] for line in access} >= {"/readyz", "/api/v1/municipalities"}
    assert any(line["message"] == "Application shutdown complete." for line in lines), output


def test_demo_seeds_three_towns_once(tmp_path: Path) -> None:
    first = run(tmp_path, "demo", "--residents", "60")
    assert first.returncode == 0, first.stderr
    again = run(tmp_path, "demo", "--residents", "60")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("登録済み") == 3
    assert "demo-clerk" in first.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'jichitai.db'}")
    try:
        with read_session(engine) as session:
            towns = [m.lg_code for m in list_municipalities(session)]
            assert towns == ["032107", "034614", "046060"]
            assert [count_residents(session, Tenant(code)) for code in towns] == [60, 60, 60]
    finally:
        engine.dispose()


def test_audit_verify_names_the_first_bad_entry(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    assert run(tmp_path, *ADD_OTSUCHI).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'jichitai.db'}")
    try:
        for i in range(3):
            with UnitOfWork(engine) as uow:
                append_entry(
                    uow.session,
                    Tenant("034614"),
                    actor="tester",
                    action="registry:resident:read",
                    subject=str(i),
                )
                uow.commit()
        signed = run(tmp_path, "audit", "sign")
        assert (signed.returncode, "4 番に署名しました" in signed.stdout) == (0, True), signed.stdout
        # by default beside the data directory, never inside it
        assert (tmp_path / "var.audit-keys" / "034614.audit-ed25519.pem").stat().st_mode & 0o777 == 0o600
        clean = run(tmp_path, "audit", "verify")
        assert (clean.returncode, "034614: OK (4 件, 署名済みヘッド 1 件)" in clean.stdout) == (0, True), (
            clean.stdout
        )
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_entry SET actor = 'intruder' WHERE seq = 3"))
    finally:
        engine.dispose()
    broken = run(tmp_path, "audit", "verify", "--municipality", "034614")
    assert broken.returncode == 1
    assert "3 番" in broken.stdout
