"""Irregular registered dates: 29 February of common years and 不詳 forms from the 戸籍."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.platform.jp import (
    DEFAULT_ERAS,
    JpValueError,
    RegisteredDate,
    display,
    format_wareki,
    parse_registered_date,
)

PROPERTY = settings(database=None, deadline=None)


@pytest.mark.parametrize(
    ("text", "expected"), [("2023-04-01", date(2023, 4, 1)), ("令和5年4月1日", date(2023, 4, 1))]
)
def test_regular_dates(text: str, expected: date) -> None:
    rd = parse_registered_date(text, DEFAULT_ERAS)
    assert rd == RegisteredDate(expected, None, False)
    assert display(rd, DEFAULT_ERAS) == "令和5年4月1日"


def test_sort_date_is_ignored_for_regular_dates() -> None:
    rd = parse_registered_date("令和5年4月1日", DEFAULT_ERAS, sort_date=date(2000, 1, 1))
    assert rd == RegisteredDate(date(2023, 4, 1), None, False)


@pytest.mark.parametrize("text", ["1990-02-29", "平成2年2月29日", "H2.2.29", "平成２年２月２９日"])
def test_february_29_of_a_common_year(text: str) -> None:
    rd = parse_registered_date(text, DEFAULT_ERAS)
    assert rd == RegisteredDate(date(1990, 2, 28), "平成2年2月29日", True)
    assert display(rd, DEFAULT_ERAS) == "平成2年2月29日"


def test_february_29_of_a_common_year_with_sort_date() -> None:
    rd = parse_registered_date("1990-02-29", DEFAULT_ERAS, sort_date=date(1990, 3, 1))
    assert rd == RegisteredDate(date(1990, 3, 1), "平成2年2月29日", True)


def test_february_29_of_a_leap_year_is_regular() -> None:
    assert parse_registered_date("2000-02-29", DEFAULT_ERAS) == RegisteredDate(date(2000, 2, 29), None, False)
    assert parse_registered_date("平成12年2月29日", DEFAULT_ERAS).irregular is False


def test_february_29_outside_its_era_is_refused() -> None:
    with pytest.raises(JpValueError) as exc:
        parse_registered_date("昭和64年2月29日", DEFAULT_ERAS)
    assert exc.value.code == "date_outside_era"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("昭和20年頃", date(1945, 1, 1)),
        ("昭和20年3月上旬", date(1945, 3, 1)),
        ("昭和20年3月下旬", date(1945, 3, 1)),
        ("昭和20年3月", date(1945, 3, 1)),
        ("昭和20年", date(1945, 1, 1)),
        ("推定昭和20年", date(1945, 1, 1)),
        ("昭和20年1月から同年3月までの間", date(1945, 1, 1)),
        ("昭和20年3月から昭和19年5月までの間", date(1944, 5, 1)),
        ("昭和20年1月10日から同月20日までの間", date(1945, 1, 10)),
        ("昭和20年月日不詳", date(1945, 1, 1)),
        ("昭和20年3月日不詳", date(1945, 3, 1)),
        ("昭和20年3月1日頃", date(1945, 3, 1)),
        ("昭和２０年頃", date(1945, 1, 1)),
        ("昭和 20年 頃", date(1945, 1, 1)),
        ("昭和元年頃", date(1926, 12, 25)),
        ("平成元年", date(1989, 1, 8)),
        ("平成31年4月下旬", date(2019, 4, 1)),
        ("令和元年5月頃", date(2019, 5, 1)),
        ("1980年頃", date(1980, 1, 1)),
        ("1980年3月日不詳", date(1980, 3, 1)),
        ("1980年3月から同年5月までの間", date(1980, 3, 1)),
    ],
)
def test_vague_dates_keep_their_text(text: str, value: date) -> None:
    rd = parse_registered_date(text, DEFAULT_ERAS)
    assert rd == RegisteredDate(value, text, True)
    assert display(rd, DEFAULT_ERAS) == text


def test_text_is_stripped_of_surrounding_blanks_only() -> None:
    rd = parse_registered_date("  昭和20年 頃\u3000", DEFAULT_ERAS)
    assert rd.text == "昭和20年 頃"


def test_sort_date_overrides_the_derived_date() -> None:
    rd = parse_registered_date("昭和20年頃", DEFAULT_ERAS, sort_date=date(1945, 6, 30))
    assert rd == RegisteredDate(date(1945, 6, 30), "昭和20年頃", True)


def test_fully_unknown_date_needs_a_sort_date() -> None:
    with pytest.raises(JpValueError) as exc:
        parse_registered_date("年月日不詳", DEFAULT_ERAS)
    assert exc.value.code == "sort_date_required"
    rd = parse_registered_date("年月日不詳", DEFAULT_ERAS, sort_date=date(1900, 1, 1))
    assert rd == RegisteredDate(date(1900, 1, 1), "年月日不詳", True)
    assert display(rd, DEFAULT_ERAS) == "年月日不詳"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "invalid_format"),
        ("   ", "invalid_format"),
        ("頃", "invalid_format"),
        ("hello", "invalid_format"),
        ("昭和20年ごろかな", "invalid_format"),
        ("同年3月", "invalid_format"),
        ("1945年3月ごろまで不明", "invalid_format"),
        ("0000年頃", "impossible_date"),
        ("平成2年2月30日", "impossible_date"),
        ("2023-02-30", "impossible_date"),
        ("昭和20年2月30日頃", "impossible_date"),
        ("昭和20年13月", "impossible_date"),
        ("慶応3年1月1日", "unknown_era"),
        ("平成31年5月1日", "date_outside_era"),
        ("平成31年5月", "date_outside_era"),
        ("昭和70年頃", "date_outside_era"),
    ],
)
def test_refused_texts(text: str, code: str) -> None:
    with pytest.raises(JpValueError) as exc:
        parse_registered_date(text, DEFAULT_ERAS, sort_date=None)
    assert exc.value.code == code


def test_registered_date_invariant() -> None:
    with pytest.raises(ValueError, match="irregular"):
        RegisteredDate(date(2000, 1, 1), None, True)
    with pytest.raises(ValueError, match="irregular"):
        RegisteredDate(date(2000, 1, 1), "令和", False)


dates_in_range = st.dates(min_value=date(1868, 1, 25), max_value=date(2100, 12, 31))


@PROPERTY
@given(dates_in_range)
def test_every_wareki_date_is_regular(d: date) -> None:
    text = format_wareki(d, DEFAULT_ERAS)
    rd = parse_registered_date(text, DEFAULT_ERAS)
    assert rd == RegisteredDate(d, None, False)
    assert display(rd, DEFAULT_ERAS) == text


@PROPERTY
@given(dates_in_range, st.sampled_from(["頃", "上旬", "中旬", "下旬", ""]))
def test_vague_month_sorts_on_the_first_of_the_month_or_era(d: date, suffix: str) -> None:
    w_text = format_wareki(d, DEFAULT_ERAS)
    month_text = w_text[: w_text.index("月") + 1] + suffix
    rd = parse_registered_date(month_text, DEFAULT_ERAS)
    assert rd.irregular
    assert rd.text == month_text
    assert rd.value <= d
    assert rd.value == max(d.replace(day=1), *(e.start for e in DEFAULT_ERAS if e.start <= d))
