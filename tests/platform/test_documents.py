"""PDF helpers: the MJ font, glyph coverage with variation sequences, visible fallbacks, the limits.

The IVS test renders real glyphs with WeasyPrint and compares poppler's pixels: the check ADR 0008 made.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import Markup

from jichitai.platform import documents
from tests.pdf_tools import page_png, pdf_text, require_mj_font, require_poppler

TSUJI = "辻"
TSUJI_ONE_DOT = "辻\U000e0102"  # MJ025760 in IPAmj明朝's cmap format 14
TSUJI_DEFAULT = "辻\U000e0103"  # MJ025761: the glyph the font also draws for a bare 辻
TSUJI_UNKNOWN = "辻\U000e0101"  # a sequence IPAmj明朝 does not register (Adobe-Japan1 numbering)
KUZU_VARIANT = "葛\U000e0104"
PRIVATE_USE = "\ue000"  # a vendor 外字 code: no MJ glyph


def glyph_page(text: str) -> str:
    return (
        f"<html><head><style>{documents.font_face_css()}"
        "@page { size: 60mm 60mm; margin: 5mm } body { font-family: MJ; font-size: 100pt; margin: 0 }"
        f"</style></head><body>{documents.mark_missing(text)}</body></html>"
    )


def test_the_font_is_found_and_reported() -> None:
    require_mj_font()
    status = documents.font_status()
    assert status.available
    assert status.path is not None
    assert Path(status.path).name == "ipamjm.ttf"
    assert "IPAmj明朝" in status.message


def test_missing_glyphs_knows_variation_sequences() -> None:
    require_mj_font()
    assert documents.missing_glyphs("山田　太郎 1980年 ヤマダ ｱｲｳ 〓※") == []
    assert documents.missing_glyphs(TSUJI_ONE_DOT + TSUJI_DEFAULT + KUZU_VARIANT + "𠮟") == []
    assert documents.missing_glyphs(f"{TSUJI_UNKNOWN}{PRIVATE_USE}子{PRIVATE_USE}") == [
        TSUJI_UNKNOWN,
        PRIVATE_USE,
    ]
    assert documents.missing_glyphs("一行目\n二行目\t") == []


def test_clusters_keep_a_selector_with_its_base() -> None:
    assert documents.clusters(f"{TSUJI_ONE_DOT}太\ufe00郎") == [TSUJI_ONE_DOT, "太\ufe00", "郎"]
    assert documents.clusters("\U000e0102辻") == ["\U000e0102", "辻"]


def test_mark_missing_escapes_and_marks_visibly() -> None:
    require_mj_font()
    assert documents.mark_missing("<b>&") == Markup("&lt;b&gt;&amp;")
    assert documents.mark_missing(f"{PRIVATE_USE}子") == Markup(
        f'<span class="glyph-missing">{documents.MISSING_MARK}</span>子'
    )
    assert documents.mark_missing(f"{TSUJI_UNKNOWN}田") == Markup(
        '<span class="glyph-variant-missing">辻</span>田'
    )
    assert documents.mark_missing(TSUJI_ONE_DOT) == Markup(TSUJI_ONE_DOT)
    already = Markup("<i>x</i>")
    assert documents.mark_missing(already) is already
    assert documents.mark_missing(12) == 12


def test_weasyprint_draws_the_registered_variant(tmp_path: Path) -> None:
    """ADR 0008: 辻 with U+E0102 is another glyph than 辻; with U+E0103 (the font's default form) the same."""
    require_mj_font()
    require_poppler()
    pixels = {
        text: page_png(documents.html_to_pdf(glyph_page(text)), tmp_path)
        for text in (TSUJI, TSUJI_ONE_DOT, TSUJI_DEFAULT, "葛", KUZU_VARIANT)
    }
    assert pixels[TSUJI_ONE_DOT] != pixels[TSUJI]
    assert pixels[TSUJI_DEFAULT] == pixels[TSUJI]
    assert pixels[KUZU_VARIANT] != pixels["葛"]
    # The text layer keeps the sequence, so a search of the PDF finds the registered character.
    assert TSUJI_ONE_DOT in pdf_text(documents.html_to_pdf(glyph_page(TSUJI_ONE_DOT)), tmp_path)


def test_a_missing_glyph_prints_the_marker(tmp_path: Path) -> None:
    require_mj_font()
    require_poppler()
    pdf = documents.html_to_pdf(glyph_page(f"{PRIVATE_USE}子"))
    assert pdf_text(pdf, tmp_path) == f"{documents.MISSING_MARK}子"


def test_documents_load_nothing_but_the_font() -> None:
    require_mj_font()
    page = glyph_page("山").replace("</body>", '<img src="file:///etc/hostname"></body>')
    with pytest.raises(RuntimeError, match="may not load"):
        documents.html_to_pdf(page)
    assert documents.html_to_pdf(glyph_page("山")).startswith(b"%PDF")


def test_without_the_font_nothing_is_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "find_mj_font", lambda: None)
    assert not documents.font_status().available
    assert "fonts-ipamj-mincho" in documents.font_status().message
    with pytest.raises(documents.FontMissing) as refused:
        documents.html_to_pdf("<html><body>山田</body></html>")
    assert (refused.value.status, refused.value.code) == (503, "certificate_font_missing")


def test_qr_is_an_svg_data_uri() -> None:
    uri = documents.qr_svg_data_uri("https://example.jp/verify/034614ABCDEFGHIJKLMNOPQRSTUVWX")
    assert uri.startswith("data:image/svg+xml")
