"""Process settings, read from the environment (``JICHITAI_*``).

Settings are per installation, not per municipality: anything that differs between towns is data with an
effective date (see :mod:`jichitai.platform.tenancy`), never a setting here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
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
    session_idle_minutes: int = 30
    """A browser session ends after this many minutes without a request."""
    session_max_hours: int = 12
    """A browser session ends this many hours after sign-in, however busy."""
    token_max_days: int = 365
    """Longest life an API bearer token may be issued with."""
    login_max_failures: int = 5
    """Consecutive wrong passwords that lock an account."""
    login_lockout_minutes: int = 15
    """How long a locked account stays locked."""
    login_rate_limit: str = "20/minute"
    """Sign-in attempts allowed per client address (per worker process), in ``limits`` notation."""
    anonymous_rate_limit: str = "120/minute"
    """Unauthenticated calls to town routes per client address (per worker) that are answered 401 and
    audited; beyond it they are answered 429 and not audited, so a flood cannot bloat the audit chain."""
    secure_cookies: bool = False
    """Mark the session cookie ``Secure``; turn on wherever the server is reached over HTTPS."""
    audit_sign_interval: int = Field(default=300, ge=0)
    """Seconds between the server's passes that sign due audit-chain heads; 0 turns the signer off."""
    audit_sign_every: int = Field(default=1000, ge=1)
    """A town's chain head is signed once this many entries were written since its last signed head."""

    offsite_ship_interval: int = Field(default=60, ge=0)
    """Seconds between the server's passes that ship each town's journal to its custodians; 0 turns the
    shipper off (``jichitai offsite ship`` still works)."""
    offsite_snapshot_every: int = Field(default=10_000, ge=1)
    """A full snapshot is shipped once this many journal entries were written since the custodian's last."""
    offsite_alert_after: int = Field(default=900, ge=1)
    """Seconds a custodian may go without taking the entries it lacks before the alert is raised."""
    offsite_keep_snapshots: int = Field(default=3, ge=1)
    """Complete snapshots kept at each custodian; older ones, and the journal before the oldest kept, are
    removed after a new snapshot (so ``restore --until`` reaches back to the oldest kept snapshot)."""
    offsite_drill_interval: int = Field(default=0, ge=0)
    """Seconds between scheduled restore drills of each town from each custodian, run by the server's
    periodic job ``offsite.drills`` into a scratch database (604800 = weekly); 0 leaves drills to
    ``jichitai offsite drill`` run from a timer."""
    offsite_drill_max_age: int = Field(default=8 * 24 * 3600, ge=1)
    """Seconds after which a custodian without a successful drill raises the alert (R21: a missed or
    failed drill reaches a human)."""
    feed_dispatch_interval: float = Field(default=1.0, ge=0)
    """Seconds between the server's passes that deliver change feeds (the outbox, the registry's changes) to
    their consumers; how long after a commit a consumer sees it. 0 turns delivery off."""
    custody_dir: Path | None = None
    """Where this installation keeps what other towns deposit with it as their custodian (ciphertext
    only); empty means ``<var_dir>/custody``."""

    def resolved_key_dir(self) -> Path:
        """The signing-key directory, defaulting to ``<var_dir>/keys``."""
        return self.key_dir or self.var_dir / "keys"

    def resolved_custody_dir(self) -> Path:
        """The custody directory, defaulting to ``<var_dir>/custody``."""
        return self.custody_dir or self.var_dir / "custody"

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file under ``var_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'jichitai.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
