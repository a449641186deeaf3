"""PDF rendering is bounded: a few renderers per process, each with one copy of the font, on threads of their
own, so that prints never hold the threads that serve searches (platform/documents.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from jichitai.platform import documents
from jichitai.platform.sizing import set_request_threads
from tests.pdf_tools import pdf_text, require_mj_font, require_poppler

NAME = "葛\U000e0104飾　辻\U000e0102"


def page(text: str) -> str:
    return (
        f"<html><head><style>{documents.font_face_css()}"
        "@page { size: 80mm 30mm; margin: 5mm } body { font-family: MJ; font-size: 12pt; margin: 0 }"
        f"</style></head><body>{documents.mark_missing(text)}</body></html>"
    )


@pytest.fixture
def renderers() -> Iterator[None]:
    """Restore the process's renderer count after a test that changes it."""
    before = documents.renderer_capacity()
    yield
    documents.configure_renderers(before)


def test_eight_threads_share_one_renderer(tmp_path: Path, renderers: None) -> None:
    require_mj_font()
    require_poppler()
    documents.configure_renderers(1)
    made = documents.renderers_made()
    with ThreadPoolExecutor(max_workers=8) as pool:
        pdfs = list(pool.map(lambda n: documents.html_to_pdf(page(f"{NAME} {n}")), range(8)))
    assert documents.renderers_made() - made <= 1  # one font copy, not one per thread
    for n, pdf in enumerate(pdfs):
        assert pdf_text(pdf, tmp_path) == f"{NAME.replace('　', '')}{n}"
        assert len(pdf) < 200_000  # the font is subset, never embedded whole (46 MB)


def test_no_more_documents_render_at_once_than_renderers(
    renderers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_mj_font()
    from weasyprint import HTML  # type: ignore[import-untyped]

    documents.configure_renderers(2)
    lock = threading.Lock()
    now = most = 0
    write_pdf = HTML.write_pdf

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal now, most
        with lock:
            now += 1
            most = max(most, now)
        try:
            return write_pdf(self, *args, **kwargs)
        finally:
            with lock:
                now -= 1

    monkeypatch.setattr(HTML, "write_pdf", counted)
    made = documents.renderers_made()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda n: documents.html_to_pdf(page(str(n))), range(12)))
    assert most == 2
    assert documents.renderers_made() - made <= 2


def test_renderer_count_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one renderer"):
        documents.configure_renderers(0)


async def _wait_for(condition: Any) -> None:
    with anyio.fail_after(10):
        while not condition():
            await anyio.sleep(0.01)


def test_a_print_does_not_wait_for_a_request_thread(renderers: None) -> None:
    """All request threads busy (one, here): a print still runs, on a rendering thread."""
    documents.configure_renderers(1)
    release = threading.Event()

    async def main() -> str:
        set_request_threads(1)
        general = anyio.to_thread.current_default_thread_limiter()

        async def busy_request() -> None:
            await anyio.to_thread.run_sync(release.wait)

        async with anyio.create_task_group() as group:
            group.start_soon(busy_request)
            await _wait_for(lambda: general.borrowed_tokens == 1)
            with anyio.fail_after(10):
                printed = await documents.run_in_renderer(lambda: "printed")
            release.set()
        return printed

    try:
        assert anyio.run(main) == "printed"
    finally:
        release.set()


def test_a_search_does_not_wait_behind_prints(renderers: None) -> None:
    """Every renderer busy and more prints queued: a request on the ordinary threads is served at once."""
    documents.configure_renderers(1)
    release = threading.Event()

    async def main() -> str:
        set_request_threads(1)
        async with anyio.create_task_group() as group:
            for _ in range(3):  # one printing, two queued for the renderer
                group.start_soon(documents.run_in_renderer, release.wait)
            await _wait_for(lambda: documents.render_limiter().borrowed_tokens == 1)
            with anyio.fail_after(10):
                found = await anyio.to_thread.run_sync(lambda: "found")
            release.set()
        return found

    try:
        assert anyio.run(main) == "found"
    finally:
        release.set()
