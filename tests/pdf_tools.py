"""The outside tools PDF tests need (IPAmj明朝, poppler), and reading a PDF the way a person's viewer would.

Without the font or poppler the tests that need them are skipped with the reason printed (``-ra``), unless
``JICHITAI_REQUIRE_FONTS=1`` (set by CI, which installs ``fonts-ipamj-mincho`` and ``poppler-utils``): then
they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from jichitai.platform import documents

REQUIRED = os.environ.get("JICHITAI_REQUIRE_FONTS") == "1"


def _missing(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason}, but JICHITAI_REQUIRE_FONTS=1")
    pytest.skip(reason)


def require_mj_font() -> None:
    """Skip (or fail under JICHITAI_REQUIRE_FONTS=1) without IPAmj明朝."""
    if documents.find_mj_font() is None:
        _missing("IPAmj明朝 is not installed (apt-get install fonts-ipamj-mincho)")


def require_poppler() -> None:
    """Skip (or fail under JICHITAI_REQUIRE_FONTS=1) without poppler's pdftotext and pdftoppm."""
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        _missing("poppler is not installed (apt-get install poppler-utils)")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The text ``pdftotext`` extracts, every blank removed (so 山田　太郎 reads 山田太郎)."""
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode("utf-8")
    return re.sub(r"\s+", "", out)


def page_png(pdf: bytes, tmp_path: Path, page: int = 1, dpi: int = 100) -> bytes:
    """Page ``page`` rendered by ``pdftoppm`` as PNG bytes."""
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    stem = tmp_path / f"page-{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(path),
            str(stem),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return Path(f"{stem}.png").read_bytes()
