"""Wrapping keys: one per municipality and one escrow key per installation, kept as files (mode 0600).

Keys live under ``<key_dir>/offsite/`` and never in the database, in a log line, an error or at a
custodian; a key is named by its id, a short hash of the key that reveals nothing of it. Rotation retires
the town's key (renamed ``*.retired``) after its chunks were re-wrapped (:func:`.shipper.rotate_town_key`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyMissing(Exception):
    """A key file is absent (the message names the file, never key material)."""


def key_id(key: bytes) -> str:
    """A short public name for a key."""
    return hashlib.sha256(b"jichitai-offsite-key:" + key).hexdigest()[:16]


class KeyStore:
    """The off-site keys of this installation, under ``key_dir/offsite``."""

    def __init__(self, key_dir: Path) -> None:
        self.root = key_dir / "offsite"

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.key"

    def _write(self, path: Path, key: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.hex().encode("ascii"))
            f.flush()
            os.fsync(f.fileno())

    def _read(self, path: Path) -> bytes:
        if not path.exists():
            raise KeyMissing(f"key file {path} not found")
        return bytes.fromhex(path.read_text("ascii").strip())

    def init_escrow(self) -> str:
        """Create the escrow key if absent; its id."""
        path = self._path("escrow")
        if not path.exists():
            self._write(path, AESGCM.generate_key(bit_length=256))
        return key_id(self._read(path))

    def init_town(self, lg_code: str) -> str:
        """Create the town's key if absent; its id."""
        path = self._path(f"town-{lg_code}")
        if not path.exists():
            self._write(path, AESGCM.generate_key(bit_length=256))
        return key_id(self._read(path))

    def escrow(self) -> tuple[str, bytes]:
        """The escrow key (id, bytes)."""
        key = self._read(self._path("escrow"))
        return key_id(key), key

    def town(self, lg_code: str) -> tuple[str, bytes]:
        """The town's current key (id, bytes)."""
        key = self._read(self._path(f"town-{lg_code}"))
        return key_id(key), key

    def has_town(self, lg_code: str) -> bool:
        """True when the town's key file exists."""
        return self._path(f"town-{lg_code}").exists()

    def wrapping_keys(self, lg_code: str) -> dict[str, bytes]:
        """The keys every new chunk of the town is wrapped for: the town's and the escrow key."""
        self.init_escrow()
        self.init_town(lg_code)
        return dict([self.town(lg_code), self.escrow()])

    def replace_town(self, lg_code: str) -> tuple[str, bytes, str]:
        """Write a new town key and retire the current one; returns (new id, new key, old id)."""
        old_id, _ = self.town(lg_code)
        current = self._path(f"town-{lg_code}")
        current.rename(self.root / f"town-{lg_code}.{old_id}.retired")
        new_id = self.init_town(lg_code)
        return new_id, self.town(lg_code)[1], old_id

    def retired(self, lg_code: str, kid: str) -> bytes:
        """A retired town key (kept until every custodian was re-wrapped)."""
        return self._read(self.root / f"town-{lg_code}.{kid}.retired")
