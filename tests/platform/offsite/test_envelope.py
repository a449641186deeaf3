"""Encrypted chunks and wrapping keys, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.envelope import ChunkCorrupt, open_chunk, seal
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import rotate_town_key

HEADER = {"chunk_id": "j000000000002-000000000001", "lg_code": "034614", "kind": "journal"}
SECRET = "大槌　花子".encode()


def test_a_chunk_opens_with_the_town_key_and_with_the_escrow_key(keys: KeyStore) -> None:
    wrapping = keys.wrapping_keys("034614")
    sealed = seal(HEADER, SECRET, wrapping)
    for kid, key in wrapping.items():
        header, plain = open_chunk(sealed.chunk_id, sealed.blob, sealed.wraps, {kid: key})
        assert plain == SECRET
        assert header == HEADER
    assert SECRET not in sealed.blob


def test_a_chunk_refuses_a_key_it_was_not_wrapped_for(keys: KeyStore, tmp_path: Path) -> None:
    sealed = seal(HEADER, SECRET, keys.wrapping_keys("034614"))
    other = KeyStore(tmp_path / "other")
    other.init_town("034614")
    with pytest.raises(ChunkCorrupt, match="none of the available keys"):
        open_chunk(sealed.chunk_id, sealed.blob, sealed.wraps, dict([other.town("034614")]))


@pytest.mark.parametrize("where", [10, 40, -1, -20])
def test_a_flipped_byte_is_refused_naming_the_chunk(keys: KeyStore, where: int) -> None:
    wrapping = keys.wrapping_keys("034614")
    sealed = seal(HEADER, SECRET, wrapping)
    damaged = bytearray(sealed.blob)
    damaged[where] ^= 0x01
    with pytest.raises(ChunkCorrupt) as caught:
        open_chunk(sealed.chunk_id, bytes(damaged), sealed.wraps, wrapping)
    assert caught.value.chunk_id == sealed.chunk_id
    assert sealed.chunk_id in str(caught.value)


def test_rotation_rewraps_data_keys_and_leaves_ciphertext_alone(keys: KeyStore, tmp_path: Path) -> None:
    custodian = DirectoryCustodian(tmp_path / "custodian")
    sealed = seal(HEADER, SECRET, keys.wrapping_keys("034614"))
    old_id, old_key = keys.town("034614")
    custodian.put("034614", sealed.chunk_id, sealed.blob, sealed.wraps)
    before = (tmp_path / "custodian" / "034614" / f"{sealed.chunk_id}.chunk").read_bytes()

    new_id, count = rotate_town_key(keys, "034614", [custodian])

    assert count == 1
    assert new_id != old_id
    after = (tmp_path / "custodian" / "034614" / f"{sealed.chunk_id}.chunk").read_bytes()
    assert after == before
    wraps = custodian.get_wraps("034614", sealed.chunk_id)
    assert old_id not in wraps
    _, plain = open_chunk(sealed.chunk_id, after, wraps, dict([keys.town("034614")]))
    assert plain == SECRET
    with pytest.raises(ChunkCorrupt):
        open_chunk(sealed.chunk_id, after, wraps, {old_id: old_key})


def test_key_files_are_private_and_hold_no_key_id_in_clear(keys: KeyStore) -> None:
    kid = keys.init_town("034614")
    path = keys.root / "town-034614.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert kid not in path.read_text()
