"""The platform's own periodic work, declared as jobs for the one scheduler (:mod:`jichitai.platform.jobs`).

Before the scheduler, each of these had a thread of its own in every server worker; now each is a
:class:`JobSpec` in the platform's declaration, run under a lease so that several workers never run it at
once, with the same settings as before (an interval of 0 turns the job off):

- ``audit.sign`` signs the due audit-chain heads (``JICHITAI_AUDIT_SIGN_INTERVAL``, ``…_EVERY``);
- ``offsite.ship`` ships every town's journal to its custodians as soon as a commit journals a change
  (``JICHITAI_OFFSITE_SHIP_INTERVAL`` is its fallback poll, 1 s by default). Under the scheduler, one run is
  a *shipping session* (:func:`_ship`): a pass, then a wait for the capture's wake-up (:mod:`.offsite.wake`:
  in-process, and on PostgreSQL a ``NOTIFY`` from any worker) or the interval, then the next pass, for up
  to :data:`SHIP_SESSION` seconds while the scheduler runs.
  Each pass ships only the custodians that are due (:func:`~.offsite.shipper.ship_due`, one discovery
  query). The job's lease keeps the session to one worker; each custodian's own lease keeps a manual
  ``jichitai offsite ship`` (or a second session after a lost lease) from shipping the same entries;
- ``offsite.drills`` runs the restore drills that are due (``JICHITAI_OFFSITE_DRILL_INTERVAL``). It looks
  for due drills hourly (or at the drill interval, if shorter): each custodian is drilled once its last
  drill is older than the drill interval, so a drill is never late by more than an hour;
- ``feeds.dispatch`` delivers the change feeds (:mod:`jichitai.platform.feeds`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from jichitai.platform.audit_schedule import sign_due_heads
from jichitai.platform.feeds import DISPATCH_JOB
from jichitai.platform.modules import JobContext, JobSpec
from jichitai.platform.offsite import wake
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import run_due_drills, ship_due
from jichitai.settings import Settings

DRILL_LOOK_EVERY = 3600.0
"""Seconds between looks for due restore drills (at most; a shorter drill interval looks more often)."""


def _sign(context: JobContext) -> None:
    settings = context.settings
    sign_due_heads(context.engine, settings.resolved_audit_key_dir(), every_entries=settings.audit_sign_every)


SHIP_JOB = "offsite.ship"
SHIP_SESSION = 600.0
"""Longest shipping session (seconds): then the run ends, its outcome is recorded on the job's row, and the
scheduler starts the next one at its next look (about a second later)."""
SCHEDULER_THREAD = "job-scheduler"
"""The name :class:`~jichitai.platform.jobs.Scheduler` gives its thread (its job threads: ``job:<name>``)."""


def _under_scheduler() -> bool:
    """True when this run was started by a scheduler thread of this process (not ``run_job_once``)."""
    return threading.current_thread().name == f"job:{SHIP_JOB}"


def _scheduler_running() -> bool:
    """False once the scheduler of this process has stopped (shutdown): the session then ends within a pass.

    The job context carries no stop signal, so the session watches the scheduler's thread instead.
    """
    return any(t.name == SCHEDULER_THREAD and t.is_alive() for t in threading.enumerate())


def _wait_for_work(waiter: wake.Waiter, poll: float) -> None:
    """Return at a wake-up, after ``poll`` seconds, or within a second of the scheduler stopping."""
    deadline = time.monotonic() + poll
    while (left := deadline - time.monotonic()) > 0:
        if waiter.wait(min(left, 1.0)) or not _scheduler_running():
            return


def _ship(context: JobContext) -> None:
    """A shipping session under the scheduler (see the module docstring); one pass otherwise (cron, CLI)."""
    settings = context.settings
    keys = KeyStore(settings.resolved_key_dir())
    if not _under_scheduler():
        ship_due(
            context.engine,
            keys,
            snapshot_every=settings.offsite_snapshot_every,
            keep_snapshots=settings.offsite_keep_snapshots,
        )
        return
    session_ends = time.monotonic() + SHIP_SESSION
    with wake.waiter(context.engine) as waiter:
        while True:
            waiter.clear()  # before the pass looks: a commit during the pass wakes the next one
            ship_due(
                context.engine,
                keys,
                snapshot_every=settings.offsite_snapshot_every,
                keep_snapshots=settings.offsite_keep_snapshots,
            )
            if time.monotonic() >= session_ends or not _scheduler_running():
                return
            _wait_for_work(waiter, float(settings.offsite_ship_interval))


def _drill_look_interval(settings: Settings) -> float:
    if settings.offsite_drill_interval <= 0:
        return 0.0
    return min(float(settings.offsite_drill_interval), DRILL_LOOK_EVERY)


def _drill(context: JobContext) -> None:
    settings = context.settings
    interval = dt.timedelta(seconds=settings.offsite_drill_interval)
    run_due_drills(context.engine, KeyStore(settings.resolved_key_dir()), interval)


JOBS = (
    JobSpec(
        name="audit.sign",
        description="監査ログのチェーンヘッドに署名する (期限の来た団体のみ)",
        interval=lambda settings: float(settings.audit_sign_interval),
        run=_sign,
    ),
    JobSpec(
        name=SHIP_JOB,
        description="各団体のジャーナル・スナップショットを副本の保管先へ送付する",
        interval=lambda settings: float(settings.offsite_ship_interval),
        run=_ship,
    ),
    JobSpec(
        name="offsite.drills",
        description="期限の来た保管先からの復元訓練を実行する",
        interval=_drill_look_interval,
        run=_drill,
    ),
    DISPATCH_JOB,
)
"""Every periodic job of the platform, in the order the scheduler looks at them."""

__all__ = ["JOBS"]
