"""Request bodies of the registry API: one validated body per 異動 type.

Shapes and formats are checked here; anything that needs the era table or the database (和暦 dates,
check digits against the law, household state) is checked by the services, which report the field path.
Every stored free-text item is a :data:`~jichitai.platform.jp.text.StoredText` (one line) or
:data:`~jichitai.platform.jp.text.MultilineText` (notes and reasons): no control, bidi or format character.
"""

from __future__ import annotations

import enum
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jichitai.modules.registry.records.models import Sex
from jichitai.platform.jp.text import (
    MultilineText,
    OptionalMultilineText,
    OptionalStoredText,
    StoredText,
)


class Strict(BaseModel):
    """Unknown fields are refused, so a typo never silently drops data; text is stored in NFC.

    NFC (DESIGN §3.9) makes a decomposed が (か + U+3099) the same stored text as a precomposed one, while
    ideographic variation sequences (the IVS that pick an MJ glyph) pass through unchanged.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _nfc(cls, value: Any) -> Any:
        return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


class IrregularDate(Strict):
    """A date as written on the 戸籍 when not a plain calendar date (不詳, 29 Feb of a non-leap year)."""

    text: StoredText = Field(
        min_length=1, max_length=72, description="表示用の日付 (例: 昭和20年頃, 平成2年2月29日)"
    )
    sort_date: str | None = Field(
        default=None, description="並べ替え用の日付 (ISO)。年月日不詳など、本文から導けない場合に必須"
    )


DateInput = Annotated[
    str | IrregularDate,
    Field(description="ISO (2024-04-01) または和暦 (令和6年4月1日)、または不詳日付のオブジェクト"),
]
PlainDate = Annotated[str, Field(description="ISO (2024-04-01) または和暦 (令和6年4月1日)")]


class ForeignCategory(enum.StrEnum):
    """法30条の45 の区分."""

    MID_LONG_TERM = "中長期在留者"
    SPECIAL_PERMANENT = "特別永住者"
    TEMPORARY_REFUGE = "一時庇護許可者"
    PROVISIONAL_STAY = "仮滞在許可者"
    TRANSITIONAL = "経過滞在者"


class ForeignItems(Strict):
    """Items of a foreign resident (法30条の45)."""

    name_roman: StoredText = Field(min_length=1, max_length=200, description="氏名 (アルファベット)")
    nationality: StoredText = Field(min_length=1, max_length=100, description="国籍・地域")
    category: ForeignCategory = Field(description="30条の45区分")
    residence_status: OptionalStoredText = Field(default=None, max_length=60, description="在留資格")
    period_of_stay: OptionalStoredText = Field(default=None, max_length=30, description="在留期間")
    stay_expires_on: PlainDate | None = Field(default=None, description="在留期間の満了の日 (西暦)")
    residence_card_no: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}[0-9]{8}[A-Z]{2}$",
        description="在留カード番号 / 特別永住者証明書番号",
    )
    alias_name: OptionalStoredText = Field(default=None, max_length=100, description="通称")
    alias_kana: OptionalStoredText = Field(default=None, max_length=100)
    foreign_resident_since: PlainDate | None = Field(default=None, description="外国人住民となった年月日")


YEAR_MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class Entitlements(Strict):
    """法7条 items recorded from other systems (国保, 後期高齢, 介護, 国民年金, 児童手当, 選挙人名簿)."""

    elector_registered: bool | None = Field(default=None, description="選挙人名簿登録")
    nhi_qualified: bool | None = Field(default=None, description="国民健康保険 該当")
    nhi_acquired_on: PlainDate | None = None
    nhi_lost_on: PlainDate | None = None
    late_elderly_qualified: bool | None = Field(default=None, description="後期高齢者医療 該当")
    late_elderly_acquired_on: PlainDate | None = None
    late_elderly_lost_on: PlainDate | None = None
    ltc_qualified: bool | None = Field(default=None, description="介護保険 該当")
    ltc_acquired_on: PlainDate | None = None
    ltc_lost_on: PlainDate | None = None
    pension_qualified: bool | None = Field(default=None, description="国民年金 該当")
    basic_pension_no: str | None = Field(default=None, pattern=r"^[0-9]{10}$", description="基礎年金番号")
    pension_category: OptionalStoredText = Field(default=None, max_length=10, description="国民年金の種別")
    pension_category_changed_on: PlainDate | None = None
    pension_acquired_on: PlainDate | None = None
    pension_lost_on: PlainDate | None = None
    child_allowance_from: str | None = Field(
        default=None, pattern=YEAR_MONTH, description="児童手当 支給開始年月"
    )
    child_allowance_to: str | None = Field(
        default=None, pattern=YEAR_MONTH, description="児童手当 支給終了年月"
    )


KANA = r"^[\u30A0-\u30FF\u3040-\u309F\uFF65-\uFF9F 　]*$"


class PersonInput(Strict):
    """A person entering the register (転入, 出生, 職権記載)."""

    family_name: StoredText = Field(
        default="", max_length=100, description="氏 (漢字)。外国人は漢字氏名がある場合"
    )
    given_name: StoredText = Field(default="", max_length=100, description="名 (漢字)")
    family_kana: StoredText = Field(min_length=1, max_length=100, pattern=KANA, description="氏 フリガナ")
    given_kana: StoredText = Field(default="", max_length=100, pattern=KANA, description="名 フリガナ")
    kana_confirmed: bool = Field(default=False, description="フリガナ確認フラグ")
    former_surname: OptionalStoredText = Field(default=None, max_length=50, description="旧氏")
    former_surname_kana: OptionalStoredText = Field(default=None, max_length=100, pattern=KANA)
    birth_date: DateInput
    sex: Sex
    relationship: StoredText = Field(min_length=1, max_length=20, description="続柄 (世帯主との続柄)")
    juminhyo_code: str | None = Field(
        default=None, description="住民票コード (転出証明書の記載)。省略時は新規付番"
    )
    my_number: str | None = Field(default=None, description="個人番号 (12桁)")
    honseki: OptionalStoredText = Field(default=None, max_length=200, description="本籍")
    honseki_head: OptionalStoredText = Field(default=None, max_length=100, description="筆頭者")
    foreign: ForeignItems | None = Field(default=None, description="外国人住民の記載事項")
    entitlements: Entitlements | None = Field(
        default=None, description="国保・年金・介護・児童手当・選挙人名簿の記載 (転出証明書の記載から)"
    )


class Address(Strict):
    """An address inside the municipality; the prefecture and town come from the tenant."""

    area: StoredText = Field(min_length=1, max_length=120, description="町字 (例: 本町一丁目)")
    number: StoredText = Field(min_length=1, max_length=50, description="番地号 (例: 2番3号)")
    building: OptionalStoredText = Field(default=None, max_length=300, description="方書")
    postal_code: str | None = Field(default=None, pattern=r"^[0-9]{7}$")


class EventBase(Strict):
    """Fields every 異動 carries."""

    event_date: DateInput = Field(description="異動日")
    notified_on: PlainDate | None = Field(default=None, description="届出日 (職権の場合は省略)")
    note: OptionalMultilineText = Field(default=None, max_length=400, description="留意事項")


class MoveIn(EventBase):
    """国内転入 / 国外転入: a new household, or members joining an existing one."""

    type: Literal["domestic_move_in", "overseas_move_in"]
    persons: list[PersonInput] = Field(min_length=1, max_length=30)
    address: Address
    previous_address: StoredText = Field(
        min_length=1, max_length=400, description="転入前住所 (国外は国名と住所)"
    )
    household_no: str | None = Field(default=None, description="既存世帯に入る場合の世帯番号")


class Relocation(EventBase):
    """転居: the whole household, or some members, move to another address inside the town.

    Without ``members`` the whole household moves as it is. With ``members`` only those move, with their 続柄
    at the new address: they form a new household there (exactly one 世帯主), or join ``to_household_no``,
    a household already living at that address.
    """

    type: Literal["relocation"]
    household_no: str
    address: Address
    members: list[RelationshipChange] | None = Field(
        default=None, min_length=1, max_length=30, description="転居する方と転居先での続柄 (省略時は世帯全員)"
    )
    to_household_no: str | None = Field(default=None, description="転居先に既にある世帯に入る場合の世帯番号")


class MoveOut(EventBase):
    """転出: some or all members leave; the 転出予定日 may lie in the future."""

    type: Literal["move_out"]
    atena_nos: list[str] = Field(min_length=1, max_length=30)
    destination: StoredText = Field(min_length=1, max_length=400, description="転出先住所")
    abroad: bool = Field(default=False, description="国外への転出 (異動事由 国外転出)")


class Birth(EventBase):
    """出生: a child is entered into an existing household (異動日 = 生年月日)."""

    type: Literal["birth"]
    household_no: str
    child: PersonInput


class Death(EventBase):
    """死亡."""

    type: Literal["death"]
    atena_no: str


class RelationshipChange(Strict):
    """A member's new 続柄 within the household after the change."""

    atena_no: str
    relationship: StoredText = Field(min_length=1, max_length=20)


class HouseholdSplit(EventBase):
    """世帯分離: members form a new household at the same address."""

    type: Literal["household_split"]
    household_no: str
    members: list[RelationshipChange] = Field(min_length=1, max_length=30)


class HouseholdMerge(EventBase):
    """世帯合併: every member of ``merged_household_no`` joins ``household_no`` at the same address."""

    type: Literal["household_merge"]
    household_no: str
    merged_household_no: str
    members: list[RelationshipChange] = Field(min_length=1, max_length=30)


class HouseholdTransfer(EventBase):
    """世帯変更: some members move from one household into another at the same address."""

    type: Literal["household_change"]
    from_household_no: str
    to_household_no: str
    members: list[RelationshipChange] = Field(min_length=1, max_length=30)


class HeadChange(EventBase):
    """世帯主変更: a new head, and every member's 続柄 to the new head."""

    type: Literal["head_change"]
    household_no: str
    members: list[RelationshipChange] = Field(min_length=1, max_length=30)


class ExOfficioEntry(EventBase):
    """職権記載: entering a person on facts learned without a notification (令12条)."""

    type: Literal["ex_officio_entry"]
    person: PersonInput
    address: Address
    household_no: str | None = None
    reason_detail: MultilineText = Field(min_length=1, max_length=200, description="職権記載の理由")


class ExOfficioRemoval(EventBase):
    """職権消除: e.g. after a 実態調査 finds the person no longer lives here."""

    type: Literal["ex_officio_removal"]
    atena_no: str
    reason_detail: MultilineText = Field(min_length=1, max_length=200, description="職権消除の理由")


class Corrections(Strict):
    """Items a 職権修正 may change; omitted items stay as they are."""

    family_name: OptionalStoredText = Field(default=None, max_length=100)
    given_name: OptionalStoredText = Field(default=None, max_length=100)
    family_kana: OptionalStoredText = Field(default=None, min_length=1, max_length=100, pattern=KANA)
    given_kana: OptionalStoredText = Field(default=None, max_length=100, pattern=KANA)
    kana_confirmed: bool | None = None
    former_surname: OptionalStoredText = Field(default=None, max_length=50)
    birth_date: DateInput | None = None
    sex: Sex | None = None
    honseki: OptionalStoredText = Field(default=None, max_length=200)
    honseki_head: OptionalStoredText = Field(default=None, max_length=100)
    my_number: str | None = None
    address_building: OptionalStoredText = Field(default=None, max_length=300)
    entitlements: Entitlements | None = None


class ExOfficioCorrection(EventBase):
    """職権修正: correct items of a record (also of a 除票)."""

    type: Literal["ex_officio_correction"]
    atena_no: str
    corrections: Corrections
    reason_detail: MultilineText = Field(min_length=1, max_length=200, description="職権修正の理由")


class Cancellation(EventBase):
    """異動の取消し: restore the state before an earlier event, as new history rows."""

    type: Literal["cancellation"]
    cancels_event_no: int = Field(ge=1, le=2**31 - 1)
    reason_detail: MultilineText = Field(min_length=1, max_length=200, description="取消しの理由")


EventBody = Annotated[
    MoveIn
    | Relocation
    | MoveOut
    | Birth
    | Death
    | HouseholdSplit
    | HouseholdMerge
    | HouseholdTransfer
    | HeadChange
    | ExOfficioEntry
    | ExOfficioRemoval
    | ExOfficioCorrection
    | Cancellation,
    Field(discriminator="type"),
]
