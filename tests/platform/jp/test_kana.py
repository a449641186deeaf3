"""Kana search keys: the spec's equivalences as examples, and the key's algebra as properties."""

from __future__ import annotations

import itertools
import unicodedata

import jaconv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.platform.jp import name_search_keys, search_key

PROPERTY = settings(database=None, deadline=None)

KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30FB)) + "ー"
HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097)) + "ー"
SPACES = " \u3000"
DASHES = "ー―－‐ｰ-–—"


@pytest.mark.parametrize(
    "group",
    [
        ["ヤマダ　タロウ", "やまだたろう", "ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマタ タロオ", "ヤマダタロー", "やまだ　たろお"],
        ["サトウ", "サトー", "サトオ", "さとう", "ｻﾄｳ", "ｻﾄｰ"],
        ["シンジ", "シンヂ", "しんぢ", "シンシ"],
        ["キッカワ", "キツカワ", "きっかわ"],
        ["トウキョウ", "トオキヨオ", "トーキョー", "とうきょう"],
        ["ヴァイオリン", "バイオリン", "ハイオリン", "ｳﾞｧｲｵﾘﾝ"],
        ["スズキ", "スヅキ", "ススキ"],
        ["オノ", "ヲノ"],
        ["パク", "ハク", "バク"],
        ["イヨ", "ヰヨ"],
        ["エリ", "ヱリ"],
        ["ケンジ", "ケ ン ジ", "ケ\u3000ン\u3000ジ"],
        ["ガク", "カ゛ク", "ｶﾞｸ", "ｶ ﾞｸ"],
    ],
)
def test_equivalent_spellings_share_a_key(group: list[str]) -> None:
    keys = {search_key(text) for text in group}
    assert len(keys) == 1, dict(zip(group, map(search_key, group), strict=True))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ヤマダ　タロウ", "ヤマタタロオ"),
        ("トウキョウ", "トオキヨオ"),
        ("サトー", "サトオ"),
        ("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ"),
        (
            "ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポ",
            "カキクケコサシスセソタシステトハヒフヘホハヒフヘホ",
        ),
        ("ヲ", "オ"),
        ("ワタナベ", "ワタナヘ"),
        ("ユウコ", "ユウコ"),
        ("コウウ", "コオオ"),
        ("ゴウ", "コオ"),
        ("ショウ", "シヨオ"),
        ("シンー", "シン"),
        ("ーア", "ア"),
        ("サトーー", "サトオ"),
        ("スー", "スウ"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_search_key_exact_values(text: str, key: str) -> None:
    assert search_key(text) == key


@pytest.mark.parametrize("dash", list(DASHES))
def test_every_dash_reads_as_a_long_vowel(dash: str) -> None:
    assert search_key(f"サト{dash}") == search_key("サトウ") == "サトオ"


@pytest.mark.parametrize(
    ("a", "b"), [("サト", "サトウ"), ("ワタ", "ハタ"), ("シ", "チ"), ("カ", "ケ"), ("トウ", "ト")]
)
def test_different_readings_stay_apart(a: str, b: str) -> None:
    assert search_key(a) != search_key(b)


def test_name_search_keys() -> None:
    assert name_search_keys("ヤマダ", "タロウ") == ("ヤマタ", "タロオ", "ヤマタタロオ")
    assert name_search_keys("やまだ", "たろう") == name_search_keys("ﾔﾏﾀﾞ", "ﾀﾛｰ")


def test_full_key_is_computed_across_the_name_boundary() -> None:
    family, given_, full = name_search_keys("サト", "ウミ")
    assert (family, given_, full) == ("サト", "ウミ", "サトオミ")
    assert full == search_key("サト ウミ") == search_key("サトウミ")


kana_text = st.text(alphabet=KATAKANA + HIRAGANA + SPACES + DASHES, max_size=20)


@PROPERTY
@given(st.text(max_size=30))
def test_idempotent_on_any_text(text: str) -> None:
    key = search_key(text)
    assert search_key(key) == key


@PROPERTY
@given(kana_text)
def test_idempotent_on_kana(text: str) -> None:
    key = search_key(text)
    assert search_key(key) == key


@PROPERTY
@given(kana_text, st.lists(st.tuples(st.integers(0, 40), st.sampled_from(SPACES)), max_size=5))
def test_inserting_spaces_does_not_change_the_key(text: str, inserts: list[tuple[int, str]]) -> None:
    spaced = text
    for position, space in inserts:
        cut = position % (len(spaced) + 1)
        spaced = spaced[:cut] + space + spaced[cut:]
    assert search_key(spaced) == search_key(text)


@PROPERTY
@given(st.text(alphabet=HIRAGANA + SPACES, max_size=20))
def test_hiragana_and_katakana_give_the_same_key(text: str) -> None:
    assert search_key(text) == search_key(jaconv.hira2kata(text))


@PROPERTY
@given(st.text(alphabet=KATAKANA + SPACES, max_size=20))
def test_half_width_and_full_width_give_the_same_key(text: str) -> None:
    assert search_key(jaconv.z2h(text, kana=True)) == search_key(text)


def strip_voicing(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in "\u3099\u309a"))


@PROPERTY
@given(st.text(alphabet=[c for c in KATAKANA if c not in "ヂヅヴヷヸヹヺ"], max_size=20))
def test_voicing_marks_are_ignored(text: str) -> None:
    assert search_key(text) == search_key(strip_voicing(text))


@PROPERTY
@given(kana_text)
def test_key_has_no_folded_characters_left(text: str) -> None:
    key = search_key(text)
    assert not set(key) & set(SPACES + DASHES + HIRAGANA + "ァィゥェォッャュョヮヵヶヲヰヱ")
    assert strip_voicing(key) == key
    assert all(not (a in "オコソトノホモヨロ" and b == "ウ") for a, b in itertools.pairwise(key))
