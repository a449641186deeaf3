"""The law of the register as pure functions: values in, decisions or refusals out, no I/O.

Sources are the 住民記録システム標準仕様書 items cited as j-numbers in ``../shared/reference/domain.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jichitai.platform.errors import Conflict, InvalidInput
from jichitai.platform.jp import relationship_order_key

HEAD = "世帯主"


@dataclass(frozen=True)
class EventKind:
    """How an event type is recorded: its 異動事由 label and its category (記載/消除/修正)."""

    reason: str
    category: str
    future_date_allowed: bool = False
    notification: bool = False
    """A 届出 (filed by the resident) rather than 職権; 届出日 defaults to the processing day."""


EVENT_KINDS: dict[str, EventKind] = {
    "domestic_move_in": EventKind("国内転入", "記載", notification=True),
    "overseas_move_in": EventKind("国外転入等", "記載", notification=True),
    "birth": EventKind("出生", "記載", notification=True),
    "ex_officio_entry": EventKind("職権記載", "記載"),
    "move_out": EventKind("国内転出", "消除", future_date_allowed=True, notification=True),
    "death": EventKind("死亡", "消除", notification=True),
    "ex_officio_removal": EventKind("職権消除", "消除"),
    "relocation": EventKind("転居", "修正", notification=True),
    "household_split": EventKind("世帯分離", "修正", notification=True),
    "household_merge": EventKind("世帯合併", "修正", notification=True),
    "household_change": EventKind("世帯変更", "修正", notification=True),
    "head_change": EventKind("世帯主変更", "修正", notification=True),
    "ex_officio_correction": EventKind("職権修正", "修正"),
    "cancellation": EventKind("異動の取消し", "修正"),
}


def cancellation_reason(cancelled_category: str) -> tuple[str, str]:
    """異動の取消し is (増) for a cancelled 消除, (減) for a cancelled 記載, (修正) otherwise (j210)."""
    if cancelled_category == "消除":
        return "異動の取消し(増)", "記載"
    if cancelled_category == "記載":
        return "異動の取消し(減)", "消除"
    return "異動の取消し(修正)", "修正"


def check_event_dates(
    event_type: str, event_date: dt.date, notified_on: dt.date | None, today: dt.date
) -> None:
    """異動日 is never in the future except for 転出 (j480); a 届出日 is never in the future."""
    if event_date > today and not EVENT_KINDS[event_type].future_date_allowed:
        raise InvalidInput("future_event_date", "異動日に未来の日付は指定できません。", "event_date")
    if notified_on is not None and notified_on > today:
        raise InvalidInput("future_notified_on", "届出日に未来の日付は指定できません。", "notified_on")
    if event_type in {"domestic_move_in", "overseas_move_in"} and notified_on and notified_on < event_date:
        # 転入届 is filed only after moving in (法22条).
        raise InvalidInput(
            "notified_before_move_in", "転入届は転入した日以降に届け出るものです。", "notified_on"
        )


def check_birth_before(event_date: dt.date, birth_date: dt.date, field: str) -> None:
    """Nobody enters the register before being born."""
    if birth_date > event_date:
        raise InvalidInput("birth_after_event", "生年月日が異動日より後になっています。", field)


@dataclass(frozen=True)
class Member:
    """A current member of a household, as the rules need it."""

    atena_no: str
    relationship: str
    birth_date: dt.date

    @property
    def is_head(self) -> bool:
        """True for the 世帯主."""
        return self.relationship == HEAD


@dataclass(frozen=True)
class HeadDecision:
    """What happens to the household when some members leave it."""

    new_head: str | None
    """宛名番号 of the member who becomes 世帯主 ex officio, when exactly one remains (j490)."""
    remaining: tuple[str, ...]


def after_departure(members: Sequence[Member], leaving: Iterable[str]) -> HeadDecision:
    """Decide the household's head when ``leaving`` members leave (death, 転出, 分離, 消除).

    The head staying changes nothing. The head leaving with one member remaining makes that member head;
    with two or more remaining the event is refused until a 世帯主変更 is recorded (j490).
    """
    gone = set(leaving)
    remaining = tuple(m.atena_no for m in members if m.atena_no not in gone)
    head_leaves = any(m.is_head and m.atena_no in gone for m in members)
    if not head_leaves or not remaining:
        return HeadDecision(None, remaining)
    if len(remaining) == 1:
        return HeadDecision(remaining[0], remaining)
    raise Conflict(
        "household_head_change_required",
        "世帯主が世帯を離れ、世帯員が2人以上残ります。先に世帯主変更を届け出てください。",
        "atena_no",
    )


def check_household_relationships(assignments: dict[str, str], field: str = "members") -> str:
    """A household has exactly one 世帯主; returns that member's 宛名番号."""
    heads = [atena for atena, label in assignments.items() if label == HEAD]
    if len(heads) != 1:
        raise InvalidInput("exactly_one_head", "世帯主はちょうど1人である必要があります。", field)
    return heads[0]


def certificate_order(members: Iterable[Member]) -> list[Member]:
    """Members in the 世帯連記式 order (j1010): by 続柄 rank, then birth date, then 宛名番号."""
    return sorted(members, key=lambda m: (relationship_order_key(m.relationship), m.birth_date, m.atena_no))
