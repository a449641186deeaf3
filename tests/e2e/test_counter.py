"""A counter clerk's day in the real browser (issue 4): sign in, find by kana, record a 転居 (after a refused
bad date), issue a 住民票の写し and open its PDF — by keyboard wherever the screen offers it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from jichitai.platform.jp import DEFAULT_ERAS, format_wareki
from tests.e2e.conftest import DEMO_PASSWORD, DEMO_TOWN, axe_violations

UI = f"/ui/{DEMO_TOWN}/registry"


def test_counter_workflow(page: Any, shoot: Callable[[str], None], save_pdf: Callable[[bytes], None]) -> None:
    # Sign in: the front door is the sign-in page; the first field has the focus; Enter submits.
    page.goto("/")
    assert page.url.endswith("/ui/login")
    assert page.evaluate("document.activeElement.id") == "f-lg_code"
    page.keyboard.type(DEMO_TOWN)
    page.keyboard.press("Tab")
    page.keyboard.type("demo-clerk")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    assert page.get_by_label("利用目的 (事務)").input_value() == "resident_registry"
    shoot("01-login")
    page.keyboard.press("Enter")
    # The town's home lists each module's screens the roles allow; the first has the focus, Enter opens it.
    page.wait_for_url(f"**/ui/{DEMO_TOWN}/")
    header = page.locator(".who").inner_text()
    assert "岩手県大槌町" in header
    assert "住民記録　担当" in header
    assert "住民基本台帳事務" in header
    assert page.get_by_role("heading", name="住民記録").count() == 1
    assert page.evaluate("document.activeElement.textContent") == "住民記録"
    shoot("01-town-home")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{UI}/")

    # Search by kana: ズ finds ヅ. The search box has the focus; j moves to the first result, Enter opens it.
    assert page.evaluate("document.activeElement.id") == "f-kana"
    page.keyboard.type("ツズキ")
    shoot("02-home")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{UI}/search?**")
    results = page.locator("a[data-row-link]")
    assert results.count() == 3
    assert results.first.inner_text() == "都築　一郎"
    shoot("03-search")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.textContent") == "都築　一郎"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{UI}/persons/**")
    assert "都築　一郎" in page.locator("h1").inner_text()
    assert "昭和52年4月18日" in page.locator(".record").inner_text()
    members = page.locator("table").first.locator("tbody tr")
    assert [members.nth(i).locator("td").nth(2).inner_text() for i in range(3)] == ["世帯主", "妻", "子"]
    shoot("04-person")

    # 転居: a bad date is refused next to its field, with a summary on top, and nothing is recorded.
    page.get_by_role("link", name="転居").click()
    page.wait_for_url(f"**{UI}/events/relocation/new?**")
    assert page.evaluate("document.activeElement.id") == "f-event_date"
    page.keyboard.type("令和6年2月30日")
    page.get_by_label("町字").fill("末広町")
    page.get_by_label("番地・号").fill("3番5号")
    page.get_by_label("番地・号").press("Enter")
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "何も記録されていません" in summary.inner_text()
    assert page.locator("#e-f-event_date").inner_text().endswith("存在しない日付です。")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    shoot("05-relocation-error")
    yesterday = format_wareki(dt.date.today() - dt.timedelta(days=1), DEFAULT_ERAS)
    page.get_by_label("異動日").fill(yesterday)
    page.get_by_label("異動日").press("Enter")
    page.wait_for_url(f"**{UI}/persons/**?done=*")
    assert "転居を記録しました" in page.locator("[role=status]").first.inner_text()
    assert "岩手県大槌町末広町3番5号" in page.locator(".record").inner_text()
    shoot("06-relocation-done")

    # 住民票の写し: everyone of the household ticked in print order; Alt+R issues; the PDF opens.
    page.get_by_role("link", name="証明書の交付").click()
    page.wait_for_url(f"**{UI}/certificates/new?**")
    ticked = page.locator("input[name=atena_nos]:checked")
    assert ticked.count() == 3
    assert page.get_by_label("証明書の種類").input_value() == "resident_record"
    page.get_by_label("世帯主・続柄").check()
    shoot("07-certificate-form")
    page.get_by_role("button", name="交付する").click()
    page.wait_for_url(f"**{UI}/certificates/*?issued=1")
    assert "住民票の写しを交付しました" in page.locator("[role=status]").first.inner_text()
    shoot("08-certificate-issued")
    pdfs: list[bytes] = []

    def keep(route: Any) -> None:  # see the bytes the browser gets, then let it show them
        answer = route.fetch()
        pdfs.append(answer.body())
        route.fulfill(response=answer)

    page.context.route("**/certificates/*/pdf", keep)
    is_pdf = "response", lambda r: r.url.endswith("/pdf")
    with page.context.expect_page() as tab, page.context.expect_event(*is_pdf) as answered:
        page.keyboard.press("Enter")  # the PDF link has the focus; it opens in a new tab
    response = answered.value
    assert tab.value.url.endswith("/pdf")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert pdfs[0].startswith(b"%PDF-")
    save_pdf(pdfs[0])
    page.bring_to_front()

    # The other screens a counter opens, each checked with axe-core like the ones above.
    for path in (
        "certificates/summary",
        "events/domestic_move_in/new",
        "events/cancellation/new",
        "search?kana=ア",
    ):
        page.goto(f"{UI}/{path}")
        assert axe_violations(page) == [], path
    page.goto(f"{UI}/persons/0000000000")  # an error page (404) is a page too
    assert axe_violations(page) == []
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/x.png\">')")
    assert any(v.startswith("image-alt") for v in axe_violations(page))  # the check does see a violation

    # Sign out by keyboard (Alt+Q is the button's access key; Enter on the focused button works too).
    page.get_by_role("button", name="ログアウト").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/login?reason=logged_out")
    assert "ログアウトしました。" in page.locator("[role=status]").inner_text()
    assert page.console_errors == []  # no script errors, nothing the CSP had to block
