"""Process settings, read from the environment (``JICHITAI_*``).

Settings are per installation, not per municipality: anything that differs between towns is data with an
effective date (see :mod:`jichitai.platform.tenancy`), never a setting here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Installation-wide settings; every field maps to ``JICHITAI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JICHITAI_", extra="ignore")

    database_url: str = ""
    """SQLAlchemy URL. Empty means the embedded SQLite file ``<var_dir>/jichitai.db``."""
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    key_dir: Path | None = None
    """Where each municipality's audit-head signing key lives (outside the database, mode 0600);
    empty means ``<var_dir>/keys``."""
    workers: int = 1
    """Server worker processes; one Python process uses one core, so match the cores left to the app."""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    db_pool_size: int = 10
    demo_residents: int = 3000
    """Synthetic residents per demo municipality seeded by ``jichitai demo``."""
    shutdown_timeout: int = 20
    """Seconds the server waits for in-flight requests on SIGTERM before closing."""

    def resolved_key_dir(self) -> Path:
        """The signing-key directory, defaulting to ``<var_dir>/keys``."""
        return self.key_dir or self.var_dir / "keys"

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file under ``var_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'jichitai.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
