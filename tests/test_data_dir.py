"""The data directory is a setting, never the working directory (issue 11, item 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jichitai.settings import Settings


def test_the_default_data_directory_is_the_xdg_data_home_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JICHITAI_VAR_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.var_dir == tmp_path / "xdg" / "jichitai"
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'xdg' / 'jichitai' / 'jichitai.db'}"


def test_without_xdg_data_home_the_default_is_under_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JICHITAI_VAR_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings().var_dir == tmp_path / ".local" / "share" / "jichitai"


@pytest.mark.parametrize("field", ["VAR_DIR", "KEY_DIR", "AUDIT_KEY_DIR", "CUSTODY_DIR"])
def test_a_relative_directory_is_pinned_when_read_so_changing_directory_moves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(f"JICHITAI_{field}", "data/here")
    settings = Settings()
    monkeypatch.chdir("/")
    value = getattr(settings, field.lower())
    assert value == tmp_path / "data" / "here"
    assert value.is_absolute()


def test_a_tilde_is_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("JICHITAI_VAR_DIR", "~/jichitai-data")
    assert Settings().var_dir == tmp_path / "jichitai-data"


def test_a_command_run_from_elsewhere_uses_the_same_database(tmp_path: Path) -> None:
    """Two commands from two working directories, one data directory: the second sees the first's towns."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg"), "JICHITAI_DATABASE_URL": ""}
    env.pop("JICHITAI_VAR_DIR", None)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jichitai.cli", *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    upgraded = run(tmp_path / "a", "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert (tmp_path / "xdg" / "jichitai" / "jichitai.db").is_file()
    assert not (tmp_path / "a" / "var").exists()
    again = run(tmp_path / "b", "db", "upgrade")
    assert again.returncode == 0, again.stdout + again.stderr
    assert not (tmp_path / "b" / "var").exists()
