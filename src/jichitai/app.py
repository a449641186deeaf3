"""The ASGI application factory: wires the platform and the modules' routers together."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from jichitai import __version__
from jichitai.bootstrap import ROUTERS
from jichitai.platform.audit_schedule import HeadSigner
from jichitai.platform.auth.services import Policy
from jichitai.platform.db import make_engine
from jichitai.platform.heap import freeze_startup_heap
from jichitai.platform.logging import configure_logging
from jichitai.platform.migrate import alembic_config
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import Shipper
from jichitai.platform.web import (
    auth_api,
    custody_api,
    health,
    municipalities,
    offsite_api,
    staff_api,
    views,
)
from jichitai.platform.web.auth import AddressLimiter
from jichitai.platform.web.errors import install_error_handlers
from jichitai.platform.web.middleware import (
    InputGuardMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from jichitai.settings import Settings, get_settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app on ``engine`` (or one made from the settings)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    url = settings.resolved_database_url()
    own_engine = engine is None
    engine = engine or make_engine(url, pool_size=settings.db_pool_size)

    key_dir = settings.resolved_key_dir()
    signer = HeadSigner(engine, key_dir, settings.audit_sign_interval, settings.audit_sign_every)
    capture.install()  # every committed town change is journaled in its own transaction (DESIGN §5)
    shipper = Shipper(
        engine,
        KeyStore(key_dir),
        settings.offsite_ship_interval,
        settings.offsite_snapshot_every,
        keep_snapshots=settings.offsite_keep_snapshots,
        drill_interval_seconds=settings.offsite_drill_interval,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        signer.start()  # signs due audit-chain heads in the background; a no-op when the interval is 0
        shipper.start()  # ships the off-site journal to the custodians; a no-op when the interval is 0
        yield
        shipper.stop()
        signer.stop()
        if own_engine:
            engine.dispose()

    app = FastAPI(
        title="jichitai-cloud API",
        version=__version__,
        description="自治体クラウド 共同利用基盤 API",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.audit_key_dir = key_dir
    app.state.auth_policy = Policy(
        max_failures=settings.login_max_failures,
        lockout=dt.timedelta(minutes=settings.login_lockout_minutes),
        session_idle=dt.timedelta(minutes=settings.session_idle_minutes),
        session_max=dt.timedelta(hours=settings.session_max_hours),
        token_max=dt.timedelta(days=settings.token_max_days),
    )
    app.state.login_limiter = AddressLimiter(
        settings.login_rate_limit,
        "too_many_attempts",
        "ログインの試行が多すぎます。しばらく待ってから再試行してください。",
    )
    app.state.anonymous_limiter = AddressLimiter(
        settings.anonymous_rate_limit,
        "too_many_requests",
        "認証されていない要求が多すぎます。しばらく待ってから再試行してください。",
    )
    app.state.secure_cookies = settings.secure_cookies
    app.state.offsite_alert_after = settings.offsite_alert_after
    app.state.offsite_drill_max_age = settings.offsite_drill_max_age
    app.state.custody_dir = settings.resolved_custody_dir()
    app.state.schema_head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)  # added last, so it runs first and logs refusals too
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(municipalities.router)
    app.include_router(auth_api.router)
    app.include_router(staff_api.router)
    app.include_router(offsite_api.router)
    app.include_router(custody_api.router)
    app.include_router(views.router)
    app.mount("/static", StaticFiles(packages=[("jichitai.platform.web", "static")]), name="static")
    for router in ROUTERS:
        app.include_router(router)
    freeze_startup_heap()
    return app
