"""The cost split through the real app: operators see every town, a town's administrator only their own."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from jichitai.platform import metering
from jichitai.platform.metering import METER
from tests.conftest import TOWN_A, TOWN_B, StaffHeaders, make_staff
from tests.modules.registry.factories import certificate, family
from tests.pdf_tools import pdf_text, require_mj_font, require_poppler
from tests.ui import browser, sign_in

OPS = "/api/v1/costshare"


@pytest.fixture(autouse=True)
def empty_meter() -> Iterator[None]:
    METER.take()
    yield
    METER.take()


def town_api(lg_code: str, month: str) -> str:
    return f"/api/v1/municipalities/{lg_code}/costshare/usage/{month}"


@pytest.fixture
def month(client: TestClient, engine: Engine, operator: dict[str, str]) -> str:
    """This month with figures (town A: 3 residents, a certificate, more use), a cost and a formula."""
    moved_in = family(engine, TOWN_A, members=3)
    certificate(engine, TOWN_A, moved_in.head)
    family(engine, TOWN_B, members=1)
    METER.take()
    metering.add(TOWN_A.lg_code, metering.CPU_MS, 3000)
    metering.add(TOWN_B.lg_code, metering.CPU_MS, 1000)
    metering.flush(engine)
    metering.measure(engine)
    current = metering.current_month()
    assert (
        client.put(f"{OPS}/costs/{current}", json={"amount_yen": 1_000_001}, headers=operator).status_code
        == 200
    )
    formula = {"equal_pct": 30, "population_pct": 50, "usage_pct": 20, "usage_weights": {"cpu_ms": 1}}
    answer = client.put(f"{OPS}/formulas/2020-04-01", json=formula, headers=operator)
    assert answer.status_code == 200, answer.text
    return current


def test_the_operator_sees_every_towns_share(
    client: TestClient, month: str, operator: dict[str, str]
) -> None:
    report = client.get(f"{OPS}/reports/{month}", headers=operator)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["cost_yen"] == 1_000_001
    towns = {t["lg_code"]: t for t in body["towns"]}
    assert set(towns) == {TOWN_A.lg_code, TOWN_B.lg_code}
    assert sum(t["share"]["total_yen"] for t in towns.values()) == 1_000_001
    a, b = towns[TOWN_A.lg_code], towns[TOWN_B.lg_code]
    assert (a["figures"]["population"], b["figures"]["population"]) == (3, 1)
    assert (a["figures"]["certificates"], b["figures"]["certificates"]) == (1, 0)
    assert a["figures"]["db_bytes"] > 0
    # 300,000 yen 均等割 (150,000 each), 500,001 人口割 (3 : 1, the odd yen to A), 200,000 利用量割 (3 : 1)
    assert a["share"] == {
        "equal_yen": 150_000,
        "population_yen": 375_001,
        "usage_yen": 150_000,
        "total_yen": 675_001,
    }
    assert b["share"] == {
        "equal_yen": 150_000,
        "population_yen": 125_000,
        "usage_yen": 50_000,
        "total_yen": 325_000,
    }
    assert [m["code"] for m in body["meters"]][:4] == ["requests", "cpu_ms", "db_bytes", "offsite_bytes"]


def test_the_csv_has_the_same_figures_and_the_total(
    client: TestClient, month: str, operator: dict[str, str]
) -> None:
    answer = client.get(f"{OPS}/reports/{month}/csv", headers=operator)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert lines[0][:2] == ["団体コード", "団体名"]
    assert lines[0][-1] == "負担額 (円)"
    by_code = {line[0]: line for line in lines[1:]}
    assert by_code[TOWN_A.lg_code][1] == "岩手県大槌町"
    assert by_code[TOWN_A.lg_code][-4:] == ["150000", "375001", "150000", "675001"]
    assert by_code["合計"][-1] == "1000001"


def test_the_pdf_shows_the_figures(
    client: TestClient, month: str, operator: dict[str, str], tmp_path: Path
) -> None:
    require_mj_font()
    require_poppler()
    answer = client.get(f"{OPS}/reports/{month}/pdf", headers=operator)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    text = pdf_text(answer.content, tmp_path)
    for shown in ("共同利用費用の負担額", "1,000,001", "034614", "675,001", "325,000"):
        assert shown in text


def test_a_town_administrator_sees_only_their_own_town(
    client: TestClient, month: str, staff: StaffHeaders
) -> None:
    admin = staff("admin", TOWN_A)
    own = client.get(town_api(TOWN_A.lg_code, month), headers=admin)
    assert own.status_code == 200, own.text
    assert [t["lg_code"] for t in own.json()["towns"]] == [TOWN_A.lg_code]
    assert own.json()["towns"][0]["share"]["total_yen"] == 675_001
    other = client.get(town_api(TOWN_B.lg_code, month), headers=admin)
    assert other.status_code == 404
    assert client.get(f"{OPS}/reports/{month}", headers=admin).json()["error"]["code"] == "operator_only"


def test_a_clerk_and_an_operator_are_refused_the_towns_figures(
    client: TestClient, month: str, operator: dict[str, str]
) -> None:
    refused = client.get(town_api(TOWN_A.lg_code, month))  # the client's own registry clerk
    assert refused.status_code == 403
    assert client.get(town_api(TOWN_A.lg_code, month), headers=operator).json()["error"]["code"] == (
        "operator_not_allowed"
    )


def test_a_formula_must_add_up(client: TestClient, operator: dict[str, str]) -> None:
    bad = {"equal_pct": 30, "population_pct": 50, "usage_pct": 30, "usage_weights": {"cpu_ms": 1}}
    answer = client.put(f"{OPS}/formulas/2026-04-01", json=bad, headers=operator)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_formula")
    unknown = {**bad, "usage_pct": 20, "usage_weights": {"population": 1}}  # not a usage metric
    assert client.put(f"{OPS}/formulas/2026-04-01", json=unknown, headers=operator).status_code == 422
    assert client.put(f"{OPS}/costs/2026-13", json={"amount_yen": 1}, headers=operator).status_code == 422
    assert client.get(f"{OPS}/formulas", headers=operator).json() == []


def test_without_a_cost_there_is_no_share(client: TestClient, operator: dict[str, str]) -> None:
    body = client.get(f"{OPS}/reports/2020-01", headers=operator).json()
    assert body["cost_yen"] is None
    assert all(t["share"] is None for t in body["towns"])


def test_the_administrators_screen(client: TestClient, engine: Engine, month: str) -> None:
    make_staff(engine, TOWN_A, "ui-admin", ["admin"])
    page = browser(client)
    home = sign_in(page, "ui-admin", purpose="administration")
    assert home.status_code == 200
    assert f'href="/ui/{TOWN_A.lg_code}/costshare/"' in home.text
    shown = page.get(f"/ui/{TOWN_A.lg_code}/costshare/?month={month}")
    assert shown.status_code == 200, shown.text
    for text in ("利用量と費用負担", "675,001", "証明書の交付件数"):
        assert text in shown.text
    assert page.get(f"/ui/{TOWN_B.lg_code}/costshare/").status_code == 404
