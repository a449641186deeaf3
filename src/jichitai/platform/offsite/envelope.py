"""Encrypted chunks: AES-256-GCM under a fresh data key, the data key wrapped for each key holder.

A chunk file is ``MAGIC | header length (4 bytes, big-endian) | header JSON | nonce (12) | ciphertext``.
The header (chunk id, town, kind, sequence range, chain heads) is in clear so that a custodian can list
and prove what it holds, and it is the AEAD's associated data, so changing it breaks decryption. The
wrapped data keys live beside the chunk, not inside it: rotating a key rewrites only them, never the
ciphertext.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

MAGIC = b"JCOF1\n"


class ChunkCorrupt(Exception):
    """A chunk failed its integrity check (or cannot be opened with the keys given); names the chunk."""

    def __init__(self, chunk_id: str, reason: str) -> None:
        super().__init__(f"chunk {chunk_id}: {reason}")
        self.chunk_id = chunk_id
        self.reason = reason


@dataclass(frozen=True)
class Sealed:
    """A chunk ready for a custodian: the file bytes and the wrapped data keys by key id."""

    chunk_id: str
    header: dict[str, Any]
    blob: bytes
    wraps: dict[str, str]


def seal(header: dict[str, Any], plaintext: bytes, wrapping_keys: dict[str, bytes]) -> Sealed:
    """Compress and encrypt ``plaintext`` under a new data key wrapped for every key in ``wrapping_keys``."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ciphertext = AESGCM(data_key).encrypt(nonce, zlib.compress(plaintext, 6), head)
    blob = MAGIC + len(head).to_bytes(4, "big") + head + nonce + ciphertext
    wraps = {
        kid: base64.b64encode(aes_key_wrap(key, data_key)).decode("ascii")
        for kid, key in wrapping_keys.items()
    }
    return Sealed(str(header["chunk_id"]), header, blob, wraps)


def read_header(chunk_id: str, blob: bytes) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Split a chunk file into header (parsed), header bytes, nonce and ciphertext; refuse a malformed one."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise ChunkCorrupt(chunk_id, "not an off-site chunk (bad magic)")
    start = len(MAGIC) + 4
    length = int.from_bytes(blob[len(MAGIC) : start], "big")
    head = blob[start : start + length]
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise ChunkCorrupt(chunk_id, "header unreadable (altered)") from exc
    if not isinstance(header, dict) or header.get("chunk_id") != chunk_id:
        raise ChunkCorrupt(chunk_id, "header does not name this chunk (altered or misplaced)")
    rest = blob[start + length :]
    return header, head, rest[:12], rest[12:]


def unwrap(chunk_id: str, wraps: dict[str, str], keys: dict[str, bytes]) -> bytes:
    """The chunk's data key, unwrapped with whichever of ``keys`` it was wrapped for."""
    for kid, key in keys.items():
        if kid in wraps:
            try:
                return aes_key_unwrap(key, base64.b64decode(wraps[kid]))
            except (InvalidUnwrap, ValueError) as exc:
                raise ChunkCorrupt(chunk_id, f"wrapped data key for key {kid} does not unwrap") from exc
    raise ChunkCorrupt(chunk_id, "none of the available keys can open this chunk")


def rewrap(
    chunk_id: str, wraps: dict[str, str], keys: dict[str, bytes], new: dict[str, bytes]
) -> dict[str, str]:
    """Wrapped keys for ``new`` key holders (the data key itself and the ciphertext stay the same)."""
    data_key = unwrap(chunk_id, wraps, keys)
    return {kid: base64.b64encode(aes_key_wrap(key, data_key)).decode("ascii") for kid, key in new.items()}


def authenticate(chunk_id: str, blob: bytes, wraps: dict[str, str], keys: dict[str, bytes]) -> None:
    """Check that a chunk is intact without decompressing it (AES-GCM decryption verifies the tag)."""
    _, head, nonce, ciphertext = read_header(chunk_id, blob)
    data_key = unwrap(chunk_id, wraps, keys)
    try:
        AESGCM(data_key).decrypt(nonce, ciphertext, head)
    except (InvalidTag, ValueError) as exc:
        raise ChunkCorrupt(chunk_id, "authentication failed: the chunk was altered or damaged") from exc


def open_chunk(
    chunk_id: str, blob: bytes, wraps: dict[str, str], keys: dict[str, bytes]
) -> tuple[dict[str, Any], bytes]:
    """Header and plaintext of a chunk; any altered byte raises :class:`ChunkCorrupt` naming the chunk."""
    header, head, nonce, ciphertext = read_header(chunk_id, blob)
    data_key = unwrap(chunk_id, wraps, keys)
    try:
        compressed = AESGCM(data_key).decrypt(nonce, ciphertext, head)
    except (InvalidTag, ValueError) as exc:
        raise ChunkCorrupt(chunk_id, "authentication failed: the chunk was altered or damaged") from exc
    return header, zlib.decompress(compressed)
