"""JSON API: the operators' monthly cost, formula and report (with CSV and PDF), and each town's own figures.

The operators' routes are installation-wide (``/api/v1/costshare/…``, operator accounts only); a town's
administrators read their own town's figures and share under the town
(``/api/v1/municipalities/{lg_code}/costshare/…``, permission ``costshare:usage:read``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from jichitai.modules.costshare import services
from jichitai.modules.costshare.documents import report_csv, report_pdf
from jichitai.modules.costshare.models import MonthlyCost, SplitFormula
from jichitai.modules.costshare.permissions import Permission
from jichitai.modules.costshare.rules import Formula
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.documents import run_in_renderer
from jichitai.platform.errors import NotFound
from jichitai.platform.jp.text import StoredText
from jichitai.platform.tenancy import ALL_TOWNS
from jichitai.platform.web.auth import Identity, Principal, operator, require

OPERATOR_API = "/api/v1/costshare"
TOWN_API = "/api/v1/municipalities/{lg_code}/costshare"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

Month = Annotated[str, Path(pattern=MONTH_PATTERN, description="対象月 (YYYY-MM、日本時間)")]
Operator = Annotated[Identity, Depends(operator)]
Reader = Annotated[Principal, Depends(require(Permission.USAGE_READ))]

operator_router = APIRouter(prefix=OPERATOR_API, tags=["費用負担 (運用者)"])
town_router = APIRouter(prefix=TOWN_API, tags=["費用負担"])


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


class CostIn(BaseModel):
    """The installation's cost of one month."""

    model_config = ConfigDict(extra="forbid")

    amount_yen: int = Field(ge=0, le=10**13, description="費用総額 (円)")
    note: StoredText | None = Field(default=None, max_length=200, description="内訳などの注記")


class CostOut(BaseModel):
    """A recorded monthly cost."""

    month: str
    amount_yen: int
    note: str | None
    recorded_by: str
    recorded_at: dt.datetime


class FormulaIn(BaseModel):
    """The agreed formula: percentages of the three parts (sum 100) and the usage metrics' weights."""

    model_config = ConfigDict(extra="forbid")

    equal_pct: int = Field(ge=0, le=100, description="均等割の割合 (%)")
    population_pct: int = Field(ge=0, le=100, description="人口割の割合 (%)")
    usage_pct: int = Field(ge=0, le=100, description="利用量割の割合 (%)")
    usage_weights: dict[str, Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict, description='利用量割に使う計数とその重み (例: {"cpu_ms": 50, "db_bytes": 50})'
    )
    note: StoredText | None = Field(default=None, max_length=200)


class FormulaOut(BaseModel):
    """A recorded formula."""

    effective_from: dt.date
    equal_pct: int
    population_pct: int
    usage_pct: int
    usage_weights: dict[str, int]
    note: str | None
    recorded_by: str


class MeterOut(BaseModel):
    """A figure the report shows."""

    code: str
    label: str
    unit: str


class ShareOut(BaseModel):
    """A town's share of the month's cost (yen)."""

    equal_yen: int
    population_yen: int
    usage_yen: int
    total_yen: int


class TownOut(BaseModel):
    """One town's figures of the month and its share (null until the cost and a formula are recorded)."""

    lg_code: str
    name: str
    figures: dict[str, int]
    share: ShareOut | None


class ReportOut(BaseModel):
    """A month's report."""

    month: str
    cost_yen: int | None
    formula: FormulaOut | None
    meters: list[MeterOut]
    towns: list[TownOut]


def _cost_out(row: MonthlyCost) -> CostOut:
    return CostOut(
        month=row.month,
        amount_yen=row.amount_yen,
        note=row.note,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


def _formula_out(row: SplitFormula) -> FormulaOut:
    return FormulaOut(
        effective_from=row.effective_from,
        equal_pct=row.equal_pct,
        population_pct=row.population_pct,
        usage_pct=row.usage_pct,
        usage_weights=dict(row.usage_weights),
        note=row.note,
        recorded_by=row.recorded_by,
    )


def report_out(report: services.MonthReport, lines: list[services.TownLine] | None = None) -> ReportOut:
    """The JSON form of a report (or of only ``lines`` of it)."""
    towns = []
    for line in report.towns if lines is None else lines:
        share = line.share
        towns.append(
            TownOut(
                lg_code=line.lg_code,
                name=line.name,
                figures=line.figures,
                share=ShareOut(
                    equal_yen=share.equal,
                    population_yen=share.population,
                    usage_yen=share.usage,
                    total_yen=share.total,
                )
                if share
                else None,
            )
        )
    return ReportOut(
        month=report.month,
        cost_yen=report.cost.amount_yen if report.cost else None,
        formula=_formula_out(report.formula) if report.formula else None,
        meters=[MeterOut(code=m.code, label=m.label, unit=m.unit) for m in report.meters],
        towns=towns,
    )


def build_report(engine: Engine, month: str) -> services.MonthReport:
    """The month's report over every town (a deliberate installation-wide read)."""
    with read_session(engine, tenant=ALL_TOWNS) as session:
        report = services.month_report(session, month)
        session.expunge_all()  # the rows keep what was read past the read session's rollback
        return report


@operator_router.get("/costs", response_model=list[CostOut], summary="月ごとの費用総額の一覧")
def list_costs(request: Request, _identity: Operator) -> list[CostOut]:
    """Every recorded monthly cost, newest first."""
    with read_session(_engine(request)) as session:
        return [_cost_out(row) for row in services.costs(session)]


@operator_router.put("/costs/{month}", response_model=CostOut, summary="月の費用総額の登録・訂正")
def put_cost(request: Request, month: Month, body: Annotated[CostIn, Body()], identity: Operator) -> CostOut:
    """Record the installation's cost of ``month`` (a later call corrects it)."""
    with UnitOfWork(_engine(request)) as uow:
        return _cost_out(services.set_cost(uow, month, body.amount_yen, body.note, actor=identity.actor))


@operator_router.get("/formulas", response_model=list[FormulaOut], summary="按分方式の一覧")
def list_formulas(request: Request, _identity: Operator) -> list[FormulaOut]:
    """Every recorded formula, newest first."""
    with read_session(_engine(request)) as session:
        return [_formula_out(row) for row in services.formulas(session)]


@operator_router.put(
    "/formulas/{effective_from}", response_model=FormulaOut, summary="按分方式の登録 (適用開始日つき)"
)
def put_formula(
    request: Request, effective_from: dt.date, body: Annotated[FormulaIn, Body()], identity: Operator
) -> FormulaOut:
    """Record the agreed formula for the months that start on or after ``effective_from``."""
    formula = Formula(body.equal_pct, body.population_pct, body.usage_pct, body.usage_weights)
    with UnitOfWork(_engine(request)) as uow:
        row = services.add_formula(uow, effective_from, formula, body.note, actor=identity.actor)
        return _formula_out(row)


@operator_router.get("/reports/{month}", response_model=ReportOut, summary="月の利用量と費用負担 (全団体)")
def get_report(request: Request, month: Month, _identity: Operator) -> ReportOut:
    """Every town's figures of the month and its share of the cost."""
    return report_out(build_report(_engine(request), month))


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "CSV"}}
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "PDF"}
}


@operator_router.get(
    "/reports/{month}/csv", response_class=Response, responses=CSV_RESPONSE, summary="月の費用負担 (CSV)"
)
def get_report_csv(request: Request, month: Month, _identity: Operator) -> Response:
    """The month's report as CSV (UTF-8 with BOM)."""
    body = report_csv(build_report(_engine(request), month))
    disposition = f'attachment; filename="costshare-{month}.csv"'
    return Response(body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


@operator_router.get(
    "/reports/{month}/pdf", response_class=Response, responses=PDF_RESPONSE, summary="月の費用負担 (PDF)"
)
async def get_report_pdf(request: Request, month: Month, _identity: Operator) -> Response:
    """The month's report as PDF (A4 landscape), printed on a rendering thread like every document."""
    engine = _engine(request)
    body = await run_in_renderer(lambda: report_pdf(build_report(engine, month)))
    disposition = f'inline; filename="costshare-{month}.pdf"'
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": disposition})


def town_report(engine: Engine, lg_code: str, month: str) -> tuple[services.MonthReport, services.TownLine]:
    """The month's report and the town's own line of it (the split needs every town's figures; only the
    town's own line leaves this function's callers)."""
    report = build_report(engine, month)  # the route's access check already admitted only the town's staff
    line = report.line_of(lg_code)
    if line is None:  # the town joined after the month
        raise NotFound("対象月の利用量")
    return report, line


@town_router.get("/usage/{month}", response_model=ReportOut, summary="自団体の月の利用量と費用負担")
def get_own_usage(request: Request, lg_code: str, month: Month, _principal: Reader) -> ReportOut:
    """The town's own figures of the month and its share (the other towns are not shown)."""
    report, line = town_report(_engine(request), lg_code, month)
    return report_out(report, [line])


routers = (operator_router, town_router)
