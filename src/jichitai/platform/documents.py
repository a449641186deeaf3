"""PDF documents: the MJ font, glyph coverage, HTML → PDF with WeasyPrint, QR codes.

Certificates must print names with their registered glyphs, ideographic variation sequences (IVS: a base
character followed by U+E0100…U+E01EF) included. ADR 0008 records why WeasyPrint (Pango + HarfBuzz) renders
them and ReportLab does not; the font is IPAmj明朝 (Debian ``fonts-ipamj-mincho``), which covers the MJ
character set and maps its variants through a cmap format 14 subtable.

What this module guarantees:

- :func:`font_status` says whether the MJ font is installed, and where, in words for the certificate screen.
  Without it :func:`html_to_pdf` refuses (:class:`FontMissing`, 503): printing a name in whatever font
  fontconfig would substitute could change its glyph, and a certificate must not do that silently.
- :func:`missing_glyphs` lists the characters (or variation sequences) of a text the font cannot draw;
  :func:`mark_missing` escapes a text for HTML and puts a visible marker in their place: 〓 for a character
  the font lacks (e.g. a vendor 外字 in the Private Use Area), a dotted box around the base character for a
  variation sequence the font does not know. Nothing is dropped or substituted without a mark.
- :func:`html_to_pdf` renders with a URL fetcher that reads only the MJ font file and ``data:`` URLs, so a
  document can never pull anything else from the disk or the network.
- Rendering is bounded: a process renders at most ``pdf_renderers`` documents at once
  (:func:`configure_renderers`), each renderer keeping one loaded copy of the font, and routes run their
  printing use case on rendering threads of its own (:func:`run_in_renderer`), never on the threads that
  serve searches.

Nothing here knows about registries or certificates; the modules bring their own templates.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import segno
from anyio.lowlevel import RunVar
from markupsafe import Markup, escape

from jichitai.platform.errors import DomainError

T = TypeVar("T")

FONT_FAMILY = "IPAmjMincho"
"""The family name fontconfig knows IPAmj明朝 by."""
FONT_PACKAGE = "fonts-ipamj-mincho"
KNOWN_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf"),  # Debian fonts-ipamj-mincho
    Path("/usr/share/fonts/opentype/ipamj/ipamjm.ttf"),
    Path("/usr/local/share/fonts/ipamjm.ttf"),
)
MISSING_MARK = "〓"
"""Printed in place of a character the font has no glyph for (the 下駄記号 Japanese print uses for this)."""
VARIATION_SELECTORS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0xE0100, 0xE01F0))
MARK_CSS = """
.glyph-missing { border: 0.3mm solid #000; padding: 0 0.3mm; }
.glyph-variant-missing { border: 0.3mm dotted #000; }
"""
"""Styles of the markers :func:`mark_missing` writes; documents include it in their style sheet."""


class FontMissing(DomainError):
    """The MJ font is not installed: documents with names are refused rather than printed in another font."""

    status = 503

    def __init__(self) -> None:
        super().__init__(
            "certificate_font_missing",
            "証明書用の書体 (IPAmj明朝) がサーバーにインストールされていないため、PDF を作成できません。"
            f"システム管理者に連絡してください ({FONT_PACKAGE})。",
        )


@dataclass(frozen=True)
class FontStatus:
    """Whether the MJ font can be used, for the certificate screen and the health of the installation."""

    available: bool
    path: str | None
    message: str


def _fc_match() -> Path | None:
    """The file fontconfig resolves the family to, if it really is IPAmj明朝 (fc-match always answers)."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{family}\n%{file}", FONT_FAMILY],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    family, _, file = out.partition("\n")
    if FONT_FAMILY.lower() not in family.lower() or not file:
        return None
    path = Path(file)
    return path if path.is_file() else None


@functools.cache
def find_mj_font() -> Path | None:
    """The IPAmj明朝 file: a known Debian path, else wherever fontconfig has it; None when not installed.

    Cached for the life of the process: installing the font needs a restart (operations guide).
    """
    for path in KNOWN_FONT_PATHS:
        if path.is_file():
            return path
    return _fc_match()


def font_status() -> FontStatus:
    """Whether certificates can be printed, with a message in Japanese for the screen."""
    path = find_mj_font()
    if path is None:
        return FontStatus(
            False,
            None,
            "証明書用の書体 (IPAmj明朝) がインストールされていません。証明書の PDF は作成できません。"
            f"システム管理者に連絡してください ({FONT_PACKAGE})。",
        )
    return FontStatus(True, str(path), "証明書は IPAmj明朝 (文字情報基盤 MJ 文字) で印字します。")


@dataclass(frozen=True)
class Coverage:
    """What the font can draw: code points of its cmap, and its variation sequences (cmap format 14)."""

    codepoints: frozenset[int]
    sequences: frozenset[tuple[int, int]]


@functools.cache
def font_coverage() -> Coverage | None:
    """The MJ font's coverage (read once, ≈0.1 s), or None when the font is not installed."""
    path = find_mj_font()
    if path is None:
        return None
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # once per process

    font = TTFont(str(path), lazy=True)
    try:
        cmap = font["cmap"]
        codepoints = frozenset(font.getBestCmap())
        sequences = frozenset(
            (base, selector)
            for table in cmap.tables
            if table.format == 14
            for selector, mappings in table.uvsDict.items()
            for base, _glyph in mappings
        )
    finally:
        font.close()
    return Coverage(codepoints, sequences)


def clusters(text: str) -> list[str]:
    """The text cut into characters, each with the variation selector that follows it (if any)."""
    out: list[str] = []
    for char in text:
        if ord(char) in VARIATION_SELECTORS and out:
            out[-1] += char
        else:
            out.append(char)
    return out


def _problem(cluster: str, coverage: Coverage) -> str | None:
    """``"missing"`` (no glyph), ``"variant"`` (no glyph for the variation sequence) or None (drawable)."""
    base = ord(cluster[0])
    if unicodedata.category(cluster[0]) == "Cc":
        return None  # line breaks and tabs are layout, not glyphs
    if base not in coverage.codepoints:
        return "missing"
    if len(cluster) > 1 and (base, ord(cluster[1])) not in coverage.sequences:
        return "variant"
    return None


def missing_glyphs(text: str) -> list[str]:
    """Characters or variation sequences of ``text`` the MJ font cannot draw, each once, in order.

    Empty when the font is not installed (nothing can be judged then; :func:`font_status` says so).
    """
    coverage = font_coverage()
    if coverage is None:
        return []
    found: list[str] = []
    for cluster in clusters(text):
        if cluster not in found and _problem(cluster, coverage) is not None:
            found.append(cluster)
    return found


def mark_missing(value: Any) -> Any:
    """Escape ``value`` for HTML, marking every glyph the font lacks (for Jinja's ``finalize``).

    Markup and non-text values pass unchanged; a text becomes Markup in which a missing character is
    replaced by 〓 in a box and a variation sequence the font does not know is printed as its base character
    in a dotted box (never silently as the base glyph).
    """
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    coverage = font_coverage()
    if coverage is None:
        return escape(value)
    parts: list[str] = []
    for cluster in clusters(value):
        problem = _problem(cluster, coverage)
        if problem == "missing":
            parts.append(f'<span class="glyph-missing">{MISSING_MARK}</span>')
        elif problem == "variant":
            parts.append(f'<span class="glyph-variant-missing">{escape(cluster[0])}</span>')
        else:
            parts.append(str(escape(cluster)))
    return Markup("".join(parts))


def font_face_css() -> str:
    """An ``@font-face`` rule binding the family ``MJ`` to the installed file (refuses without the font)."""
    path = find_mj_font()
    if path is None:
        raise FontMissing()
    return f'@font-face {{ font-family: "MJ"; src: url("{path.as_uri()}"); }}'


class _Renderer:
    """One WeasyPrint font configuration with the MJ font loaded, and the URL fetcher that goes with it.

    A font configuration loads the font into a fontconfig/Pango font map of its own (WeasyPrint copies the
    46 MB file into a temporary folder for it, and FreeType maps that copy), so each renderer costs one copy
    of the font; they are few (:func:`configure_renderers`) and kept for the life of the process. A renderer
    is used by one thread at a time (Pango font maps are not thread-safe), by whichever thread holds it.
    """

    def __init__(self) -> None:
        from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]
        from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

        _share_font_file()
        font = find_mj_font()

        class OnlyTheFont(URLFetcher):  # type: ignore[misc]
            """Serves only the MJ font file and ``data:`` URLs, and fails the document on any error (a font
            that did not load must not be replaced silently by another one)."""

            def fetch(self, url: str, headers: Any = None) -> Any:
                if not url.startswith("data:") and (font is None or url != font.as_uri()):
                    raise ValueError(f"blocked: {url[:80]}")
                return super().fetch(url, headers)

        self.font_config = FontConfiguration()
        self.fetcher = OnlyTheFont(allowed_protocols=("file", "data"), fail_on_errors=True)


_renderers_guard = threading.Lock()
_idle: list[_Renderer] = []
_capacity = 1
_slots = threading.BoundedSemaphore(_capacity)
_made = 0


@atexit.register
def _release() -> None:
    # Released at exit while Pango is still loaded (later, at interpreter shutdown, finalisers fail noisily).
    _idle.clear()


def configure_renderers(count: int) -> None:
    """Render at most ``count`` documents at once in this process (the setting ``pdf_renderers``).

    Every caller of :func:`html_to_pdf` waits for a free renderer, whatever thread it runs on, so the
    process never holds more than ``count`` copies of the font however many threads print.
    """
    global _capacity, _slots
    if count < 1:
        raise ValueError("at least one renderer")
    with _renderers_guard:
        if count != _capacity:
            _capacity, _slots = count, threading.BoundedSemaphore(count)
            del _idle[count:]


def renderer_capacity() -> int:
    """How many documents this process renders at once."""
    return _capacity


def renderers_made() -> int:
    """Renderers (font copies) made in this process so far, for tests and benchmarks."""
    return _made


@contextmanager
def _renderer() -> Iterator[_Renderer]:
    global _made
    with _slots:
        with _renderers_guard:
            renderer = _idle.pop() if _idle else None
        if renderer is None:
            renderer = _Renderer()
            with _renderers_guard:
                _made += 1
        try:
            yield renderer
        finally:
            with _renderers_guard:
                if len(_idle) < _capacity:
                    _idle.append(renderer)


_render_limiter: RunVar[anyio.CapacityLimiter] = RunVar("jichitai_document_renderers")


def render_limiter() -> anyio.CapacityLimiter:
    """The running event loop's limiter for rendering threads, as wide as :func:`renderer_capacity`."""
    try:
        limiter = _render_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(_capacity)
        _render_limiter.set(limiter)
    if limiter.total_tokens != _capacity:
        limiter.total_tokens = _capacity
    return limiter


async def run_in_renderer(func: Callable[..., T], *args: Any) -> T:
    """Run ``func(*args)``, a use case that renders a document, on a rendering thread.

    For routes (``async def``): the call waits for one of the :func:`renderer_capacity` rendering slots of
    the event loop, not for a thread of the pool that runs synchronous routes, so searches and other
    requests go on while documents render or queue for a renderer.
    """
    return await anyio.to_thread.run_sync(func, *args, limiter=render_limiter())


def html_to_pdf(html: str) -> bytes:
    """Render a complete HTML document (which uses :func:`font_face_css`) to PDF bytes with WeasyPrint.

    Waits for a free renderer (:func:`configure_renderers`).
    """
    if find_mj_font() is None:
        raise FontMissing()
    from weasyprint import HTML  # type: ignore[import-untyped]  # heavy: only where documents are made
    from weasyprint.urls import FatalURLFetchingError

    with _renderer() as renderer:
        try:
            pdf = HTML(string=html, url_fetcher=renderer.fetcher).write_pdf(font_config=renderer.font_config)
        except FatalURLFetchingError as exc:  # a BaseException: turned into an error the app reports as such
            raise RuntimeError(f"the document needs a resource it may not load: {exc}") from exc
    assert pdf is not None  # write_pdf without a target returns the bytes
    return bytes(pdf)


@functools.cache
def _share_font_file() -> None:
    """Let every PDF share one in-memory copy of the MJ font file instead of copying it per document.

    WeasyPrint (70) copies the whole font file of every font a document uses into a new ``bytes``
    (``weasyprint.pdf.fonts.get_hb_object_data``) and then subsets the font from HarfBuzz's face, so the
    copy is only read for its first bytes: for IPAmj明朝 that is 46 MB allocated, copied and freed per PDF,
    20-40 ms of a 180 ms page (docs/adr/0014-certificate-renderer.md). This wraps that function so
    that, for a face whose data is the MJ font file, it returns the file's bytes read once per process;
    any other request goes to WeasyPrint's own function. Without the font, or in a WeasyPrint without
    that function, nothing changes.
    """
    path = find_mj_font()
    try:
        from weasyprint.pdf import fonts as pdf_fonts  # type: ignore[import-untyped]
        from weasyprint.text.ffi import ffi, harfbuzz  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a WeasyPrint laid out differently: keep its behaviour
        return
    original = getattr(pdf_fonts, "get_hb_object_data", None)
    if path is None or original is None:
        return
    data = path.read_bytes()
    head = data[:4096]

    def get_hb_object_data(hb_object: Any, ot_color: Any = None, glyph: Any = None) -> Any:
        if ot_color is None and glyph is None:
            blob = harfbuzz.hb_face_reference_blob(hb_object)
            try:
                if harfbuzz.hb_blob_get_length(blob) == len(data):
                    start = harfbuzz.hb_blob_get_data(blob, ffi.NULL)
                    if start != ffi.NULL and ffi.buffer(start, len(head))[:] == head:
                        return data
            finally:
                harfbuzz.hb_blob_destroy(blob)
        return original(hb_object, ot_color, glyph)

    pdf_fonts.get_hb_object_data = get_hb_object_data


def qr_svg_data_uri(text: str) -> str:
    """A QR code of ``text`` (error correction M) as an SVG ``data:`` URI for an ``<img>``."""
    return str(segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=2))
