"""Custodians hold a town's chunks: ciphertext, wrapped data keys and the clear chain heads, nothing else.

:class:`DirectoryCustodian` writes into a directory (a mounted remote path): ``<root>/<lg_code>/`` holds
``<chunk_id>.chunk`` (header + ciphertext), ``<chunk_id>.keys`` (wrapped data keys by key id) and
``heads.json`` (the journal and audit chain heads of the last chunk). Every file is written to a temporary
name, synced and renamed, so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Protocol


class Custodian(Protocol):
    """What the shipper and the restore need from a custodian."""

    name: str

    def put(self, lg_code: str, chunk_id: str, blob: bytes, wraps: dict[str, str]) -> None: ...
    def put_heads(self, lg_code: str, heads: dict[str, Any]) -> None: ...
    def list(self, lg_code: str) -> list[str]: ...
    def get(self, lg_code: str, chunk_id: str) -> bytes: ...
    def get_wraps(self, lg_code: str, chunk_id: str) -> dict[str, str]: ...
    def put_wraps(self, lg_code: str, chunk_id: str, wraps: dict[str, str]) -> None: ...
    def heads(self, lg_code: str) -> dict[str, Any] | None: ...
    def delete(self, lg_code: str, chunk_id: str) -> None: ...


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectoryCustodian:
    """A custodian that is a directory (local or a mounted remote path)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.name = str(self.root)

    def _dir(self, lg_code: str) -> Path:
        return self.root / lg_code

    def put(self, lg_code: str, chunk_id: str, blob: bytes, wraps: dict[str, str]) -> None:
        """Store a chunk; its keys file is written first, so a listed chunk can always be opened."""
        self.put_wraps(lg_code, chunk_id, wraps)
        self.write_chunk(lg_code, chunk_id, blob)

    def write_chunk(self, lg_code: str, chunk_id: str, blob: bytes) -> None:
        """Store a chunk's bytes (its keys must already be stored: :meth:`put_wraps`)."""
        _atomic_write(self._dir(lg_code) / f"{chunk_id}.chunk", blob)

    def has_wraps(self, lg_code: str, chunk_id: str) -> bool:
        """True when the chunk's wrapped data keys are stored."""
        return (self._dir(lg_code) / f"{chunk_id}.keys").is_file()

    def put_wraps(self, lg_code: str, chunk_id: str, wraps: dict[str, str]) -> None:
        """Replace a chunk's wrapped data keys (key rotation)."""
        _atomic_write(self._dir(lg_code) / f"{chunk_id}.keys", json.dumps(wraps, sort_keys=True).encode())

    def put_heads(self, lg_code: str, heads: dict[str, Any]) -> None:
        """Record the chain heads of the newest chunk (clear: hashes and numbers only)."""
        _atomic_write(self._dir(lg_code) / "heads.json", json.dumps(heads, sort_keys=True).encode())

    def list(self, lg_code: str) -> list[str]:
        """The stored chunk ids, sorted."""
        folder = self._dir(lg_code)
        if not folder.is_dir():
            return []
        return sorted(p.name.removesuffix(".chunk") for p in folder.glob("*.chunk"))

    def get(self, lg_code: str, chunk_id: str) -> bytes:
        """A chunk's bytes."""
        return (self._dir(lg_code) / f"{chunk_id}.chunk").read_bytes()

    def get_wraps(self, lg_code: str, chunk_id: str) -> dict[str, str]:
        """A chunk's wrapped data keys."""
        wraps: dict[str, str] = json.loads((self._dir(lg_code) / f"{chunk_id}.keys").read_bytes())
        return wraps

    def heads(self, lg_code: str) -> dict[str, Any] | None:
        """The chain heads last recorded, if any."""
        path = self._dir(lg_code) / "heads.json"
        if not path.exists():
            return None
        heads: dict[str, Any] = json.loads(path.read_bytes())
        return heads

    def delete(self, lg_code: str, chunk_id: str) -> None:
        """Remove a chunk superseded by a newer snapshot (the chunk first, so it is never listed keyless)."""
        for suffix in (".chunk", ".keys"):
            (self._dir(lg_code) / f"{chunk_id}{suffix}").unlink(missing_ok=True)


CHUNK_ID = re.compile(r"^(?:j\d{12}-\d{12}|s\d{12}(?:-p\d{6})?)$")
"""What a chunk id may look like (custodians refuse anything else, so an id is always a safe file name)."""


def chunk_id(kind: str, seq_from: int, seq_to: int) -> str:
    """Ids sort in restore order: ``j<to>-<from>`` journal ranges, ``s<at>`` snapshot manifests at a journal
    seq, ``s<at>-p<n>`` their parts (:mod:`.snapshot`)."""
    if kind == "snapshot":
        return f"s{seq_to:012d}"
    return f"j{seq_to:012d}-{seq_from:012d}"


def parse_chunk_id(value: str) -> tuple[str, int, int]:
    """(kind, from, to) of a chunk id: kind is ``journal``, ``snapshot`` (a manifest) or ``snapshot-part``."""
    if value.startswith("s") and "-p" in value:
        at = int(value[1:].split("-p")[0])
        return "snapshot-part", at, at
    if value.startswith("s"):
        at = int(value[1:])
        return "snapshot", at, at
    to, start = value[1:].split("-")
    return "journal", int(start), int(to)
