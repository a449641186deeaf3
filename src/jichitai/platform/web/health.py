"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from jichitai.platform.web.errors import error_body

router = APIRouter(tags=["運用"])


@router.get("/healthz", summary="生存確認")
def healthz() -> dict[str, str]:
    """The process is up; says nothing about the database (that is /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", summary="準備完了確認", response_model=None)
def readyz(request: Request) -> JSONResponse | dict[str, str]:
    """Ready when the database answers and its schema is at the revision this code expects."""
    engine: Engine = request.app.state.engine
    expected: str = request.app.state.schema_head
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except Exception:  # any database failure means "not ready"
        return JSONResponse(
            error_body("database_unavailable", "データベースに接続できません。"), status_code=503
        )
    if current != expected:
        return JSONResponse(
            error_body("schema_outdated", "データベースの更新 (jichitai db upgrade) が必要です。"),
            status_code=503,
        )
    return {"status": "ready", "schema": current}
