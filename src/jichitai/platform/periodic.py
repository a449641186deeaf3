"""The platform's own periodic work, declared as jobs for the one scheduler (:mod:`jichitai.platform.jobs`).

Before the scheduler, each of these had a thread of its own in every server worker; now each is a
:class:`JobSpec` in the platform's declaration, run under a lease so that several workers never run it at
once, with the same settings as before (an interval of 0 turns the job off):

- ``audit.sign`` signs the due audit-chain heads (``JICHITAI_AUDIT_SIGN_INTERVAL``, ``…_EVERY``);
- ``offsite.ship`` ships every town's journal to its custodians (``JICHITAI_OFFSITE_SHIP_INTERVAL``);
- ``offsite.drills`` runs the restore drills that are due (``JICHITAI_OFFSITE_DRILL_INTERVAL``). It looks
  for due drills hourly (or at the drill interval, if shorter): each custodian is drilled once its last
  drill is older than the drill interval, so a drill is never late by more than an hour;
- ``feeds.dispatch`` delivers the change feeds (:mod:`jichitai.platform.feeds`).
"""

from __future__ import annotations

import datetime as dt

from jichitai.platform.audit_schedule import sign_due_heads
from jichitai.platform.feeds import DISPATCH_JOB
from jichitai.platform.modules import JobContext, JobSpec
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import run_due_drills, ship_all
from jichitai.settings import Settings

DRILL_LOOK_EVERY = 3600.0
"""Seconds between looks for due restore drills (at most; a shorter drill interval looks more often)."""


def _sign(context: JobContext) -> None:
    settings = context.settings
    sign_due_heads(context.engine, settings.resolved_audit_key_dir(), every_entries=settings.audit_sign_every)


def _ship(context: JobContext) -> None:
    settings = context.settings
    ship_all(
        context.engine,
        KeyStore(settings.resolved_key_dir()),
        snapshot_every=settings.offsite_snapshot_every,
        keep_snapshots=settings.offsite_keep_snapshots,
    )


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
        name="offsite.ship",
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
