"""続柄 (relationship to the 世帯主): the closed list of labels and their certificate order.

The standard allows only a fixed vocabulary (spec j110, domain.md §1.4): a few standalone
labels plus "の"-chains of kin words up to four links.  Labels such as 祖父, 孫, 甥 or
準世帯主 are explicitly forbidden (a grandchild is 子の子), so validation is a whitelist,
never a free-text field.
"""

from __future__ import annotations

import re

from jichitai.platform.jp.errors import JpValueError

__all__ = [
    "RELATIONSHIP_CODES",
    "relationship_codes",
    "relationship_order_key",
    "split_relationship",
    "validate_relationship",
]

HEAD = "世帯主"
ENKO = "縁故者"
DOUKYO = "同居人"
UNREGISTERED = "（未届）"

KIN_LABELS = ("夫", "妻", "子", "父", "母", "兄", "姉", "弟", "妹")
"""Words that may form "の"-chains (子の妻, 父の母, 子の子の子の子)."""

MAX_CHAIN_LINKS = 4
"""Longer chains are written as 縁故者 (spec j110)."""

RELATIONSHIP_CODES: dict[str, str] = {
    "世帯主": "02",
    "夫": "11",
    "妻": "12",
    "夫（未届）": "13",
    "妻（未届）": "14",
    "子": "20",
    "父": "51",
    "母": "52",
    "兄": "71",
    "弟": "74",
    "姉": "81",
    "妹": "84",
    "縁故者": "96",
    "同居人": "99",
}
"""続柄コード per link.  DRAFT values (conf med): taken from one town's working notes
marked 検討段階 (layouts-exchange.md §A3); the official table was not found.  Verify
against the 既存住基システム改造仕様書 before any exchange file is produced."""


def _unknown(label: str) -> JpValueError:
    return JpValueError(
        "unknown_relationship",
        f"続柄が正しくありません。「{label}」は使用できません"
        "（世帯主・夫・妻・子・父・母・兄・姉・弟・妹とその「の」による組合せ（4段まで）、"
        "縁故者、同居人のいずれかを入力してください）。",
    )


def _normalize(label: str) -> str:
    """Drop blanks and use full-width parentheses, as certificates print them."""
    text = "".join(ch for ch in label if not ch.isspace())
    return text.replace("(", "（").replace(")", "）")


def split_relationship(label: str) -> tuple[str, ...]:
    """Validate a label and split it into its links: 妻（未届）の子 → (妻（未届）, 子).

    Raises :class:`JpValueError` (``unknown_relationship``) for anything outside the list.
    """
    text = _normalize(label)
    if text in (HEAD, ENKO, DOUKYO):
        return (text,)
    links = tuple(text.split("の"))
    if not 1 <= len(links) <= MAX_CHAIN_LINKS:
        raise _unknown(label)
    first, *rest = links
    first_ok = first in KIN_LABELS or first in ("夫" + UNREGISTERED, "妻" + UNREGISTERED)
    if not first_ok or any(link not in KIN_LABELS for link in rest):
        raise _unknown(label)
    return links


def validate_relationship(label: str) -> str:
    """Return the normalised label (全角括弧, no blanks) or raise ``unknown_relationship``."""
    return "の".join(split_relationship(label))


def relationship_codes(label: str) -> tuple[str, ...]:
    """One 続柄コード per link, e.g. 子の妻 → ("20", "12"); see :data:`RELATIONSHIP_CODES`."""
    return tuple(RELATIONSHIP_CODES[link] for link in split_relationship(label))


_LINK_RANK = {"夫": 2, "妻": 2, "子": 3, "父": 5, "母": 5, "兄": 6, "姉": 6, "弟": 6, "妹": 6}
_PARENT = re.compile(r"[父母]")


def _link_rank(link: str) -> int:
    return _LINK_RANK[link.removesuffix(UNREGISTERED)]


def relationship_order_key(label: str) -> tuple[int, ...]:
    """Sort rank for the 世帯連記式 certificate order (spec j1010, domain.md §1.5).

    The first element is the group: 1 世帯主, 2 配偶者 (夫/妻, 未届 included), 3 子,
    4 the children's families (子の夫, 子の妻, 子の子 …), 5 世帯主's parents, 6 siblings,
    7 grandparents (父の父 …), 8 other relatives (妻の父, 兄の妻 …), 9 縁故者, 10 同居人.
    Within groups 4 and 8 the remaining elements rank each further link (spouse before
    child) so chains order by generation.  Ties between people are broken by the caller
    (birth date, then 宛名番号); the label alone cannot say which child a family belongs
    to, nor which parent is the 筆頭者, so 父 and 母 rank equal.
    """
    links = split_relationship(label)
    first = links[0].removesuffix(UNREGISTERED)
    if len(links) == 1:
        singles = {HEAD: 1, ENKO: 9, DOUKYO: 10, "夫": 2, "妻": 2, "子": 3, "父": 5, "母": 5}
        return (singles.get(first, 6),)
    tail = tuple(_link_rank(link) for link in links[1:])
    if first == "子":
        return (4, *tail)
    if len(links) == 2 and _PARENT.fullmatch(first) and _PARENT.fullmatch(links[1]):
        return (7,)
    return (8, _link_rank(links[0]), *tail)
