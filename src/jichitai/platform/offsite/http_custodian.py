"""Another jichitai installation as a custodian, reached over HTTP (``/api/v1/custody/{lg_code}/…``).

The partner granted this town a custody token (``jichitai custody grant`` there); it is kept in the key
directory beside the town's keys (mode 0600), never in the database or a log. A custodian location is
either a directory path or the partner's base URL (``http://`` or ``https://``).

Every failure to reach or use the partner is an :class:`OSError` (:class:`CustodianUnreachable`), which
the shipper records for the alert and the restore reports as an unreadable chunk.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx2

from jichitai.platform.offsite.custodian import Custodian, DirectoryCustodian


class CustodianUnreachable(OSError):
    """The partner did not answer, or refused (the message has the status and error code only)."""


def is_url(location: str) -> bool:
    """True for an HTTP custodian's base URL."""
    return location.startswith(("http://", "https://"))


class HttpCustodian:
    """A partner installation's custody endpoint for one depositing town."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self.name = base_url.rstrip("/")
        self._client = httpx2.Client(
            base_url=self.name,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
            raise CustodianUnreachable(f"{self.name}: {type(exc).__name__}") from exc
        if response.status_code == 404 and method == "GET":
            raise FileNotFoundError(f"{self.name}{path}: not held")
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "-"
            raise CustodianUnreachable(f"{self.name}: HTTP {response.status_code} {code}")
        return response

    def _base(self, lg_code: str) -> str:
        return f"/api/v1/custody/{lg_code}"

    def put(self, lg_code: str, chunk_id: str, blob: bytes, wraps: dict[str, str]) -> None:
        """Store a chunk: its wrapped keys first, then its bytes."""
        self.put_wraps(lg_code, chunk_id, wraps)
        self._call(
            "PUT",
            f"{self._base(lg_code)}/chunks/{chunk_id}",
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
        )

    def put_wraps(self, lg_code: str, chunk_id: str, wraps: dict[str, str]) -> None:
        """Store or replace a chunk's wrapped data keys."""
        self._call("PUT", f"{self._base(lg_code)}/chunks/{chunk_id}/keys", json=wraps)

    def put_heads(self, lg_code: str, heads: dict[str, Any]) -> None:
        """Record the chain heads of the newest chunk."""
        self._call("PUT", f"{self._base(lg_code)}/heads", json=heads)

    def list(self, lg_code: str) -> list[str]:
        """The chunk ids held, sorted."""
        chunks: list[str] = self._call("GET", f"{self._base(lg_code)}/chunks").json()["chunks"]
        return sorted(chunks)

    def get(self, lg_code: str, chunk_id: str) -> bytes:
        """A chunk's bytes."""
        return self._call("GET", f"{self._base(lg_code)}/chunks/{chunk_id}").content

    def get_wraps(self, lg_code: str, chunk_id: str) -> dict[str, str]:
        """A chunk's wrapped data keys."""
        wraps: dict[str, str] = self._call("GET", f"{self._base(lg_code)}/chunks/{chunk_id}/keys").json()
        return wraps

    def heads(self, lg_code: str) -> dict[str, Any] | None:
        """The chain heads last recorded, if any."""
        try:
            heads: dict[str, Any] = self._call("GET", f"{self._base(lg_code)}/heads").json()
        except FileNotFoundError:
            return None
        return heads

    def delete(self, lg_code: str, chunk_id: str) -> None:
        """Delete a chunk the partner agrees is superseded by a newer snapshot."""
        self._call("DELETE", f"{self._base(lg_code)}/chunks/{chunk_id}")


class TokenMissing(Exception):
    """No custody token is stored for an HTTP custodian (the message names the file, never a token)."""


def _token_path(key_dir: Path, location: str, lg_code: str) -> Path:
    name = hashlib.sha256(f"{lg_code} {location.rstrip('/')}".encode()).hexdigest()[:16]
    return key_dir / "offsite" / f"custody-{lg_code}-{name}.token"


def save_token(key_dir: Path, location: str, lg_code: str, token: str) -> Path:
    """Keep the custody token the partner granted (mode 0600, replacing an older one)."""
    path = _token_path(key_dir, location, lg_code)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token.strip())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_token(key_dir: Path, location: str, lg_code: str) -> str:
    """The stored custody token for ``location``."""
    path = _token_path(key_dir, location, lg_code)
    if not path.exists():
        raise TokenMissing(f"custody token file {path} not found")
    return path.read_text("ascii").strip()


def open_custodian(location: str, lg_code: str, key_dir: Path, token: str | None = None) -> Custodian:
    """The custodian at ``location`` (a directory, or a partner URL using the stored or given token)."""
    if is_url(location):
        return HttpCustodian(location, token or load_token(key_dir, location, lg_code))
    return DirectoryCustodian(location)


def close(custodian: Custodian) -> None:
    """Release what an opened custodian holds (an HTTP connection pool)."""
    if isinstance(custodian, HttpCustodian):
        custodian.close()
