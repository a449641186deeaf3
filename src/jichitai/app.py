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
from jichitai.bootstrap import load
from jichitai.platform.audit_verify import expectations
from jichitai.platform.auth.services import Policy
from jichitai.platform.db import make_engine
from jichitai.platform.documents import configure_renderers
from jichitai.platform.heap import freeze_startup_heap
from jichitai.platform.jobs import Scheduler
from jichitai.platform.logging import configure_logging
from jichitai.platform.metering import MeteringMiddleware
from jichitai.platform.migrate import alembic_config
from jichitai.platform.offsite import capture
from jichitai.platform.sizing import Sizing, check_database_limit, set_request_threads
from jichitai.platform.web.auth import AddressLimiter, trusted_networks
from jichitai.platform.web.errors import install_error_handlers
from jichitai.platform.web.middleware import (
    InputGuardMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from jichitai.platform.web.request_stats import count_statements
from jichitai.settings import Settings, get_settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app on ``engine`` (or one made from the settings)."""
    settings = settings or get_settings()
    loaded = load()  # the one loader: every router, table, permission and job comes from a declaration
    configure_logging(settings.log_level, settings.log_format)
    url = settings.resolved_database_url()
    own_engine = engine is None
    engine = engine or make_engine(url, pool_size=settings.db_pool_size, role=settings.db_role or None)
    count_statements(engine)  # each request's access-log line gives the SQL statements it ran

    capture.install()  # every committed town change is journaled in its own transaction (DESIGN §5)
    # The one scheduler runs every declared periodic job (audit signing, off-site shipping and drills, feed
    # delivery) under its lease; a job whose interval setting is 0 is off, and with none on, no thread.
    scheduler = Scheduler(engine, settings, loaded.jobs.values())

    # Threads, renderers and connections sized together (platform/sizing.py, operations guide "Sizing").
    sizing = Sizing(
        workers=settings.workers,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,  # make_engine's overflow
        pdf_renderers=settings.pdf_renderers,
    )
    configure_renderers(settings.pdf_renderers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        set_request_threads(sizing.request_threads)  # the loop's pool for sync routes: one per connection
        check_database_limit(engine, sizing)  # a warning when PostgreSQL admits fewer connections
        scheduler.start()
        yield
        scheduler.stop()
        if own_engine:
            engine.dispose()

    app = FastAPI(
        title="jichitai-cloud API",
        version=__version__,
        description="自治体クラウド 共同利用基盤 API",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.audit_expectations = expectations(settings)
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
    app.state.trusted_proxies = trusted_networks(settings.trusted_proxies)
    app.state.offsite_alert_after = settings.offsite_alert_after
    app.state.offsite_drill_max_age = settings.offsite_drill_max_age
    app.state.custody_dir = settings.resolved_custody_dir()
    app.state.schema_head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)  # added last, so it runs first and logs refusals too
    app.add_middleware(MeteringMiddleware)  # requests and CPU time per town, counted in memory
    install_error_handlers(app)
    app.mount("/static", StaticFiles(packages=[("jichitai.platform.web", "static")]), name="static")
    for declaration in loaded.modules:
        for router in declaration.routers:
            app.include_router(router)
    freeze_startup_heap()
    return app
