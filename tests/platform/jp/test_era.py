"""和暦: documented transition rules, accepted spellings and a format/parse round trip."""

from __future__ import annotations

from datetime import date

import jaconv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.platform.jp import (
    DEFAULT_ERAS,
    Era,
    JpValueError,
    WarekiDate,
    format_wareki,
    parse_date,
    parse_wareki,
    to_wareki,
)

PROPERTY = settings(database=None, deadline=None)
MEIJI, TAISHO, SHOWA, HEISEI, REIWA = DEFAULT_ERAS


def test_default_eras_are_the_documented_rows() -> None:
    assert [(e.code, e.name, e.abbr, e.start) for e in DEFAULT_ERAS] == [
        (1, "明治", "M", date(1868, 1, 25)),
        (2, "大正", "T", date(1912, 7, 30)),
        (3, "昭和", "S", date(1926, 12, 25)),
        (4, "平成", "H", date(1989, 1, 8)),
        (5, "令和", "R", date(2019, 5, 1)),
    ]


@pytest.mark.parametrize(
    ("d", "text"),
    [
        (date(2023, 4, 1), "令和5年4月1日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1868, 1, 25), "明治元年1月25日"),
        (date(1985, 1, 2), "昭和60年1月2日"),
    ],
)
def test_format_wareki(d: date, text: str) -> None:
    assert format_wareki(d, DEFAULT_ERAS) == text


def test_to_wareki_parts() -> None:
    assert to_wareki(date(2023, 4, 1), DEFAULT_ERAS) == WarekiDate(REIWA, 5, 4, 1)
    assert to_wareki(date(2019, 5, 1), DEFAULT_ERAS) == WarekiDate(REIWA, 1, 5, 1)


def test_to_wareki_refuses_dates_before_the_first_era() -> None:
    with pytest.raises(JpValueError) as exc:
        to_wareki(date(1868, 1, 24), DEFAULT_ERAS)
    assert exc.value.code == "date_outside_era"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昭和60年1月2日", date(1985, 1, 2)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("昭和６０年１月２日", date(1985, 1, 2)),
        ("Ｓ６０．１．２", date(1985, 1, 2)),
        ("S60.1.2", date(1985, 1, 2)),
        ("s60.1.2", date(1985, 1, 2)),
        ("H1.1.8", date(1989, 1, 8)),
        ("H01.01.08", date(1989, 1, 8)),
        ("R5/4/1", date(2023, 4, 1)),
        ("R5-4-1", date(2023, 4, 1)),
        ("令和 5年 4月 1日", date(2023, 4, 1)),
        ("令和　5年4月1日", date(2023, 4, 1)),
        (" 昭 和 60 年 1 月 2 日 ", date(1985, 1, 2)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("明治元年1月25日", date(1868, 1, 25)),
    ],
)
def test_parse_wareki_accepted_forms(text: str, expected: date) -> None:
    assert parse_wareki(text, DEFAULT_ERAS) == expected
    assert parse_date(text, DEFAULT_ERAS) == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("明治45年7月30日", "大正元年7月30日", date(1912, 7, 30)),
        ("大正15年12月25日", "昭和元年12月25日", date(1926, 12, 25)),
    ],
)
def test_shared_transition_days_are_valid_in_both_eras(old: str, new: str, expected: date) -> None:
    assert parse_wareki(old, DEFAULT_ERAS) == expected
    assert parse_wareki(new, DEFAULT_ERAS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "平成31年5月1日",
        "昭和64年1月8日",
        "明治45年7月31日",
        "大正15年12月26日",
        "大正元年7月29日",
        "令和元年4月30日",
        "明治元年1月24日",
        "平成32年1月1日",
    ],
)
def test_dates_outside_their_era_are_refused(text: str) -> None:
    with pytest.raises(JpValueError) as exc:
        parse_wareki(text, DEFAULT_ERAS)
    assert exc.value.code == "date_outside_era"


@pytest.mark.parametrize(
    "text", ["平成2年2月30日", "平成2年2月29日", "令和5年13月1日", "令和5年4月31日", "平成0年1月1日"]
)
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(JpValueError) as exc:
        parse_wareki(text, DEFAULT_ERAS)
    assert exc.value.code == "impossible_date"


@pytest.mark.parametrize("text", ["慶応3年1月1日", "X5.1.1", "天平1年1月1日"])
def test_unknown_era(text: str) -> None:
    with pytest.raises(JpValueError) as exc:
        parse_wareki(text, DEFAULT_ERAS)
    assert exc.value.code == "unknown_era"


@pytest.mark.parametrize(
    "text", ["", "昭和", "昭和60年", "昭和60年1月", "2023/04/01", "R5.4/1", "昭和60年1月2日生", "hello"]
)
def test_unparseable_text(text: str) -> None:
    with pytest.raises(JpValueError) as exc:
        parse_date(text, DEFAULT_ERAS)
    assert exc.value.code == "invalid_format"


def test_parse_date_iso() -> None:
    assert parse_date("2023-04-01", DEFAULT_ERAS) == date(2023, 4, 1)
    assert parse_date("２０２３－０４－０１", DEFAULT_ERAS) == date(2023, 4, 1)
    assert parse_date("1850-01-01", DEFAULT_ERAS) == date(1850, 1, 1)


def test_parse_date_iso_impossible_and_malformed() -> None:
    with pytest.raises(JpValueError) as exc:
        parse_date("2023-02-30", DEFAULT_ERAS)
    assert exc.value.code == "impossible_date"
    with pytest.raises(JpValueError) as exc:
        parse_date("2023-4-1", DEFAULT_ERAS)
    assert exc.value.code == "invalid_format"


def test_a_new_era_is_data_not_code() -> None:
    eras = (*DEFAULT_ERAS, Era(6, "試験", "X", date(2030, 1, 1)))
    assert format_wareki(date(2030, 1, 1), eras) == "試験元年1月1日"
    assert parse_wareki("X2.3.4", eras) == date(2031, 3, 4)
    assert parse_wareki("令和11年12月31日", eras) == date(2029, 12, 31)
    with pytest.raises(JpValueError):
        parse_wareki("令和12年1月1日", eras)
    # Without the new row the same date is still 令和.
    assert format_wareki(date(2030, 1, 1), DEFAULT_ERAS) == "令和12年1月1日"


def test_era_order_in_the_table_does_not_matter() -> None:
    shuffled = tuple(reversed(DEFAULT_ERAS))
    assert format_wareki(date(1989, 1, 8), shuffled) == "平成元年1月8日"
    assert parse_wareki("昭和64年1月7日", shuffled) == date(1989, 1, 7)
    with pytest.raises(JpValueError):
        parse_wareki("昭和64年1月8日", shuffled)


def test_empty_era_table() -> None:
    with pytest.raises(JpValueError) as exc:
        to_wareki(date(2000, 1, 1), ())
    assert exc.value.code == "unknown_era"


dates_in_range = st.dates(min_value=date(1868, 1, 25), max_value=date(2100, 12, 31))


@PROPERTY
@given(dates_in_range)
def test_format_then_parse_round_trips(d: date) -> None:
    text = format_wareki(d, DEFAULT_ERAS)
    assert parse_wareki(text, DEFAULT_ERAS) == d
    assert parse_date(text, DEFAULT_ERAS) == d
    assert parse_wareki(jaconv.h2z(text, digit=True), DEFAULT_ERAS) == d


@PROPERTY
@given(dates_in_range)
def test_abbreviated_form_round_trips(d: date) -> None:
    w = to_wareki(d, DEFAULT_ERAS)
    assert parse_wareki(f"{w.era.abbr}{w.year}.{w.month}.{w.day}", DEFAULT_ERAS) == d
    assert w.year >= 1
    assert w.era.start <= d


@PROPERTY
@given(dates_in_range)
def test_iso_round_trips(d: date) -> None:
    assert parse_date(d.isoformat(), DEFAULT_ERAS) == d
