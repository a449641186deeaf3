"""Browser test: a town administrator's 利用量と費用負担 screen, checked with axe-core (WCAG 2.1 AA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import DEMO_PASSWORD, DEMO_TOWN


def test_the_administrator_sees_the_towns_usage(page: Any, shoot: Callable[[str], None]) -> None:
    page.goto("/ui/login")
    page.get_by_label("市区町村コード").fill(DEMO_TOWN)
    page.get_by_label("ログイン名").fill("demo-admin")
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_label("利用目的 (事務)").select_option("administration")
    page.get_by_label("パスワード").press("Enter")
    page.wait_for_url(f"**/ui/{DEMO_TOWN}/")
    page.locator("#main").get_by_role("link", name="利用量と費用負担").click()
    page.wait_for_url(f"**/ui/{DEMO_TOWN}/costshare/")
    assert page.get_by_role("heading", name="利用量と費用負担").count() == 1
    shoot("20-costshare-usage")  # axe-core first, then the artefact
    page.get_by_label("対象月 (YYYY-MM)").fill("2020-01")
    page.get_by_label("対象月 (YYYY-MM)").press("Enter")
    page.wait_for_url("**/costshare/?month=2020-01")
    shoot("20-costshare-usage-empty-month")
