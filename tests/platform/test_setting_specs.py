"""Every per-town setting the catalogue declares refuses values outside its type and range (issue 11, item 9).

The cases are made from each spec itself (its kind, bounds, length and pattern), so a setting a module adds
later is attacked the same way without a line here. Refused values answer 422 ``invalid_setting`` naming the
key, and leave nothing behind: no town, no setting, no audit entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import InvalidInput
from jichitai.platform.modules import SettingSpec, catalog
from jichitai.platform.tenancy import Tenant, set_setting
from tests.modules.registry.test_api_refusals import row_counts

SPECS = sorted(catalog().settings.values(), key=lambda s: s.key)


def bad_values(spec: SettingSpec) -> list[Any]:
    """Values of the wrong type, out of range, too long, empty, or of a refused character, for ``spec``."""
    wrong_type: list[Any] = [None, True, [], {}, 1.5]
    if spec.kind is int:
        values = [*wrong_type, "300", "", -(10**30), 10**30]
        if spec.minimum is not None:
            values.append(spec.minimum - 1)
        if spec.maximum is not None:
            values.append(spec.maximum + 1)
        return values
    return [
        *wrong_type,
        0,
        "",
        " ",
        "\u3000\u3000",
        "\t",
        "x" * (spec.max_length + 1),
        "正\u202e常",
        "正\x00常",
        "正常\n",
    ]


CASES = [
    pytest.param(spec.key, value, id=f"{spec.key}-{value!r:.20}")
    for spec in SPECS
    for value in bad_values(spec)
]


def a_good_value(spec: SettingSpec) -> Any:
    if spec.kind is int:
        return spec.minimum if spec.minimum is not None else 0
    if spec.pattern is not None:
        return "0193-42-2111"
    return "正常な値"


def test_every_setting_has_a_type_and_a_bound() -> None:
    for spec in SPECS:
        if spec.kind is int:
            assert spec.minimum is not None, spec.key
            assert spec.maximum is not None, spec.key
        else:
            assert 0 < spec.max_length <= 1000, spec.key
        assert spec.problem(a_good_value(spec)) is None, spec.key


@pytest.mark.parametrize(("key", "value"), CASES)
def test_a_refused_value_answers_with_the_error_shape_and_writes_nothing(
    client: TestClient, engine: Engine, operator: dict[str, str], key: str, value: Any
) -> None:
    before = row_counts(engine)
    answer = client.post(
        "/api/v1/municipalities",
        json={
            "lg_code": "032107",
            "name": "陸前高田市",
            "name_kana": "リクゼンタカタシ",
            "prefecture": "岩手県",
            "settings": {key: value},
        },
        headers=operator,
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    # A NUL is refused by the input guard before the settings are read, naming where it was found.
    assert error["code"] in {"invalid_setting", "invalid_characters"}
    assert key in error["message"] or key in str(error.get("field", "")), error
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    "phone",
    ["0193422111", "193-42-2111", "0193-42-21111", "03-1234-56789", "０１９３-４２-２１１１", "0193-42-2111 ",
     "03--12345678", "+81-193-42-2111", "0193-42-211", "0193‐42‐2111"],
)  # fmt: skip
def test_a_telephone_number_must_have_the_printed_form(phone: str) -> None:
    assert catalog().settings["office_phone"].problem(phone) is not None


@pytest.mark.parametrize(
    "phone", ["0193-42-2111", "03-1234-5678", "090-1234-5678", "0120-123-456", "050-1234-5678"]
)
def test_telephone_numbers_of_every_kind_are_accepted(phone: str) -> None:
    assert catalog().settings["office_phone"].problem(phone) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(min_value=-(10**12), max_value=10**12))
def test_an_integer_setting_is_accepted_exactly_within_its_bounds(value: int) -> None:
    for spec in SPECS:
        if spec.kind is not int:
            continue
        assert spec.minimum is not None
        assert spec.maximum is not None
        inside = spec.minimum <= value <= spec.maximum
        assert (spec.problem(value) is None) is inside, (spec.key, value)


def test_a_dated_write_is_checked_too(client: TestClient, engine: Engine) -> None:
    """The service every writer goes through (API, command line, import) applies the same spec."""
    for spec in SPECS:
        for value in bad_values(spec):
            with UnitOfWork(engine) as uow, pytest.raises(InvalidInput) as info:
                set_setting(uow, Tenant("034614"), spec.key, value, dt.date(2026, 4, 1), actor="test")
            assert info.value.code == "invalid_setting", (spec.key, value)
