"""Docs are tests: every setting, per-town parameter, event type and error code users meet is documented."""

from __future__ import annotations

import re
from pathlib import Path

from jichitai.modules.registry.rules import EVENT_KINDS
from jichitai.platform.tenancy import SETTING_KEYS
from jichitai.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_environment_setting_is_documented() -> None:
    operations = read("operations.md")
    missing = [
        f"JICHITAI_{name.upper()}"
        for name in Settings.model_fields
        if f"JICHITAI_{name.upper()}" not in operations
    ]
    assert missing == []


def test_every_town_setting_is_documented() -> None:
    operations = read("operations.md")
    assert [key for key in SETTING_KEYS if f"`{key}`" not in operations] == []


def test_every_event_type_is_in_the_user_guide() -> None:
    guide = read("user-guide.md")
    assert [kind for kind in EVENT_KINDS if f"`{kind}`" not in guide] == []


def test_every_error_code_raised_in_src_is_in_the_api_reference() -> None:
    src = Path(__file__).resolve().parent.parent / "src" / "jichitai"
    codes = set()
    for path in src.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(
            re.findall(
                r'(?:InvalidInput|Conflict|Forbidden|Unauthenticated|TooManyRequests|AccessRefused)\(\s*"([a-z_]+)"',
                text,
            )
        )
    api = read("api.md")
    assert sorted(code for code in codes if f"`{code}`" not in api) == []
