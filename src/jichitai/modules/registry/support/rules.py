"""The law of DV等支援措置 (domain.md §3.3) as pure functions: dates and facts in, decisions or refusals out.

Periods follow 民法 138-143条 as the 住民基本台帳事務処理要領 applies them: a term of one year that starts on
day *S* (the first day counted) ends on the day before *S*'s 応当日 one year later, and at the end of that
month when the 応当日 does not exist. So a measure starting 2024-02-29 ends 2025-02-28, one starting
2024-03-01 ends 2025-02-28, one starting 2023-03-01 ends 2024-02-29.

Extension (延長) is not automatic and is accepted from the *extension window*: the last month of the period,
from the day one month before the day after the end. Inside it the next period starts the day after the end,
so protection is seamless. After the end has passed (lapse, 期間満了) the same measure may still be renewed,
but the new period starts on the day of the renewal: the days in between were not protected, and the record
says so rather than back-dating a block that did not exist. A 仮支援措置 cannot be extended; it is confirmed.

While a measure is in force, a certificate or 閲覧 request about the protected person is:

- allowed for the protected person themself (and for a person protected by a measure of the same
  application, a co-resident added to the victim's measure, or the victim of a co-resident's measure);
- refused for the 相手方 named in the measure, always: no officer can lift it (the 相手方's requests are
  refused outright under the 事務処理要領);
- refused for anyone else unless a user holding ``registry:support:override`` lifts it with a reason, after
  the strict review the 事務処理要領 asks for.

A certificate of someone else also discloses the protected person's address when they live together (the
same 世帯, or the same 住所 in another 世帯): such a *co-resident's* certificate is refused to the 相手方 in
the same way, and is not otherwise restricted (:func:`judge_nearby`).

The 相手方 is recognised by 宛名番号, or by name: the requester's name against the 氏名 and フリガナ the
measure records and, when the measure names the 相手方 by 宛名番号, every name the register holds for that
person. Names are compared by :func:`name_key`, which forgives how a name is typed at the counter.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jichitai.modules.registry.permissions import Permission
from jichitai.platform.errors import Conflict, Forbidden, InvalidInput
from jichitai.platform.jp import search_key

OVERRIDE_PERMISSION = Permission.SUPPORT_OVERRIDE
"""The permission that may lift the 交付制限 of a measure (not the 相手方's)."""

ONE_DAY = dt.timedelta(days=1)


# --- dates -----------------------------------------------------------------------------------------------


def _clamped(year: int, month: int, day: int) -> dt.date:
    """The date, or the last day of the month when the month is shorter (民法143条2項ただし書)."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def add_months(day: dt.date, months: int) -> dt.date:
    """The 応当日 ``months`` months later (or earlier), clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    return _clamped(index // 12, index % 12 + 1, day.day)


def default_end(starts_on: dt.date) -> dt.date:
    """The last day of a one-year term whose first day is ``starts_on`` (民法143条)."""
    if starts_on.month == 2 and starts_on.day == 29:
        # No 29 February next year: the term ends at the end of that February.
        return dt.date(starts_on.year + 1, 2, 28)
    return dt.date(starts_on.year + 1, starts_on.month, starts_on.day) - ONE_DAY


def window_opens(ends_on: dt.date) -> dt.date:
    """First day of the extension/alert window: one month before the day after the end."""
    return add_months(ends_on + ONE_DAY, -1)


def lapse_alert_until(ends_on: dt.date) -> dt.date:
    """Last day a lapsed measure is still shown among the alerts (one month after the lapse)."""
    return add_months(ends_on, 1)


def check_period(starts_on: dt.date, ends_on: dt.date, field: str = "ends_on") -> None:
    """A period ends on or after its first day and lasts at most the statutory year."""
    if ends_on < starts_on:
        raise InvalidInput("invalid_support_period", "終了日が開始日より前になっています。", field)
    if ends_on > default_end(starts_on):
        raise InvalidInput(
            "invalid_support_period", "支援措置の期間は1年 (開始日から1年後の前日) までです。", field
        )


EARLIEST = dt.date(2004, 1, 1)
"""No measure predates the 支援措置 of the 事務処理要領 (July 2004); earlier dates are typing errors."""


def check_date(value: dt.date, today: dt.date, field: str) -> None:
    """Measures are recorded as they happen or after: never ahead of today, never before 2004."""
    if value > today:
        raise InvalidInput("future_date", "未来の日付は指定できません。", field)
    if value < EARLIEST:
        raise InvalidInput("invalid_support_period", "2004年より前の日付は指定できません。", field)


# --- state on a day --------------------------------------------------------------------------------------


class MeasureState(enum.StrEnum):
    """What a measure is on a given day."""

    NOT_STARTED = "not_started"
    PROVISIONAL = "provisional"
    ACTIVE = "active"
    EXPIRING = "expiring"
    """In force, inside the last month: the extension window is open and an alert is due."""
    LAPSED = "lapsed"
    """Its period ended without extension; not in force."""
    ENDED = "ended"


STATE_LABELS = {
    MeasureState.NOT_STARTED: "開始前",
    MeasureState.PROVISIONAL: "仮支援措置",
    MeasureState.ACTIVE: "支援措置中",
    MeasureState.EXPIRING: "期間満了間近",
    MeasureState.LAPSED: "期間満了",
    MeasureState.ENDED: "終了",
}

IN_FORCE = frozenset({MeasureState.PROVISIONAL, MeasureState.ACTIVE, MeasureState.EXPIRING})


@dataclass(frozen=True)
class Period:
    """The dates of a measure as the rules need them."""

    provisional: bool
    starts_on: dt.date
    ends_on: dt.date
    ended_on: dt.date | None = None


def state_on(period: Period, on: dt.date) -> MeasureState:
    """The state of a measure on day ``on``."""
    if period.ended_on is not None and on >= period.ended_on:
        return MeasureState.ENDED
    if on < period.starts_on:
        return MeasureState.NOT_STARTED
    if on > period.ends_on:
        return MeasureState.LAPSED
    if period.provisional:
        return MeasureState.PROVISIONAL
    if on >= window_opens(period.ends_on):
        return MeasureState.EXPIRING
    return MeasureState.ACTIVE


def in_force(period: Period, on: dt.date) -> bool:
    """Whether the block applies on ``on``."""
    return state_on(period, on) in IN_FORCE


def alert_due(period: Period, on: dt.date) -> bool:
    """Alert from one month before the end until one month after a lapse (仮支援措置 included)."""
    if period.ended_on is not None and on >= period.ended_on:
        return False
    return window_opens(period.ends_on) <= on <= lapse_alert_until(period.ends_on)


@dataclass(frozen=True)
class Extension:
    """A measure's dates after an extension."""

    starts_on: dt.date
    """First day of the uninterrupted protection (unchanged unless the measure had lapsed)."""
    period_starts_on: dt.date
    ends_on: dt.date
    after_lapse: bool


def extension(period: Period, on: dt.date) -> Extension:
    """Extend on day ``on``: the next year from the day after the end while the window is open, a new year
    from ``on`` after a lapse; refused too early, for a 仮支援措置 and for an ended measure."""
    state = state_on(period, on)
    if state is MeasureState.ENDED:
        raise Conflict("support_measure_ended", "この支援措置は終了しています。")
    if period.provisional:
        raise Conflict(
            "support_measure_provisional", "仮支援措置は延長できません。先に確認 (本措置) を行ってください。"
        )
    if state is MeasureState.LAPSED:
        return Extension(on, on, default_end(on), after_lapse=True)
    opens = window_opens(period.ends_on)
    if on < opens:
        raise Conflict(
            "extension_too_early", f"延長は期間終了の1か月前 ({opens.isoformat()}) から受け付けます。"
        )
    following = period.ends_on + ONE_DAY
    return Extension(period.starts_on, following, default_end(following), after_lapse=False)


# --- who may obtain the record of a protected person -----------------------------------------------------


_IGNORABLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0xE0000, 0xE0FFF),  # tags and the ideographic variation selectors (IVS) of 異体字
)
"""Invisible code points that are not of category Cf (Unicode's Default_Ignorable_Code_Point, less Cf)."""

_NAME_SEPARATORS = frozenset("・·")
"""中黒 between the parts of a name written in katakana (ジョン・スミス), like a space."""


def _shown(ch: str) -> bool:
    """False for what a reader cannot see or that only separates the parts of a name."""
    if unicodedata.category(ch) == "Cf" or ch in _NAME_SEPARATORS:
        return False
    code = ord(ch)
    return not any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def name_key(name: str) -> str:
    """A name as compared with the 相手方's: what may differ between two ways of typing it is folded away.

    NFKC (width and compatibility forms), the invisible characters removed (format characters such as
    U+200B zero-width space and U+00AD soft hyphen, variation selectors), then the key of the kana search
    (:func:`jichitai.platform.jp.search_key`: hiragana→katakana, spaces removed, 濁点・小書き・長音 folded),
    then case-folded. The key is loose on purpose: a namesake is refused rather than a 相手方 served.
    """
    folded = unicodedata.normalize("NFKC", name)
    shown = "".join(ch for ch in folded if _shown(ch))
    return search_key(shown).casefold()


@dataclass(frozen=True)
class Counterparty:
    """The 相手方 named in a measure."""

    name: str
    kana: str | None = None
    atena_no: str | None = None
    birth_date: dt.date | None = None
    aliases: tuple[str, ...] = ()
    """Names the register holds for the 相手方 when the measure gives their 宛名番号 (former names,
    フリガナ, 通称 and the alphabet name included): a name change does not hide them."""


@dataclass(frozen=True)
class Protection:
    """A measure in force for one subject of a request; ``group`` holds the measure numbers of the same
    application (the victim's measure and those of co-residents added to it)."""

    measure_no: int
    atena_no: str
    counterparty: Counterparty
    group: frozenset[int]


@dataclass(frozen=True)
class Requester:
    """Who asks for the certificate, as identified at the counter."""

    name: str
    atena_no: str | None = None
    birth_date: dt.date | None = None
    verified: bool = False
    """The 宛名番号 was checked as the requester's own (本人・同一世帯の請求); only then does it count as
    "the protected person asks". Unverified numbers still serve to recognise the 相手方."""


def is_counterparty(requester: Requester, counterparty: Counterparty) -> bool:
    """The requester is the 相手方: same 宛名番号, or the same name (氏名, フリガナ or a name the register
    holds for them, compared by :func:`name_key`) unless the birth dates known on both sides differ.
    A namesake is refused rather than a 相手方 served: the clerk can check."""
    if requester.atena_no is not None and requester.atena_no == counterparty.atena_no:
        return True
    recorded = (counterparty.name, counterparty.kana, *counterparty.aliases)
    names = {name_key(n) for n in recorded if n} - {""}
    if name_key(requester.name) not in names:
        return False
    known = requester.birth_date is not None and counterparty.birth_date is not None
    return not known or requester.birth_date == counterparty.birth_date


class Outcome(enum.StrEnum):
    """What a request about one subject comes to."""

    OK = "ok"
    """No measure in force, or the protected person (or their group) asks."""
    OVERRIDE = "override"
    """Blocked, and lifted by the responsible officer with a reason."""
    DENIED = "denied"


@dataclass(frozen=True)
class Verdict:
    """The decision about one subject of a request."""

    atena_no: str
    outcome: Outcome
    code: str | None = None
    measure_nos: tuple[int, ...] = ()


BLOCK_CODE = "support_measure_block"
COUNTERPARTY_CODE = "counterparty_request"


def judge(
    atena_no: str,
    protections: Sequence[Protection],
    requester: Requester,
    requester_groups: Iterable[frozenset[int]],
    *,
    may_override: bool,
    override_reason: str | None,
) -> Verdict:
    """Decide a certificate or 閲覧 request about ``atena_no`` under the ``protections`` in force for it.

    ``requester_groups`` are the groups of the measures in force for the requester (empty when the requester
    is not protected). Refusal is the default: only the exceptions above let a request through.
    """
    mine = [p for p in protections if p.atena_no == atena_no]
    if not mine:
        return Verdict(atena_no, Outcome.OK)
    numbers = tuple(sorted(p.measure_no for p in mine))
    if any(is_counterparty(requester, p.counterparty) for p in mine):
        return Verdict(atena_no, Outcome.DENIED, COUNTERPARTY_CODE, numbers)
    if requester.verified and requester.atena_no == atena_no:
        return Verdict(atena_no, Outcome.OK, None, numbers)
    groups = list(requester_groups)
    if requester.verified and all(any(p.group & g for g in groups) for p in mine):
        return Verdict(atena_no, Outcome.OK, None, numbers)
    if may_override and override_reason is not None and override_reason.strip():
        return Verdict(atena_no, Outcome.OVERRIDE, BLOCK_CODE, numbers)
    return Verdict(atena_no, Outcome.DENIED, BLOCK_CODE, numbers)


def judge_nearby(atena_no: str, protections: Sequence[Protection], requester: Requester) -> Verdict:
    """Decide about ``atena_no``, not named by the request but living where a subject lives (same 世帯 or
    same 住所): the certificate would tell the requester where they live.

    Refused to the 相手方 of a measure protecting them (no override, as for a subject); nobody else is
    restricted by it. ``measure_nos`` lists the measures that name the requester.
    """
    named = tuple(
        sorted(
            p.measure_no
            for p in protections
            if p.atena_no == atena_no and is_counterparty(requester, p.counterparty)
        )
    )
    if not named:
        return Verdict(atena_no, Outcome.OK)
    return Verdict(atena_no, Outcome.DENIED, COUNTERPARTY_CODE, named)


def refusal(verdicts: Iterable[Verdict]) -> Forbidden | None:
    """The error for the first denied subject, the 相手方's refusal taking precedence; None when all pass.

    The message names neither the person's address nor the measure's details.
    """
    denied = [v for v in verdicts if v.outcome is Outcome.DENIED]
    if not denied:
        return None
    if any(v.code == COUNTERPARTY_CODE for v in denied):
        return Forbidden(
            COUNTERPARTY_CODE,
            "この請求には応じられません (支援措置の相手方からの請求です)。この制限は解除できません。",
            "requester",
        )
    return Forbidden(
        BLOCK_CODE,
        "対象の方には交付・閲覧の制限が設定されています。支援措置担当者の審査を受け、"
        "解除の理由を記録したうえで交付してください。",
        "subjects",
    )
