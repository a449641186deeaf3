"""和暦 (Japanese era calendar): conversion, formatting and parsing.

Japanese residents' dates are held and printed in 和暦 (domain.md §1.2), so every screen
and certificate goes through these functions.  The eras are a parameter, never a
constant inside the logic: the standard requires a table so that the next 元号 is a data
change, not a release (spec j280).  :data:`DEFAULT_ERAS` is only the seed for that table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from jichitai.platform.jp.errors import JpValueError

__all__ = [
    "DEFAULT_ERAS",
    "Era",
    "WarekiDate",
    "check_in_era",
    "era_last_day",
    "find_era",
    "format_wareki",
    "gregorian_year",
    "make_date",
    "normalize_date_text",
    "parse_date",
    "parse_era_year",
    "parse_wareki",
    "to_wareki",
    "wareki_parts",
    "wareki_text",
]


@dataclass(frozen=True)
class Era:
    """One 元号 row.

    ``start`` is the first day of the era.  ``last_day`` is the last day the era's name
    may still be written, when it is not simply the day before the next era starts: Meiji
    ended and Taishō began on 1912-07-30, and Taishō/Shōwa both own 1926-12-25, so
    明治45年7月30日 and 大正15年12月25日 are valid dates (spec j80).
    """

    code: int
    name: str
    abbr: str
    start: date
    last_day: date | None = None


DEFAULT_ERAS: tuple[Era, ...] = (
    Era(1, "明治", "M", date(1868, 1, 25), last_day=date(1912, 7, 30)),
    Era(2, "大正", "T", date(1912, 7, 30), last_day=date(1926, 12, 25)),
    Era(3, "昭和", "S", date(1926, 12, 25)),
    Era(4, "平成", "H", date(1989, 1, 8)),
    Era(5, "令和", "R", date(2019, 5, 1)),
)
"""Seed rows.  明治 starts on 1868-01-25 because the 改元 was made retroactive to
慶応4年1月1日 (some systems use 1868-10-23); dates before 明治6年 were lunisolar and are
mapped here as if Gregorian, which is what registries do in practice."""


@dataclass(frozen=True)
class WarekiDate:
    """A date split into era, era year (1 = 元年), month and day."""

    era: Era
    year: int
    month: int
    day: int


def _ordered(eras: Sequence[Era]) -> list[Era]:
    if not eras:
        raise JpValueError("unknown_era", "元号が登録されていません。")
    return sorted(eras, key=lambda e: e.start)


def _outside_era(era: Era) -> JpValueError:
    return JpValueError("date_outside_era", f"{era.name}の期間外の日付です。")


def era_last_day(era: Era, eras: Sequence[Era]) -> date | None:
    """Last day ``era`` may be written, or None for the current (open-ended) era."""
    if era.last_day is not None:
        return era.last_day
    later = [e.start for e in eras if e.start > era.start]
    return min(later) - timedelta(days=1) if later else None


def check_in_era(era: Era, first: date, last: date, eras: Sequence[Era]) -> None:
    """Refuse a period [first, last] that does not overlap the era at all.

    A single date is the period [d, d]; vague dates (昭和20年頃) pass their year or month.
    """
    end = era_last_day(era, eras)
    if last < era.start or (end is not None and first > end):
        raise _outside_era(era)


def to_wareki(d: date, eras: Sequence[Era]) -> WarekiDate:
    """Convert a date to 和暦, choosing the newest era that has started on ``d``.

    On a transition day that both eras own (1912-07-30) the new era wins, as printing does.
    """
    started = [e for e in _ordered(eras) if e.start <= d]
    if not started:
        raise JpValueError("date_outside_era", "元号の範囲より前の日付は和暦にできません。")
    era = started[-1]
    return WarekiDate(era, d.year - era.start.year + 1, d.month, d.day)


def wareki_text(era: Era, year: int, month: int | None = None, day: int | None = None) -> str:
    """Render era, year and optional month/day as printed: 元年 for year 1, no padding."""
    text = f"{era.name}{'元' if year == 1 else year}年"
    if month is not None:
        text += f"{month}月"
        if day is not None:
            text += f"{day}日"
    return text


def format_wareki(d: date, eras: Sequence[Era]) -> str:
    """Print a date the way certificates do, e.g. ``令和5年4月1日`` or ``令和元年5月1日``."""
    w = to_wareki(d, eras)
    return wareki_text(w.era, w.year, w.month, w.day)


def normalize_date_text(text: str) -> str:
    """Fold full-width digits/letters/punctuation (NFKC) and drop all whitespace.

    Counter staff type dates with IME full-width digits and stray spaces
    ("昭和 ６０年"); none of that carries meaning.
    """
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not ch.isspace())


def find_era(token: str, eras: Sequence[Era]) -> Era:
    """Find an era by its name (昭和) or its one-letter abbreviation (S, case-insensitive)."""
    for era in eras:
        if token == era.name or token.upper() == era.abbr.upper():
            return era
    raise JpValueError("unknown_era", f"元号「{token}」は登録されていません。")


_WAREKI = re.compile(
    r"(?P<era>\D+?)(?P<year>\d{1,3}|元)"
    r"(?:年(?P<m>\d{1,2})月(?P<d>\d{1,2})日|(?P<sep>[./-])(?P<m2>\d{1,2})(?P=sep)(?P<d2>\d{1,2}))",
    re.ASCII,
)


def _invalid_format() -> JpValueError:
    return JpValueError("invalid_format", "日付の形式が正しくありません。")


def parse_era_year(year_text: str) -> int:
    """Era year number from its text; 元 is year 1, year 0 does not exist."""
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise JpValueError("impossible_date", "元号の年は1年（元年）からです。")
    return year


def wareki_parts(text: str, eras: Sequence[Era]) -> WarekiDate:
    """Split a 和暦 date into its parts without checking the calendar or the era range.

    Accepted shapes (after :func:`normalize_date_text`): ``昭和60年1月2日``, ``平成元年1月8日``,
    ``S60.1.2``, ``H1-1-8``, ``R5/4/1``.  Kept separate from :func:`parse_wareki` so that
    irregular registered dates (29 February of a common year) can still be read.
    """
    match = _WAREKI.fullmatch(normalize_date_text(text))
    if match is None:
        raise _invalid_format()
    era = find_era(match["era"], eras)
    month = int(match["m"] or match["m2"])
    day = int(match["d"] or match["d2"])
    return WarekiDate(era, parse_era_year(match["year"]), month, day)


def gregorian_year(era: Era, year: int) -> int:
    """Western year of an era year (昭和60 → 1985)."""
    return era.start.year + year - 1


def make_date(year: int, month: int, day: int) -> date:
    """``date(...)`` that reports an impossible calendar date (2月30日) as a JpValueError."""
    try:
        return date(year, month, day)
    except ValueError:
        raise JpValueError("impossible_date", "存在しない日付です。") from None


def parse_wareki(text: str, eras: Sequence[Era]) -> date:
    """Parse a 和暦 date and check it lies within its era.

    The era's own range is enforced (平成31年5月1日 and 昭和64年1月8日 are refused) except
    on the shared transition days (see :class:`Era`), which are valid in both eras.
    """
    parts = wareki_parts(text, eras)
    d = make_date(gregorian_year(parts.era, parts.year), parts.month, parts.day)
    check_in_era(parts.era, d, d, eras)
    return d


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def parse_date(text: str, eras: Sequence[Era]) -> date:
    """Parse an ISO ``YYYY-MM-DD`` date or any 和暦 form :func:`parse_wareki` accepts."""
    match = _ISO.fullmatch(normalize_date_text(text))
    if match is not None:
        return make_date(int(match[1]), int(match[2]), int(match[3]))
    return parse_wareki(text, eras)
