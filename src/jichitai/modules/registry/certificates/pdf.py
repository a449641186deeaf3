"""Certificate content → HTML → PDF (A4 portrait), with the MJ font, glyph markers and the QR check.

The templates live in ``templates/certificates/`` and have an environment of their own (not the screens'):
every ``{{ }}`` output passes :func:`jichitai.platform.documents.mark_missing`, so a glyph the font lacks is
marked wherever it appears (name, address, 本籍 …), never dropped or drawn from another font.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from jichitai.modules.registry.certificates.rules import (
    CertificateOut,
    CertificatePersonOut,
    CertificateWarning,
)
from jichitai.modules.registry.records.responses import DateOut
from jichitai.platform import documents


@dataclass(frozen=True)
class PrintInfo:
    """What a print adds to the issued content: its own 発行番号 and QR target, and the 再交付 mark."""

    issue_no: int
    verify_url: str
    reissue_of: int | None = None
    reissued_on: str | None = None
    """The 再交付日 in 和暦 (only for a 再交付)."""


@dataclass(frozen=True)
class Cell:
    """One printed item of a person: a label and its text; ``wide`` items take a whole row."""

    label: str
    value: str
    wide: bool = False


def _date(value: DateOut | None) -> str | None:
    return None if value is None else value.display


def person_cells(kind: str, p: CertificatePersonOut) -> list[Cell]:
    """The items printed for one person below the name, in print order; empty items are left out."""
    items: list[tuple[str, str | None, bool]] = [
        ("旧氏", p.former_surname, False),
        ("氏名 (アルファベット)", p.name_roman if p.name_roman != p.name else None, True),
        ("通称", p.alias_name, False),
        ("生年月日", p.birth_date.display, False),
        ("性別", p.sex, False),
        ("続柄", p.relationship, False),
    ]
    if kind in {"resident_record", "removed_record"}:
        items += [
            ("住民となった日", _date(p.became_resident_on), False),
            ("住所を定めた日", _date(p.address_set_on), False),
            ("届出日", _date(p.notified_on), False),
            ("転入前住所", p.previous_address, True),
            ("異動前住所", p.prior_address, True),
        ]
    items += [
        ("本籍", p.honseki, True),
        ("筆頭者", p.honseki_head, False),
        ("住民票コード", p.juminhyo_code, False),
        ("個人番号", p.my_number, False),
        ("国籍・地域", p.nationality, False),
        ("法第30条の45に規定する区分", p.foreign_category, False),
        ("在留資格", p.residence_status, False),
        ("在留期間", p.period_of_stay, False),
        ("在留期間の満了の日", _date(p.stay_expires_on), False),
        ("在留カード等の番号", p.residence_card_no, False),
    ]
    if kind == "removed_record":
        items += [
            ("消除事由", p.removal_reason, False),
            ("消除日", _date(p.removed_on), False),
            ("転出先", p.move_out_destination, True),
        ]
    elif kind == "move_out":
        items += [
            ("転出先", p.move_out_destination, True),
            ("転出予定日", _date(p.removed_on), False),
            ("資格等", "\n".join(p.entitlements) if p.entitlements else None, True),
        ]
    return [Cell(label, value, wide) for label, value, wide in items if value]


def rows(cells: list[Cell]) -> list[list[Cell]]:
    """Two narrow items per table row, a wide one alone (keeps a household of four on one A4 page)."""
    out: list[list[Cell]] = []
    pending: list[Cell] = []
    for cell in cells:
        if cell.wide:
            if pending:
                out.append(pending)
                pending = []
            out.append([cell])
            continue
        pending.append(cell)
        if len(pending) == 2:
            out.append(pending)
            pending = []
    if pending:
        out.append(pending)
    return out


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment of certificate documents (autoescaped; glyphs checked on every output)."""
    return Environment(
        loader=PackageLoader("jichitai.modules.registry", "templates/certificates"),
        autoescape=True,
        finalize=documents.mark_missing,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def printed_text(content: CertificateOut) -> str:
    """Every text the certificate prints about its persons and its town (for the glyph check)."""
    data = content.model_dump(mode="json", include={"pages", "town", "certifier"})
    return "\n".join(_strings(data))


def glyph_warnings(content: CertificateOut) -> tuple[list[str], list[CertificateWarning]]:
    """The glyphs the font cannot draw, and the warnings the certificate screen must show before printing."""
    status = documents.font_status()
    if not status.available:
        return [], [CertificateWarning(code="certificate_font_missing", message=status.message)]
    missing = documents.missing_glyphs(printed_text(content))
    if not missing:
        return [], []
    shown = "、".join(f"「{m}」({' '.join(f'U+{ord(ch):04X}' for ch in m)})" for m in missing)
    return missing, [
        CertificateWarning(
            code="glyph_missing",
            message=f"証明書用の書体で印字できない文字があります: {shown}。"
            "証明書には〓 (または点線の枠) で表示し、その旨を注記します。文字の登録内容を確認してください。",
        )
    ]


def render_html(content: CertificateOut, info: PrintInfo) -> str:
    """The certificate as a complete HTML document (refuses with FontMissing when the font is absent)."""
    missing = documents.missing_glyphs(printed_text(content))
    return (
        environment()
        .get_template("certificate.html")
        .render(
            c=content,
            person_rows=lambda person: rows(person_cells(content.type, person)),
            info=info,
            missing=missing,
            font_face=Markup(documents.font_face_css()),
            mark_css=Markup(documents.MARK_CSS),
            qr=Markup(documents.qr_svg_data_uri(info.verify_url)),
        )
    )


def render_pdf(content: CertificateOut, info: PrintInfo) -> bytes:
    """The certificate as PDF bytes."""
    return documents.html_to_pdf(render_html(content, info))
