"""Registered dates that may be irregular, as the 戸籍 records them.

A 住民票 must reproduce the 戸籍 exactly, and the 戸籍 contains dates no calendar has:
29 February of a common year, and vague dates such as 昭和20年頃, 昭和20年3月上旬,
年月日不詳, 推定昭和20年, 昭和20年1月から同年3月までの間 (spec j80).  Inventing a
"みなし生年月日" is forbidden, so such a date is kept as the printed text plus a separate
sortable date used only for ordering and age arithmetic.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from jichitai.platform.jp.era import (
    Era,
    check_in_era,
    format_wareki,
    gregorian_year,
    make_date,
    normalize_date_text,
    parse_date,
    parse_era_year,
    to_wareki,
    wareki_parts,
    wareki_text,
)
from jichitai.platform.jp.errors import JpValueError

__all__ = ["RegisteredDate", "display", "parse_registered_date"]


@dataclass(frozen=True)
class RegisteredDate:
    """A registered date: sortable ``value`` plus, when irregular, the printed ``text``.

    ``value`` is never shown for an irregular date; ``text`` is exactly what the 戸籍
    prints (stripped of surrounding blanks) so that certificates copy it faithfully.
    """

    value: date
    text: str | None
    irregular: bool

    def __post_init__(self) -> None:
        if self.irregular != (self.text is not None):
            raise ValueError("an irregular date needs its display text, a regular one must not have it")


_QUALIFIERS = (
    "年月日不詳",
    "月日不詳",
    "日不詳",
    "不詳",
    "推定",
    "頃",
    "ころ",
    "ごろ",
    "上旬",
    "中旬",
    "下旬",
    "初旬",
    "末",
    "から",
    "まで",
    "の間",
    "以前",
    "以降",
    "以後",
)
"""Words that may surround the date fragments of a vague 戸籍 date."""


@dataclass(frozen=True)
class _Fragment:
    """One date inside a vague text; ``era`` is None for a Western year (1980年頃),
    which foreign residents' records use."""

    era: Era | None
    year: int
    month: int | None
    day: int | None


def _fragment_pattern(eras: Sequence[Era]) -> re.Pattern[str]:
    if not eras:
        raise JpValueError("unknown_era", "元号が登録されていません。")
    names = "|".join(re.escape(e.name) for e in sorted(eras, key=lambda e: -len(e.name)))
    number = r"(?:\d{1,3}|元)"
    return re.compile(
        rf"(?:(?P<era>{names})(?P<year>{number})|(?P<western_year>\d{{4}}))年"
        r"(?:(?P<month>\d{1,2})月(?:(?P<day>\d{1,2})日)?)?"
        r"|同年(?P<same_year_month>\d{1,2})月(?:(?P<same_year_day>\d{1,2})日)?"
        r"|同月(?P<same_month_day>\d{1,2})日"
        rf"|(?P<word>{'|'.join(map(re.escape, _QUALIFIERS))})",
        re.ASCII,
    )


def _scan(normalized: str, eras: Sequence[Era]) -> list[_Fragment]:
    """Split a vague date into its date fragments, refusing any unknown word."""
    fragments: list[_Fragment] = []
    pos = 0
    pattern = _fragment_pattern(eras)
    while pos < len(normalized):
        m = pattern.match(normalized, pos)
        if m is None:
            raise JpValueError("invalid_format", "日付の形式が正しくありません。")
        pos = m.end()
        if m["word"] is not None:
            continue
        if m["era"] is not None or m["western_year"] is not None:
            era = next((e for e in eras if e.name == m["era"]), None)
            month, day = m["month"], m["day"]
            frag = _Fragment(
                era=era,
                year=parse_era_year(m["year"]) if era is not None else int(m["western_year"]),
                month=int(month) if month else None,
                day=int(day) if day else None,
            )
        elif not fragments:  # 同年 / 同月 need something to refer back to
            raise JpValueError("invalid_format", "「同年」「同月」の前に日付がありません。")
        elif m["same_month_day"] is not None:
            prev = fragments[-1]
            frag = _Fragment(prev.era, prev.year, prev.month, int(m["same_month_day"]))
        else:
            day = m["same_year_day"]
            prev = fragments[-1]
            frag = _Fragment(prev.era, prev.year, int(m["same_year_month"]), int(day) if day else None)
        fragments.append(frag)
    return fragments


def _first_day(frag: _Fragment, eras: Sequence[Era]) -> date:
    """Earliest day a fragment can mean, checked against the calendar and its era.

    Year-only and year-month fragments start on day 1 of that period, but never before the
    era itself (昭和元年頃 cannot be earlier than 1926-12-25).
    """
    year = frag.year if frag.era is None else gregorian_year(frag.era, frag.year)
    if not 1 <= year <= 9999:
        raise JpValueError("impossible_date", "存在しない日付です。")
    if frag.month is None:
        first, last = date(year, 1, 1), date(year, 12, 31)
    elif frag.day is None:
        first = make_date(year, frag.month, 1)
        last = first.replace(day=calendar.monthrange(year, frag.month)[1])
    else:
        day = 28 if (frag.month, frag.day) == (2, 29) and not calendar.isleap(year) else frag.day
        first = last = make_date(year, frag.month, day)
    if frag.era is None:
        return first
    check_in_era(frag.era, first, last, eras)
    return max(first, frag.era.start)


def _feb29_of_common_year(text: str, eras: Sequence[Era]) -> RegisteredDate | None:
    """Recognise 29 February of a common year (ISO or 和暦); None for other bad dates."""
    normalized = normalize_date_text(text)
    iso = re.fullmatch(r"(\d{4})-02-29", normalized, re.ASCII)
    if iso is not None:
        year = int(iso[1])
        if calendar.isleap(year):
            return None
        value = date(year, 2, 28)
        w = to_wareki(value, eras)
        return RegisteredDate(value, wareki_text(w.era, w.year, 2, 29), True)
    try:
        parts = wareki_parts(text, eras)
    except JpValueError:
        return None
    year = gregorian_year(parts.era, parts.year)
    if (parts.month, parts.day) != (2, 29) or calendar.isleap(year):
        return None
    value = date(year, 2, 28)
    check_in_era(parts.era, value, value + timedelta(days=1), eras)
    return RegisteredDate(value, wareki_text(parts.era, parts.year, 2, 29), True)


def parse_registered_date(text: str, eras: Sequence[Era], *, sort_date: date | None = None) -> RegisteredDate:
    """Read a date as registered, keeping irregular ones verbatim.

    * A normal ISO or 和暦 date gives a regular date (``sort_date`` is ignored).
    * 29 February of a common year sorts as 28 February; its text is the canonical 和暦
      form (平成2年2月29日) even when typed in ISO, since certificates print 和暦.
    * A vague date keeps its text verbatim; it sorts on ``sort_date`` when given, else on
      the first day of its earliest year or month.  年月日不詳 has nothing to derive a
      date from, so it needs ``sort_date``.
    """
    raw = text.strip()
    try:
        return RegisteredDate(parse_date(raw, eras), None, False)
    except JpValueError as err:
        if err.code == "impossible_date":
            leap = _feb29_of_common_year(raw, eras)
            if leap is None:
                raise
            return leap if sort_date is None else RegisteredDate(sort_date, leap.text, True)
        if err.code != "invalid_format":
            raise
    normalized = normalize_date_text(raw)
    if not normalized:
        raise JpValueError("invalid_format", "日付が入力されていません。")
    fragments = _scan(normalized, eras)
    firsts = [_first_day(f, eras) for f in fragments]
    if sort_date is not None:
        return RegisteredDate(sort_date, raw, True)
    if firsts:
        return RegisteredDate(min(firsts), raw, True)
    if "不詳" in normalized:
        raise JpValueError("sort_date_required", "日付が不詳のため、並び替え用の日付を指定してください。")
    raise JpValueError("invalid_format", "日付の形式が正しくありません。")


def display(rd: RegisteredDate, eras: Sequence[Era]) -> str:
    """Text to print: the registered text when irregular, else the 和暦 date."""
    if rd.text is not None:
        return rd.text
    return format_wareki(rd.value, eras)
