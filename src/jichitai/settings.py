"""Process settings, read from the environment (``JICHITAI_*``).

Settings are per installation, not per municipality: anything that differs between towns is data with an
effective date (see :mod:`jichitai.platform.tenancy`), never a setting here.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_var_dir() -> Path:
    """The data directory when none is set: ``$XDG_DATA_HOME/jichitai`` (``~/.local/share/jichitai``).

    Never the working directory: a server started from another directory (by cron, systemd or a shell in
    the wrong place) would otherwise open a new, empty database there and write residents' data wherever it
    happened to run.
    """
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jichitai"


def default_workers(database_url: str) -> int:
    """Server worker processes when none is set: the usable cores on PostgreSQL, 1 on SQLite (the empty URL
    is the embedded SQLite file); see :attr:`Settings.workers`."""
    if not database_url or database_url.startswith("sqlite"):
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Installation-wide settings; every field maps to ``JICHITAI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JICHITAI_", extra="ignore")

    database_url: str = ""
    """SQLAlchemy URL. Empty means the embedded SQLite file ``<var_dir>/jichitai.db``."""
    var_dir: Path = Field(default_factory=default_var_dir)
    """The data directory: the embedded database, and by default the keys and custody directories. A relative
    value is made absolute once, when the settings are read, so a later change of directory moves nothing."""
    host: str = "127.0.0.1"
    port: int = 8000
    key_dir: Path | None = None
    """Where the off-site keys and custody tokens live (``<key_dir>/offsite/``, mode 0600), and the audit
    signing keys too unless ``audit_key_dir`` is set; empty means ``<var_dir>/keys``."""
    audit_key_dir: Path | None = None
    """Where each municipality's Ed25519 key for signing audit-chain heads lives, with the record of the
    newest head it signed. Never inside the data directory: whoever holds the database and this key can
    rewrite a chain undetected. Empty means ``key_dir`` when that is set, else ``<var_dir>.audit-keys``
    beside the data directory (see :meth:`resolved_audit_key_dir`)."""
    workers: int = Field(default_factory=lambda data: default_workers(data.get("database_url", "")), ge=1)
    """Server worker processes (``jichitai serve``). One Python process uses one core, so on PostgreSQL the
    default is the cores this process may run on. On SQLite it is 1: several processes are safe on one file
    (WAL, ``busy_timeout``), but SQLite has one writer at a time and the writers of a process queue in order
    on its lock (:mod:`jichitai.platform.db`), while writers of different processes poll for the file lock
    with back-off, so a second process adds waits of up to 100 ms to the writes and little else."""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    db_pool_size: int = Field(default=10, ge=1)
    """Pooled database connections per worker process; as many more may open beyond it for a burst (SQLAlchemy
    overflow), and the server runs as many request threads as this (see :mod:`jichitai.platform.sizing`)."""
    pdf_renderers: int = Field(default=1, ge=1)
    """PDF documents rendered at once per worker process, each on a thread of its own beside the request
    threads (so searches never wait behind a print); each renderer keeps one copy of the 46 MB font."""
    db_role: str = "jichitai_app"
    """PostgreSQL role the server, the commands and the jobs work as (``SET ROLE`` on every connection), so
    that row-level security binds them whatever login the database URL names; ``jichitai db upgrade``
    provisions it. Empty: work as the login itself (which must then not be a superuser or BYPASSRLS)."""
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
    """Always mark the cookies ``Secure`` (they already are on a request that came over HTTPS, directly or
    through a trusted proxy); turn on wherever the server is reached over HTTPS only."""
    trusted_proxies: str = ""
    """Addresses or networks (comma-separated, e.g. ``127.0.0.1,10.0.0.0/24``; ``*`` for any) of the reverse
    proxies whose ``X-Forwarded-Proto`` and ``X-Forwarded-For`` are believed; empty believes no one."""
    audit_sign_interval: int = Field(default=300, ge=0)
    """Seconds between the server's passes that sign due audit-chain heads; 0 turns the signer off."""
    audit_sign_every: int = Field(default=1000, ge=1)
    """A town's chain head is signed once this many entries were written since its last signed head."""

    offsite_ship_interval: float = Field(default=1.0, ge=0)
    """The server ships a town's change as soon as its transaction commits (the commit wakes the shipper:
    on PostgreSQL from any worker, on SQLite from the worker that runs it); this is the fallback poll in
    seconds, which finds what no wake-up announced (on SQLite a commit in another worker or a command, a
    custodian due for a retry). 0 turns the shipper off (``jichitai offsite ship`` still works)."""
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
    metering_interval: float = Field(default=60.0, ge=0)
    """Seconds between writes of the usage counts per town (requests, CPU time, off-site bytes) to the
    database; database bytes and the modules' figures are measured every 360 of them (6 hours by default).
    0 turns both metering jobs off (docs/cost-sharing.md)."""
    custody_dir: Path | None = None
    """Where this installation keeps what other towns deposit with it as their custodian (ciphertext
    only); empty means ``<var_dir>/custody``."""

    @field_validator("var_dir", "key_dir", "audit_key_dir", "custody_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Pin every directory to an absolute path when the settings are read (``~`` expanded)."""
        return None if value is None else value.expanduser().absolute()

    def resolved_key_dir(self) -> Path:
        """The off-site key directory, defaulting to ``<var_dir>/keys``."""
        return self.key_dir or self.var_dir / "keys"

    def resolved_audit_key_dir(self) -> Path:
        """The audit signing-key directory: ``audit_key_dir``, else an explicit ``key_dir`` (where such an
        installation has always kept its keys), else ``<var_dir>.audit-keys``, a sibling of the data
        directory, so that a copy or backup of the data directory never carries the key along.

        An installation from before the default moved keeps its keys in ``<var_dir>/keys``; that directory
        is still used while it holds a signing key (a new key elsewhere would orphan every signed head),
        and verification notes that the key should move (:meth:`audit_keys_in_data_dir`).
        """
        if self.audit_key_dir is not None:
            return self.audit_key_dir
        if self.key_dir is not None:
            return self.key_dir
        legacy = self.var_dir / "keys"
        if any(legacy.glob("*.audit-ed25519.pem")):
            return legacy
        data = self.var_dir.resolve()
        return data.parent / f"{data.name or 'jichitai'}.audit-keys"

    def audit_keys_in_data_dir(self) -> bool:
        """True when the audit signing keys are inside the data directory (``var_dir``)."""
        keys, data = self.resolved_audit_key_dir().resolve(), self.var_dir.resolve()
        return keys == data or data in keys.parents

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
