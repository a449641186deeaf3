"""Search keys for names written in kana.

The standard requires a name search that forgives the ways one reading is spelled
(spec j330/j340, domain.md §1.6).  Instead of fuzzy matching at query time, both the
stored フリガナ and the query are reduced to the same *search key*; the database then does
exact or prefix matching on keys, which is fast and explainable to counter staff.
"""

from __future__ import annotations

import unicodedata

import jaconv

__all__ = ["name_search_keys", "search_key"]

_VOICING_MARKS = frozenset("\u3099\u309a\u309b\u309c\uff9e\uff9f")
"""Combining and spacing (han)dakuten; NFKC turns a lone ゛ into space + U+3099."""

_SMALL_TO_LARGE = str.maketrans(
    "ァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ",
    "アイウエオツヤユヨワカケクシストヌハヒフヘホムラリルレロ",
)
_OLD_KANA = str.maketrans("ヲヰヱ", "オイエ")

_DASHES = frozenset("ー―－‐ｰ-–—‑‒−")
"""Long-vowel mark and every dash people type for it (U+30FC, U+2015, U+FF0D, U+2010,
U+FF70, U+002D, U+2013, U+2014, U+2011, U+2012, U+2212)."""

_VOWEL_ROWS = {
    "ア": "アカサタナハマヤラワ",
    "イ": "イキシチニヒミリ",
    "ウ": "ウクスツヌフムユル",
    "エ": "エケセテネヘメレ",
    "オ": "オコソトノホモヨロ",
}
_VOWEL_OF = {kana: vowel for vowel, row in _VOWEL_ROWS.items() for kana in row}
_O_ROW = frozenset(_VOWEL_ROWS["オ"])


_SPELLING_VARIANTS = (
    ("ヴァ", "バ"),
    ("ヴィ", "ビ"),
    ("ヴェ", "ベ"),
    ("ヴォ", "ボ"),
    ("ヴ", "ブ"),
    ("ヷ", "バ"),
    ("ヸ", "ビ"),
    ("ヹ", "ベ"),
    ("ヺ", "ボ"),
    ("ヂ", "ジ"),
    ("ヅ", "ズ"),
)
"""Pairs the spec equates (ヂ=ジ, ヅ=ズ, ヴァ=バ); rewritten before voicing is dropped so
that シンヂ meets シンジ and ヴァイオリン meets バイオリン."""


def _unify_spelling_variants(text: str) -> str:
    for variant, usual in _SPELLING_VARIANTS:
        text = text.replace(variant, usual)
    return text


def _fold_voicing(text: str) -> str:
    """ガ→カ, パ→ハ, ジ→シ, ブ→フ: drop (han)dakuten after canonical decomposition."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _VOICING_MARKS))


def _spell_out_long_vowels(text: str) -> str:
    """Replace a long-vowel mark (or dash) by the vowel of the kana before it.

    サトー must meet サトウ and サトオ.  Deleting the mark instead would give サト and
    merge 佐藤 with 里, so the mark is spelled out; runs of marks count as one, and a mark
    with no vowel before it (after ン, at the start, after kanji) is dropped.
    """
    out: list[str] = []
    previous_was_mark = False
    for ch in text:
        if ch in _DASHES:
            vowel = _VOWEL_OF.get(out[-1]) if out else None
            if vowel is not None and not previous_was_mark:
                out.append(vowel)
            previous_was_mark = True
            continue
        out.append(ch)
        previous_was_mark = False
    return "".join(out)


def _read_u_after_o_row_as_o(text: str) -> str:
    """After an オ段 kana read ウ as オ (トウ = トオ, ヨウ = ヨオ), left to right.

    Applied to the already folded text, so ゴウ, ョウ and ヲウ are covered too, and a ウ
    turned into オ counts as オ段 for the next character (トウウ → トオオ).
    """
    out: list[str] = []
    for ch in text:
        out.append("オ" if ch == "ウ" and out and out[-1] in _O_ROW else ch)
    return "".join(out)


def search_key(text: str) -> str:
    """Reduce a kana name to the key used for tolerant name search.

    Rules, in order, each with its reason:

    1. NFKC: half-width katakana (ﾔﾏﾀﾞ) become full-width, full-width spaces and
       punctuation become ASCII; input methods produce both widths.
    2. Hiragana → katakana (jaconv): フリガナ is held in katakana, queries are often typed
       in hiragana.
    3. All whitespace is removed: the gap between 氏 and 名 is not part of the reading.
       A voicing mark typed apart from its kana (カ゛, ｶ ﾞ) is then recombined (NFC).
    4. Spelling variants the spec equates are unified first: ヂ→ジ, ヅ→ズ, ヴァ→バ, ヴィ→ビ,
       ヴェ→ベ, ヴォ→ボ, ヴ→ブ.  Folding ヂ straight to チ would keep シンヂ ≠ シンジ.
    5. 濁音/半濁音 → 清音 (ガ→カ, パ→ハ, ジ→シ, ブ→フ): records are inconsistent about voicing
       marks (spec: ヒ=ピ, ハ=バ …), and a key without them matches either spelling.
    6. Small kana → large (ッ→ツ, ャ→ヤ, ァ→ア, ヮ→ワ, ヵ→カ, ヶ→ケ): older systems could
       not print small kana, so キッカワ was stored as キツカワ.
    7. ヲ→オ, ヰ→イ, ヱ→エ: historical kana read as modern vowels.  ワ is *not* folded to ハ
       although the spec lists ハ=ワ: that would merge far too many names.
    8. Long-vowel marks and dash-like characters (ー ― － ‐ ｰ - – —) are spelled out as the
       preceding vowel (see :func:`_spell_out_long_vowels`), so サトー = サトウ = サトオ.
    9. After an オ段 kana, ウ reads as オ (トウキョウ = トオキヨオ): the spec's rule for
       long "o" written either way.

    The result is idempotent: ``search_key(search_key(x)) == search_key(x)``.
    """
    text = unicodedata.normalize("NFKC", text)
    text = jaconv.hira2kata(text)
    text = "".join(ch for ch in text if not ch.isspace())
    text = unicodedata.normalize("NFC", text)
    text = _fold_voicing(_unify_spelling_variants(text))
    text = text.translate(_SMALL_TO_LARGE).translate(_OLD_KANA)
    text = _spell_out_long_vowels(text)
    return _read_u_after_o_row_as_o(text)


def name_search_keys(family_kana: str, given_kana: str) -> tuple[str, str, str]:
    """Keys for 氏, 名 and the full name, so 名-only search and full-name search both work.

    The full key is computed on the joined reading, not by joining the two keys, because
    the オ段 rule can cross the 氏/名 boundary and a query typed without a space must
    produce the same key as the stored full name.
    """
    return search_key(family_kana), search_key(given_kana), search_key(family_kana + given_kana)
