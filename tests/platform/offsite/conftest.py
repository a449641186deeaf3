"""Off-site fixtures: the capture is on for every test here (as it is in the app and the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jichitai.platform.offsite import capture
from jichitai.platform.offsite.custodian import DirectoryCustodian
from jichitai.platform.offsite.keys import KeyStore


@pytest.fixture(autouse=True)
def _capture() -> None:
    capture.install()


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    """A fresh key store with the escrow key."""
    store = KeyStore(tmp_path / "keys")
    store.init_escrow()
    return store


@pytest.fixture
def custodian(tmp_path: Path) -> DirectoryCustodian:
    """An empty directory custodian."""
    return DirectoryCustodian(tmp_path / "custodian")
