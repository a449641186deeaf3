"""Building 住民票 snapshots: input values → :class:`PersonRecord` objects (not yet added to any session).

Kept apart from the services so that the copying of household items and search keys lives in one place,
and the services only decide *which* snapshots to write.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from jichitai.modules.registry.records.models import SNAPSHOT_COLUMNS, PersonRecord
from jichitai.platform.jp import RegisteredDate, name_search_keys


def text_key(text: str) -> str:
    """Key for kanji names and addresses: NFKC width folding, spaces removed (the 氏/名 gap is ignored)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(folded.split())


def refresh_keys(record: PersonRecord) -> None:
    """Recompute the normalised search keys from the record's items."""
    _family, given, full = name_search_keys(record.family_kana, record.given_kana)
    record.kana_key = full
    record.given_kana_key = given
    record.name_key = text_key(f"{record.family_name}{record.given_name}" or (record.name_roman or ""))
    record.address_key = text_key(
        f"{record.address_area}{record.address_number}{record.address_building or ''}"
    )


def next_snapshot(previous: PersonRecord, event_no: int, **changes: Any) -> PersonRecord:
    """A copy of ``previous`` with ``changes`` applied, as the next 履歴番号 (all items copied, j200)."""
    values = {name: getattr(previous, name) for name in SNAPSHOT_COLUMNS}
    values.update(changes)
    record = PersonRecord(
        lg_code=previous.lg_code,
        atena_no=previous.atena_no,
        history_no=previous.history_no + 1,
        is_current=True,
        event_no=event_no,
        **values,
    )
    refresh_keys(record)
    return record


def restored_snapshot(current: PersonRecord, restore: PersonRecord, event_no: int) -> PersonRecord:
    """A new 履歴番号 whose items are those of an earlier snapshot (取消し is append-only, j980)."""
    values = {name: getattr(restore, name) for name in SNAPSHOT_COLUMNS}
    return next_snapshot(current, event_no, **values)


@dataclass(frozen=True)
class AddressValues:
    """An address as stored on the record."""

    area: str
    number: str
    building: str | None
    postal_code: str | None

    def same_place(self, record: PersonRecord) -> bool:
        """True when the record already lives at this address (方書 included)."""
        return (record.address_area, record.address_number, record.address_building or None) == (
            self.area,
            self.number,
            self.building or None,
        )

    def columns(self) -> dict[str, Any]:
        """The record columns this address sets."""
        return {
            "address_area": self.area,
            "address_number": self.number,
            "address_building": self.building,
            "postal_code": self.postal_code,
        }


def date_columns(prefix: str, value: RegisteredDate) -> dict[str, Any]:
    """A registered date as its sortable column plus its display-text column."""
    return {prefix: value.value, f"{prefix}_text": value.text}


def first_snapshot(*, lg_code: str, atena_no: str, event_no: int, values: dict[str, Any]) -> PersonRecord:
    """履歴番号 1 of a person entering the register."""
    record = PersonRecord(
        lg_code=lg_code, atena_no=atena_no, history_no=1, is_current=True, event_no=event_no
    )
    for name, value in values.items():
        setattr(record, name, value)
    refresh_keys(record)
    return record
