"""Docs are tests: every setting, per-town parameter, event type and error code users meet is documented."""

from __future__ import annotations

import re
from pathlib import Path

from jichitai.bootstrap import load
from jichitai.modules.registry.records.rules import EVENT_KINDS
from jichitai.reference import render
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
    assert [key for key in load(()).settings if f"`{key}`" not in operations] == []


def test_the_catalogue_reference_is_generated_from_the_declarations() -> None:
    """Every permission, audit action, purpose, role, setting, menu entry, command, feed and job is in
    docs/reference/catalog.md exactly as declared (regenerate: python -m jichitai.reference)."""
    assert read("reference/catalog.md") == render(load(()))


def test_every_permission_and_audit_action_is_in_the_api_reference() -> None:
    catalog = load(())
    api = read("api.md") + read("reference/catalog.md")
    names = [*catalog.permissions, *catalog.audit_actions]
    assert [name for name in names if f"`{name}`" not in api] == []


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
