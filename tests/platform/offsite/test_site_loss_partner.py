"""The site-loss drill of issue 5 with two installations on loopback: the town's and a partner custodian.

Both are real ``jichitai serve`` processes on their own SQLite databases. Residents are added and moved under
load while the town's shipper sends its journal to the partner over HTTP; the town's server is killed
(SIGKILL) mid-load and its database files deleted; a fresh install restores from the partner alone. Every
event the journal held up to the partner's last shipped sequence must be there (the acknowledged ones
among them checked one by one), the chain heads must match, no planted resident name may appear in any
file the partner holds, and one flipped byte at the partner must make the restore refuse that chunk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import httpx2

from jichitai.platform.offsite.envelope import read_header

from ...test_cli import free_port, run_env

CODE = "034614"
CANARY = "鶚澤"
PASSWORD = "demo-password-2026"


def _serve(home: Path, port: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JICHITAI_VAR_DIR": str(home / "var"),
        "JICHITAI_DATABASE_URL": "",
        "JICHITAI_LOG_LEVEL": "WARNING",
        "JICHITAI_AUDIT_SIGN_INTERVAL": "0",
        **extra,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jichitai.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while time.monotonic() < deadline:
            assert server.poll() is None, f"server exited with {server.returncode}"
            with contextlib.suppress(httpx2.TransportError):
                if client.get("/readyz").status_code == 200:
                    return server
            time.sleep(0.2)
    server.kill()
    raise AssertionError("server not ready within 90 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.kill()
    server.wait(timeout=30)


def _move_in(client_no: int, i: int) -> dict[str, Any]:
    return {
        "type": "domestic_move_in",
        "event_date": "2026-11-01",
        "previous_address": "東京都千代田区",
        "address": {"area": "本町一丁目", "number": f"{client_no * 1000 + i}番"},
        "persons": [
            {
                "family_name": CANARY,
                "given_name": f"太{client_no}{i}",
                "family_kana": "ミサゴザワ",
                "given_kana": "タロウ",
                "kana_confirmed": True,
                "birth_date": "1980-04-01",
                "sex": "male",
                "relationship": "世帯主",
            }
        ],
    }


class Writer(threading.Thread):
    """Adds residents and corrects them until stopped; keeps the event numbers the server acknowledged."""

    def __init__(self, client_no: int, port: int, token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.client_no, self.port, self.token, self.stop = client_no, port, token, stop
        self.acknowledged: list[int] = []

    def run(self) -> None:
        base = f"/api/v1/municipalities/{CODE}/registry"
        households: list[str] = []
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx2.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30, headers=headers) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                if households and i % 3 == 0:  # a change to a resident added earlier
                    body: dict[str, Any] = {
                        "type": "ex_officio_correction",
                        "event_date": "2026-11-02",
                        "atena_no": households[i % len(households)],
                        "corrections": {"address_building": f"コーポ{self.client_no}-{i} 101号"},
                        "reason_detail": "実態調査による修正",
                    }
                else:
                    body = _move_in(self.client_no, i)
                try:
                    answer = client.post(f"{base}/events", json=body)
                except httpx2.TransportError:
                    return  # the site is gone
                if answer.status_code == 201:
                    event = answer.json()
                    self.acknowledged.append(event["event_no"])
                    if body["type"] == "domestic_move_in":
                        households.append(event["persons"][0]["atena_no"])


def _journal_events(db: Path, after: int) -> set[int]:
    """Event numbers written by journal entries after ``after`` (read from the dead site's file)."""
    import json

    found: set[int] = set()
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for (payload,) in conn.execute(
            "SELECT payload FROM offsite_journal WHERE lg_code = ? AND seq > ?", (CODE, after)
        ):
            for row in json.loads(payload).get("upsert", {}).get("registry_event", []):
                found.add(int(row["event_no"]))
    return found


def _readable(root: Path) -> list[bytes]:
    """Every file under ``root``, raw and inflated wherever a zlib stream could start."""
    out = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out.append(data)
        for start in range(len(data) - 1):
            if data[start] == 0x78 and data[start + 1] in (0x01, 0x5E, 0x9C, 0xDA):
                with contextlib.suppress(zlib.error):
                    out.append(zlib.decompressobj().decompress(data[start:]))
    return out


def _events(db: Path) -> set[int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT event_no FROM registry_event WHERE lg_code = ?", (CODE,)).fetchall()
    return {int(r[0]) for r in rows}


def test_site_loss_restores_from_a_partner_installation_alone(tmp_path: Path) -> None:
    town, partner, fresh = tmp_path / "town", tmp_path / "partner", tmp_path / "fresh"
    token_file = tmp_path / "custody.token"
    assert run_env(partner, {}, "db", "upgrade").returncode == 0
    granted = run_env(
        partner, {}, "custody", "grant", "--municipality", CODE, "--token-file", str(token_file)
    )
    assert granted.returncode == 0, granted.stdout + granted.stderr
    custody_token = token_file.read_text().strip()
    assert custody_token not in granted.stdout
    partner_port, town_port = free_port(), free_port()
    partner_url = f"http://127.0.0.1:{partner_port}"
    partner_server = _serve(partner, partner_port, {"JICHITAI_OFFSITE_SHIP_INTERVAL": "0"})
    town_server = None
    try:
        seeded = run_env(town, {}, "demo", "--residents", "20")
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        assert run_env(town, {}, "offsite", "keys", "init").returncode == 0
        added = run_env(
            town, {}, "offsite", "custodian", "add", "--municipality", CODE,
            "--url", partner_url, "--token-file", str(token_file),
        )  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
        town_server = _serve(
            town, town_port, {"JICHITAI_OFFSITE_SHIP_INTERVAL": "1", "JICHITAI_OFFSITE_SNAPSHOT_EVERY": "60"}
        )
        login = httpx2.post(
            f"http://127.0.0.1:{town_port}/api/v1/auth/token",
            json={
                "lg_code": CODE,
                "login_name": "demo-clerk",
                "password": PASSWORD,
                "purpose": "resident_registry",
            },
            timeout=30,
        )
        assert login.status_code == 201, login.text
        stop = threading.Event()
        writers = [Writer(n, town_port, login.json()["token"], stop) for n in (1, 2)]
        for writer in writers:
            writer.start()
        custody = httpx2.Client(
            base_url=partner_url, headers={"Authorization": f"Bearer {custody_token}"}, timeout=30
        )
        # Load until the partner holds a good part of it, then lose the site in the middle of the load.
        # "A good part" means a ship that began after 80 acknowledgements: on a loaded machine the first ships
        # may carry only sign-in and settings entries, so a journal sequence above zero alone proves nothing.
        deadline = time.monotonic() + 120
        seq_at_80: int | None = None
        while time.monotonic() < deadline:
            time.sleep(1)
            heads = custody.get(f"/api/v1/custody/{CODE}/heads")
            seq = heads.json()["journal"]["seq"] if heads.status_code == 200 else 0
            if seq_at_80 is None and sum(len(w.acknowledged) for w in writers) >= 80:
                seq_at_80 = seq
            elif seq_at_80 is not None and seq > seq_at_80:
                break
        time.sleep(1.5)
        town_server.send_signal(signal.SIGKILL)
        town_server.wait(timeout=30)
        stop.set()
        for writer in writers:
            writer.join(timeout=60)
        # What the partner holds is what its chunks say (heads.json may be one chunk behind if the site died
        # between storing a chunk and its heads): the newest journal chunk's clear header has its heads.
        held = custody.get(f"/api/v1/custody/{CODE}/chunks").json()["chunks"]
        newest = max((c for c in held if c.startswith("j")), key=lambda c: int(c[1:13]))
        header = read_header(newest, custody.get(f"/api/v1/custody/{CODE}/chunks/{newest}").content)[0]
        custody.close()
        heads = header["heads"]
        shipped = heads["journal"]["seq"]
        db = town / "var" / "jichitai.db"
        # The oracle, read from the dead site's file: every event it had, less those journaled after the
        # partner's last shipped sequence (the demo's seed came in by bulk load, covered by a snapshot).
        unshipped = _journal_events(db, shipped)
        in_copy = _events(db) - unshipped
        acknowledged_ids = {n for w in writers for n in w.acknowledged}
        assert acknowledged_ids & in_copy, "nothing acknowledged was shipped before the loss"
        # The town key is kept away from the site (a sealed envelope, another office): copy it out first.
        shutil.copytree(town / "var" / "keys" / "offsite", fresh / "var" / "keys" / "offsite")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        restored = run_env(
            fresh, {}, "offsite", "restore", "--municipality", CODE, "--from", partner_url,
            "--token-file", str(token_file),
        )  # fmt: skip
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "監査証跡: OK" in restored.stdout
        assert "ヘッド一致: はい" in restored.stdout
        restored_db = fresh / "var" / "jichitai.db"
        events = _events(restored_db)
        assert events == in_copy
        assert acknowledged_ids & in_copy <= events  # every acknowledged event the partner had is back
        with contextlib.closing(sqlite3.connect(f"file:{restored_db}?mode=ro", uri=True)) as conn:
            head = conn.execute(
                "SELECT seq, entry_hash FROM offsite_journal WHERE lg_code = ? ORDER BY seq DESC LIMIT 1",
                (CODE,),
            ).fetchone()
            audit = conn.execute(
                "SELECT seq, entry_hash FROM audit_entry WHERE lg_code = ? ORDER BY seq DESC LIMIT 1", (CODE,)
            ).fetchone()
        assert (head[0], head[1]) == (shipped, heads["journal"]["hash"])
        assert (audit[0], audit[1]) == (heads["audit"]["seq"], heads["audit"]["hash"])
        # The partner never held anything readable.
        stored = partner / "var" / "custody"
        files = _readable(stored)
        assert len(files) > 10
        assert not [data for data in files if CANARY.encode() in data or "ミサゴザワ".encode() in data]
        # One flipped byte at the partner: the restore refuses, naming the chunk.
        victim = sorted((stored / CODE).glob("j*.chunk"))[-1]
        data = bytearray(victim.read_bytes())
        data[-5] ^= 0x01
        victim.write_bytes(bytes(data))
        shutil.copytree(fresh / "var" / "keys" / "offsite", tmp_path / "fresh2" / "var" / "keys" / "offsite")
        again = run_env(
            tmp_path / "fresh2", {}, "offsite", "restore", "--municipality", CODE, "--from", partner_url,
            "--token-file", str(token_file), "--escrow",
        )  # fmt: skip
        assert again.returncode == 2
        assert victim.stem in again.stdout
    finally:
        _stop(partner_server)
        if town_server is not None:
            _stop(town_server)
