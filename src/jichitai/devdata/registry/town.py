"""The town a population lives in: its 町丁目 with postal codes, and the addresses drawn inside it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from jichitai.devdata.registry import vocabulary as data
from jichitai.modules.registry.records.snapshots import text_key

__all__ = ["Address", "Area", "Town"]


@dataclass(frozen=True)
class Area:
    """One 町丁目 and its postal code."""

    name: str
    postal_code: str


@dataclass(frozen=True)
class Town:
    """The town's 町丁目 and names, fixed by the lg_code alone (a town keeps its streets for any seed)."""

    lg_code: str
    prefecture: str
    name: str
    areas: tuple[Area, ...]

    @property
    def prefix(self) -> str:
        """都道府県 + 市区町村, the part of an address the record does not store."""
        return f"{self.prefecture}{self.name}"

    @classmethod
    def make(cls, lg_code: str, town_name: str, prefecture: str) -> Town:
        """10–20 町丁目 from the stems, deterministically from the lg_code."""
        rng = random.Random(f"jichitai-synthetic-town:{lg_code}")
        stems = list(data.AREA_STEMS)
        rng.shuffle(stems)
        wanted = rng.randint(10, 20)
        names: list[str] = []
        for stem, chome in stems:
            names.extend(
                [stem] if chome == 0 else [f"{stem}{data.KANJI_NUMERALS[i]}丁目" for i in range(1, chome + 1)]
            )
            if len(names) >= wanted:
                break
        base = f"{rng.randint(20, 99):02d}{rng.randint(0, 9)}"
        areas = tuple(Area(nm, f"{base}{rng.randint(0, 9)}{i:03d}") for i, nm in enumerate(names[:wanted], 1))
        if not prefecture and lg_code[:2].isdigit() and 0 < int(lg_code[:2]) < len(data.PREFECTURES):
            prefecture = data.PREFECTURES[int(lg_code[:2])]
        return cls(lg_code, prefecture, town_name, areas)


@dataclass(frozen=True)
class Address:
    """An address in town, as the record stores it (without 都道府県 and 市区町村)."""

    area: Area
    number: str
    building: str | None

    def columns(self) -> dict[str, Any]:
        """The record's address columns, with the search key ``snapshots`` would compute."""
        return {
            "address_area": self.area.name,
            "address_number": self.number,
            "address_building": self.building,
            "postal_code": self.area.postal_code,
            "address_key": text_key(f"{self.area.name}{self.number}{self.building or ''}"),
        }

    def full(self, town: Town) -> str:
        """The full address, as written into another record's 異動前住所."""
        base = f"{town.prefix}{self.area.name}{self.number}"
        return f"{base}　{self.building}" if self.building else base
