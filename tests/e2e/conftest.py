"""Browser tests: Debian's Chromium (headless) drives the real server, started as a subprocess.

Without ``/usr/bin/chromium`` the tests are skipped with a printed reason, unless
``JICHITAI_REQUIRE_BROWSER=1`` (set by CI), where a missing browser fails the run instead. The server runs
``jichitai demo`` data in a temporary ``JICHITAI_VAR_DIR`` (SQLite), plus a household whose kana has ヅ for
the search case.

Every main page is checked with axe-core (npm, ``node_modules/axe-core``) against WCAG 2.1 A/AA, the
criteria of JIS X 8341-3:2016 AA, and must have no violation; its screenshot goes to
``var/test-artifacts/screenshots/`` and, with ``JICHITAI_UPDATE_SCREENSHOTS=1``, to ``docs/images/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "screenshots"
DOC_IMAGES = ROOT / "docs" / "images"
DEMO_TOWN = "034614"
DEMO_PASSWORD = "demo-password-2026"
DEMO_RESIDENTS = 300
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as shown, one line each (rule, impact, where).

    The script is evaluated through the DevTools protocol, which the pages' Content-Security-Policy does not
    govern, so the check needs no exception to the policy the product sends.
    """
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)",
        WCAG_AA,
    )
    return list(result)


def _need_browser() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped"
    if os.environ.get("JICHITAI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"JICHITAI_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _call(base: str, path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def _seed_tsuzuki(base: str) -> None:
    """A household whose kana has ヅ (都築 ツヅキ), recorded through the API like any other 転入."""
    token = _call(
        base,
        "/api/v1/auth/token",
        {
            "lg_code": DEMO_TOWN,
            "login_name": "demo-clerk",
            "password": DEMO_PASSWORD,
            "purpose": "resident_registry",
        },
    )["token"]
    moved_on = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    person = {
        "kana_confirmed": True,
        "honseki": "岩手県上閉伊郡大槌町本町一丁目2番地",
        "honseki_head": "都築　一郎",
    }
    _call(
        base,
        f"/api/v1/municipalities/{DEMO_TOWN}/registry/events",
        {
            "type": "domestic_move_in",
            "event_date": moved_on,
            "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
            "address": {"area": "本町一丁目", "number": "7番12号", "postal_code": "0281115"},
            "persons": [
                {
                    **person,
                    "family_name": "都築",
                    "given_name": "一郎",
                    "family_kana": "ツヅキ",
                    "given_kana": "イチロウ",
                    "birth_date": "昭和52年4月18日",
                    "sex": "male",
                    "relationship": "世帯主",
                },
                {
                    **person,
                    "family_name": "都築",
                    "given_name": "美和",
                    "family_kana": "ツヅキ",
                    "given_kana": "ミワ",
                    "birth_date": "昭和55年11月3日",
                    "sex": "female",
                    "relationship": "妻",
                },
                {
                    **person,
                    "family_name": "都築",
                    "given_name": "陽斗",
                    "family_kana": "ツヅキ",
                    "given_kana": "ハルト",
                    "birth_date": "平成27年6月1日",
                    "sex": "male",
                    "relationship": "子",
                },
            ],
        },
        token,
    )


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not become ready: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a free port with the demo towns; its base URL."""
    _need_browser()
    var_dir = tmp_path_factory.mktemp("e2e-var")
    env = {
        **os.environ,
        "JICHITAI_VAR_DIR": str(var_dir),
        "JICHITAI_DATABASE_URL": "",
        "JICHITAI_LOG_LEVEL": "WARNING",
        "JICHITAI_LOG_FORMAT": "text",
        "JICHITAI_AUDIT_SIGN_INTERVAL": "0",
        "JICHITAI_WORKERS": "1",
    }
    cli = [sys.executable, "-m", "jichitai.cli"]
    demo = [*cli, "demo", "--residents", str(DEMO_RESIDENTS)]
    subprocess.run(demo, env=env, check=True, capture_output=True)
    port = _free_port()
    log = var_dir / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, log)
        _seed_tsuzuki(base)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian (Playwright's own browser download is not used)."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser tab (Japanese locale, A4-ish desktop window) on the server."""
    context = browser.new_context(
        base_url=server, locale="ja-JP", viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.console_errors = []
    # Script errors and CSP violations; refused requests ("Failed to load resource": 4xx pages the test asks
    # for on purpose) are asserted where they happen.
    tab.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.text.startswith("Failed to load resource")
            and tab.console_errors.append(message.text)
        ),
    )
    tab.on("pageerror", lambda error: tab.console_errors.append(str(error)))
    yield tab
    context.close()


@pytest.fixture
def shoot(page: Any) -> Callable[[str], None]:
    """``shoot("01-login")``: check the page with axe-core, then save it as a test artefact (and as a guide
    image when asked)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update_docs = os.environ.get("JICHITAI_UPDATE_SCREENSHOTS") == "1"

    def take(name: str) -> None:
        assert axe_violations(page) == [], name
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if update_docs:
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_IMAGES / f"{name}.png")

    return take


@pytest.fixture
def save_pdf() -> Callable[[bytes], None]:
    """Keep the printed certificate as an artefact; for the guide, its first page as an image (pdftoppm)."""

    def save(pdf: bytes) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "09-certificate.pdf"
        path.write_bytes(pdf)
        if os.environ.get("JICHITAI_UPDATE_SCREENSHOTS") == "1" and shutil.which("pdftoppm"):
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            target = DOC_IMAGES / "09-certificate"
            subprocess.run(
                ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(path), str(target)],
                check=True,
            )

    return save
