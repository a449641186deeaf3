"""Which characters stored text may hold: one rule for every name, address and free-text item.

Refused, because they are invisible or change how the text around them reads, and so let a stored name look
like another one on screen or on a certificate:

- control characters (C0, DEL, C1), including line breaks (U+000A, U+2028, U+2029) in a one-line item;
  a multi-line item (notes, reasons) may hold U+000A, a browser's CR LF becoming LF;
- bidirectional controls: embeddings and overrides (U+202A–U+202E), isolates (U+2066–U+2069), the marks
  U+200E, U+200F and U+061C;
- every other format character (category Cf): zero-width space U+200B, joiners, U+FEFF, the soft hyphen
  U+00AD, tag characters;
- lone surrogates and the 66 noncharacters (U+FDD0–U+FDEF, U+xxFFFE, U+xxFFFF).

Kept, because resident records need them: the full-width space U+3000 between 氏 and 名, the variation
selectors U+FE00–U+FE0F and the ideographic variation selectors U+E0100–U+E01EF that pick an MJ glyph (葛󠄀
is U+845B U+E0100), compatibility ideographs such as 﨑, and the private use area, where 行政事務標準文字
outside MJ and a town's 外字 live (a certificate prints a glyph its font lacks as 〓 and reports it).
Unassigned code points are kept too, so a character added by a later Unicode version is not refused.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from jichitai.platform.jp.errors import JpValueError

__all__ = [
    "INVALID_CHARACTERS",
    "MultilineText",
    "OptionalMultilineText",
    "OptionalStoredText",
    "StoredText",
    "character_problem",
    "check_text",
    "refused_character",
]

INVALID_CHARACTERS = "invalid_characters"
"""The error code of a refusal (shared with the input guard, which refuses NUL and lone surrogates)."""

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder the text around them (Unicode bidirectional algorithm, UAX #9)."""

_KINDS = {
    "Cc": "制御文字",
    "Cf": "書式制御文字・ゼロ幅文字",
    "Cs": "単独のサロゲート",
    "Zl": "改行",
    "Zp": "改行",
}


def _kind(ch: str, multiline: bool) -> str | None:
    """What kind of refused character ``ch`` is (Japanese), or None when stored text may hold it."""
    if ch == "\n":
        return None if multiline else "改行"
    if ch in BIDI_CONTROLS:
        return "文字の方向を変える制御文字"
    kind = _KINDS.get(unicodedata.category(ch))
    if kind is not None:
        return kind
    code = ord(ch)
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return "非文字"
    return None


def refused_character(text: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """The first character of ``text`` stored text may not hold and its kind (Japanese), or None."""
    if text.isprintable():  # no Cc, Cf, Cs, Zl, Zp or unassigned character at all: the common case
        return None
    for ch in text:
        kind = _kind(ch, multiline)
        if kind is not None:
            return ch, kind
    return None


def character_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` may not be stored, naming the first refused character's code point (Japanese), or None."""
    refused = refused_character(text, multiline=multiline)
    if refused is None:
        return None
    ch, kind = refused
    return f"使用できない文字 U+{ord(ch):04X} ({kind}) が含まれています。"


def check_text(text: str, *, multiline: bool = False) -> str:
    """``text`` as it is stored (a multi-line item's CR LF as LF), or :class:`JpValueError` naming the
    first refused character."""
    if multiline:
        text = text.replace("\r\n", "\n")
    problem = character_problem(text, multiline=multiline)
    if problem is not None:
        raise JpValueError(INVALID_CHARACTERS, problem)
    return text


def _validator(multiline: bool) -> BeforeValidator:
    def validate(value: object) -> object:
        if not isinstance(value, str):
            return value  # null, or not text at all: the field's own type says so
        try:
            return check_text(value, multiline=multiline)
        except JpValueError as exc:
            raise PydanticCustomError(INVALID_CHARACTERS, exc.message) from None

    return BeforeValidator(validate)


# Checked before the field's own limits, so a refused character is named even where a pattern or length
# would also fail, and before surrounding whitespace is stripped, so a control character never slips in at
# an end. The optional forms validate ``str | None`` as a whole: ``StoredText | None`` would apply a field's
# ``max_length`` and ``pattern`` outside the type (a list-style "too_long" error, no pattern in OpenAPI).
StoredText = Annotated[str, _validator(multiline=False)]
"""A one-line stored text item (names, kana, addresses, 本籍, 方書, titles): no line break, no control."""

OptionalStoredText = Annotated[str | None, _validator(multiline=False)]
""":data:`StoredText` or null."""

MultilineText = Annotated[str, _validator(multiline=True)]
"""A stored text item that genuinely runs over lines (notes, reasons): as :data:`StoredText`, with LF."""

OptionalMultilineText = Annotated[str | None, _validator(multiline=True)]
""":data:`MultilineText` or null."""
