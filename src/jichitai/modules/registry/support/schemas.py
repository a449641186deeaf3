"""Request bodies of the 支援措置 and certificate API (strict, NFC text; dates parsed by the services).

Names, addresses and the purpose are :data:`~jichitai.platform.jp.text.StoredText` (one line); reasons and
notes are :data:`~jichitai.platform.jp.text.MultilineText`.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from jichitai.modules.registry.records.schemas import KANA, PlainDate, Strict
from jichitai.modules.registry.support.models import SupportKind
from jichitai.platform.jp.text import (
    MultilineText,
    OptionalMultilineText,
    OptionalStoredText,
    StoredText,
)

ATENA = r"^[0-9]{10}$"
AtenaNo = Annotated[str, Field(pattern=ATENA)]


class CounterpartyIn(Strict):
    """The 相手方 as the applicant names them (free text; the 宛名番号 only when registered in the town)."""

    name: StoredText = Field(min_length=1, max_length=100, description="氏名")
    kana: OptionalStoredText = Field(default=None, max_length=100, pattern=KANA, description="フリガナ")
    atena_no: str | None = Field(default=None, pattern=ATENA, description="宛名番号 (住民の場合)")
    birth_date: PlainDate | None = Field(default=None, description="生年月日")
    address: OptionalStoredText = Field(default=None, max_length=400, description="住所 (判明している場合)")


class SupportMeasureIn(Strict):
    """支援措置の申出を受け付ける (仮支援措置 or, once confirmed, 支援措置)."""

    atena_no: str = Field(pattern=ATENA, description="支援対象者の宛名番号 (除票の方も可)")
    kind: SupportKind = Field(description="類型: 配偶者暴力 / ストーカー / 児童虐待 / その他")
    provisional: bool = Field(default=True, description="仮支援措置として開始する (確認後に confirm)")
    starts_on: PlainDate | None = Field(default=None, description="開始日 (省略時は本日)")
    ends_on: PlainDate | None = Field(
        default=None, description="終了日 (省略時は開始日から1年後の前日。本措置の場合のみ指定可)"
    )
    counterparty: CounterpartyIn = Field(description="相手方")
    related_measure_no: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="併せて支援を求める場合、申出者の支援措置の番号"
    )
    reason: MultilineText = Field(
        min_length=1, max_length=400, description="申出の理由・確認の根拠 (警察等の意見)"
    )
    notes: OptionalMultilineText = Field(default=None, max_length=1000, description="備考")


class ConfirmIn(Strict):
    """仮支援措置を本措置にする: the need is confirmed and the applicant told."""

    confirmed_on: PlainDate | None = Field(default=None, description="確認結果を連絡した日 (省略時は本日)")
    ends_on: PlainDate | None = Field(default=None, description="終了日 (省略時は確認日から1年後の前日)")
    note: OptionalMultilineText = Field(default=None, max_length=400, description="確認の内容")


class ExtendIn(Strict):
    """延長の申出 (期間終了の1か月前から、または期間満了後の再開)."""

    reason: MultilineText = Field(min_length=1, max_length=400, description="延長の理由・確認の根拠")
    ends_on: PlainDate | None = Field(default=None, description="新しい終了日 (省略時は1年)")


class EndIn(Strict):
    """支援措置の終了."""

    reason: MultilineText = Field(min_length=1, max_length=400, description="終了の理由 (申出の取下げ等)")
    ended_on: PlainDate | None = Field(default=None, description="終了日 (この日から制限なし。省略時は本日)")


class CertificateType(enum.StrEnum):
    """証明書の種類."""

    RESIDENT_RECORD = "resident_record"  # 住民票の写し
    RECORD_ENTRIES = "record_entries"  # 住民票記載事項証明書
    REMOVED_RECORD = "removed_record"  # 除票の写し
    MOVE_OUT = "move_out"  # 転出証明書 (国内転出の届出をした方)


class CertificateStyle(enum.StrEnum):
    """世帯連記式 (one household on one certificate) or 個人票 (one certificate per person)."""

    HOUSEHOLD = "household"
    INDIVIDUAL = "individual"


class RequesterCategory(enum.StrEnum):
    """Who asks (住基法12条, 12条の2, 12条の3)."""

    SELF = "self"  # 本人
    HOUSEHOLD = "household"  # 同一世帯の方
    PROXY = "proxy"  # 代理人 (委任状)
    THIRD_PARTY = "third_party"  # 第三者 (自己の権利行使等)
    PUBLIC_BODY = "public_body"  # 国・地方公共団体
    PROFESSIONAL = "professional"  # 特定事務受任者 (弁護士・司法書士等)


class Items(Strict):
    """The optional items to print (省略が原則)."""

    household: bool = Field(default=False, description="世帯主の氏名・続柄")
    honseki: bool = Field(default=False, description="本籍・筆頭者")
    juminhyo_code: bool = Field(default=False, description="住民票コード (本人・同一世帯・代理人のみ)")
    my_number: bool = Field(default=False, description="個人番号 (本人・同一世帯・代理人のみ)")
    residence_card: bool = Field(default=False, description="在留資格・在留期間・在留カード番号 (外国人住民)")


class RequesterIn(Strict):
    """The requester as identified at the counter."""

    category: RequesterCategory
    name: StoredText = Field(min_length=1, max_length=100, description="請求者の氏名 (法人は名称)")
    atena_no: str | None = Field(
        default=None, pattern=ATENA, description="請求者の宛名番号 (本人・同一世帯の請求では必須)"
    )
    birth_date: PlainDate | None = Field(default=None, description="請求者の生年月日 (本人確認書類から)")


class OverrideIn(Strict):
    """Lifting the 交付制限 of a 支援措置 after review (needs registry:support:override)."""

    reason: MultilineText = Field(min_length=1, max_length=400, description="審査の結果、交付を認める理由")


class CertificateIn(Strict):
    """A request for a 住民票の写し, 住民票記載事項証明書, 除票の写し or 転出証明書."""

    type: CertificateType = Field(
        description="resident_record: 住民票の写し / record_entries: 住民票記載事項証明書 / "
        "removed_record: 除票の写し / move_out: 転出証明書"
    )
    style: CertificateStyle = Field(
        default=CertificateStyle.HOUSEHOLD, description="household: 世帯連記式 / individual: 個人票"
    )
    atena_nos: list[AtenaNo] | None = Field(
        default=None, min_length=1, max_length=30, description="対象者の宛名番号 (household_no と択一)"
    )
    household_no: str | None = Field(
        default=None, pattern=ATENA, description="世帯番号: 世帯全員 (除票の写しでは消除された世帯員全員)"
    )
    items: Items = Field(default_factory=Items)
    copies: int = Field(default=1, ge=1, le=10, description="通数")
    requester: RequesterIn
    purpose: OptionalStoredText = Field(
        default=None, max_length=400, description="請求事由・提出先 (第三者・特定事務受任者・公用請求は必須)"
    )
    override: OverrideIn | None = Field(default=None, description="支援措置による制限の解除 (担当者のみ)")
