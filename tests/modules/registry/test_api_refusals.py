"""Bad input gets a clear 4xx with the error body and leaves the database unchanged; tenants never leak."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from jichitai.bootstrap import metadata
from tests.conftest import TOWN_B, StaffHeaders

from .test_api_life_story import BASE, days, move_in_family, person, post

OTHER = "/api/v1/municipalities/046060/registry"


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata().sorted_tables
        }


def refused(
    client: TestClient,
    engine: Engine,
    body: Any,
    status: int,
    code: str,
    field: str | None = None,
    url: str = f"{BASE}/events",
) -> None:
    before = row_counts(engine)
    if isinstance(body, bytes):
        response = client.post(url, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(url, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]  # Japanese explanation
    if field is not None:
        assert error["field"] == field
    assert row_counts(engine) == before


def move_in(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "domestic_move_in",
        "event_date": days(-3),
        "previous_address": "宮城県石巻市",
        "address": {"area": "本町一丁目", "number": "1番1号"},
        "persons": [person("佐藤", "一", ("サトウ", "ハジメ"), "1970-01-01", "male", "世帯主")],
    }
    body.update(overrides)
    return body


def with_person(**fields: Any) -> dict[str, Any]:
    return move_in(
        persons=[{**person("佐藤", "一", ("サトウ", "ハジメ"), "1970-01-01", "male", "世帯主"), **fields}]
    )


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (with_person(my_number="621498320258"), 422, "invalid_check_digit", "persons[0].my_number"),
        (with_person(my_number="12345"), 422, "invalid_format", "persons[0].my_number"),
        (with_person(juminhyo_code="12345"), 422, "invalid_format", "persons[0].juminhyo_code"),
        (with_person(birth_date="2023-02-30"), 422, "impossible_date", "persons[0].birth_date"),
        (with_person(birth_date="平成31年5月1日"), 422, "date_outside_era", "persons[0].birth_date"),
        (with_person(birth_date="未来"), 422, "invalid_format", "persons[0].birth_date"),
        (with_person(relationship="祖父"), 422, "unknown_relationship", "persons[0].relationship"),
        (with_person(relationship="妻"), 422, "exactly_one_head", None),
        (with_person(sex="other"), 422, "invalid_enum", "persons[0].sex"),
        (with_person(family_kana="yamada"), 422, "invalid_string_pattern_mismatch", "persons[0].family_kana"),
        (with_person(unknown_field=1), 422, "invalid_extra_forbidden", "persons[0].unknown_field"),
        (move_in(event_date=days(1)), 422, "future_event_date", "event_date"),
        (move_in(event_date="2024-13-01"), 422, "impossible_date", "event_date"),
        (move_in(notified_on=days(-10)), 422, "notified_before_move_in", "notified_on"),
        (move_in(persons=[]), 422, "invalid_too_short", "persons"),
        (move_in(household_no="9999999999"), 404, "not_found", "household_no"),
        ({"type": "teleport", "event_date": days(0)}, 422, "invalid_union_tag_invalid", None),
        ({"event_date": days(0)}, 422, "invalid_union_tag_not_found", None),
        ([1, 2, 3], 400, "malformed_json", None),
    ],
)
def test_bad_event_bodies_are_refused_without_writing(
    client: TestClient, engine: Engine, body: Any, status: int, code: str, field: str | None
) -> None:
    refused(client, engine, body, status, code, field)


def test_malformed_json_is_400(client: TestClient, engine: Engine) -> None:
    refused(client, engine, b'{"type": "death", ', 400, "malformed_json")
    refused(client, engine, b"", 400, "malformed_json")


def test_events_on_removed_persons_are_refused(client: TestClient, engine: Engine) -> None:
    taro, _hanako, ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    post(client, {"type": "death", "event_date": days(-1), "atena_no": ichiro})
    refused(
        client,
        engine,
        {"type": "death", "event_date": days(0), "atena_no": ichiro},
        409,
        "not_a_resident",
        "atena_no",
    )
    refused(
        client,
        engine,
        {"type": "move_out", "event_date": days(0), "atena_nos": [ichiro], "destination": "東京都"},
        409,
        "not_a_resident",
        "atena_nos[0]",
    )
    # 職権修正 on a 除票 is allowed.
    fixed = post(
        client,
        {
            "type": "ex_officio_correction",
            "event_date": days(0),
            "atena_no": ichiro,
            "corrections": {"given_kana": "イチロ"},
            "reason_detail": "誤記",
        },
    )
    assert fixed["persons"][0]["history_no_after"] == 3
    refused(
        client,
        engine,
        {
            "type": "ex_officio_correction",
            "event_date": days(0),
            "atena_no": taro,
            "corrections": {},
            "reason_detail": "なし",
        },
        422,
        "no_changes",
        "corrections",
    )


def test_future_date_only_for_move_out(client: TestClient, engine: Engine) -> None:
    taro = move_in_family(client)["persons"][0]["atena_no"]
    refused(
        client, engine, {"type": "death", "event_date": days(1), "atena_no": taro}, 422, "future_event_date"
    )


def test_same_my_number_twice_is_refused(client: TestClient, engine: Engine) -> None:
    move_in_family(client)
    refused(
        client, engine, with_person(my_number="621498320257"), 409, "my_number_in_use", "persons[0].my_number"
    )


def test_juminhyo_code_check_digit_mismatch_is_a_warning(client: TestClient) -> None:
    event = post(client, with_person(juminhyo_code="12345678900"))
    assert event["details"]["warnings"] == [
        {"code": "juminhyo_code_check_digit_mismatch", "field": "persons[0].juminhyo_code"}
    ]


def test_irregular_birth_dates_are_stored_with_their_text(client: TestClient) -> None:
    event = post(
        client,
        move_in(
            persons=[
                person("佐藤", "一", ("サトウ", "ハジメ"), "平成2年2月29日", "male", "世帯主"),
                person("佐藤", "トメ", ("サトウ", "トメ"), {"text": "明治45年7月30日"}, "female", "母"),
                person("佐藤", "不詳", ("サトウ", "フショウ"), {"text": "昭和20年頃"}, "female", "同居人"),
                person(
                    "佐藤",
                    "全",
                    ("サトウ", "ゼン"),
                    {"text": "年月日不詳", "sort_date": "1950-01-01"},
                    "male",
                    "同居人",
                ),
            ]
        ),
    )
    records = [row["current"] for row in (post_get(client, p["atena_no"]) for p in event["persons"])]
    assert records[0]["birth_date"] == {"value": "1990-02-28", "display": "平成2年2月29日", "irregular": True}
    assert records[1]["birth_date"]["value"] == "1912-07-30"
    assert records[2]["birth_date"] == {"value": "1945-01-01", "display": "昭和20年頃", "irregular": True}
    assert records[3]["birth_date"] == {"value": "1950-01-01", "display": "年月日不詳", "irregular": True}


def post_get(client: TestClient, atena_no: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/residents/{atena_no}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def test_another_towns_ids_answer_like_missing_ones(
    client: TestClient, engine: Engine, staff: StaffHeaders
) -> None:
    """Staff of town B asking town B for town A's ids get exactly the answer for ids that do not exist."""
    moved_in = move_in_family(client)
    headers = staff("registry_clerk", TOWN_B, "resident_registry")
    atena = moved_in["persons"][0]["atena_no"]
    event_no = moved_in["event_no"]
    household_no = post_get(client, atena)["current"]["household_no"]
    client = TestClient(client.app, raise_server_exceptions=False, headers=headers)
    missing = {"error": {"code": "not_found", "message": "住民が見つかりません。", "field": None}}
    for url in (f"{OTHER}/residents/{atena}", f"{OTHER}/residents/0000000000"):
        response = client.get(url)
        assert (response.status_code, response.json()) == (404, missing)
    for url in (f"{OTHER}/households/{household_no}", f"{OTHER}/events/{event_no}"):
        assert client.get(url).status_code == 404
    found = client.get(f"{OTHER}/residents", params={"atena_no": atena}).json()
    assert found["items"] == []
    refused(
        client,
        engine,
        {"type": "death", "event_date": days(0), "atena_no": atena},
        404,
        "not_found",
        url=f"{OTHER}/events",
    )
    refused(
        client,
        engine,
        {
            "type": "relocation",
            "event_date": days(0),
            "household_no": household_no,
            "address": {"area": "港町", "number": "1番"},
        },
        404,
        "not_found",
        url=f"{OTHER}/events",
    )
    refused(
        client,
        engine,
        {"type": "cancellation", "event_date": days(0), "cancels_event_no": event_no, "reason_detail": "x"},
        404,
        "not_found",
        url=f"{OTHER}/events",
    )
    # An unknown or malformed municipality code answers the same way.
    for code in ("999999", "abc"):
        assert client.get(f"/api/v1/municipalities/{code}/registry/residents/{atena}").status_code == 404
        assert client.get(f"/api/v1/municipalities/{code}").status_code == 404


def test_search_requires_a_criterion_and_validates(client: TestClient) -> None:
    response = client.get(f"{BASE}/residents")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "no_criteria")
    response = client.get(f"{BASE}/residents", params={"birth_date": "昭和99年1月1日"})
    assert response.status_code == 422
    response = client.get(f"{BASE}/residents", params={"kana": "ヤ", "per_page": 1000})
    assert (response.status_code, response.json()["error"]["field"]) == (422, "per_page")


def test_names_are_stored_in_nfc_with_variation_selectors_kept(client: TestClient) -> None:
    ivs_name = "葛\U000e0100"  # 葛 with an ideographic variation selector (an MJ glyph choice)
    event = post(
        client,
        move_in(
            persons=[person(ivs_name, "か\u3099く", ("カ\u3099ク", "ガク"), "1970-01-01", "male", "世帯主")]
        ),
    )
    record = post_get(client, event["persons"][0]["atena_no"])["current"]
    assert record["family_name"] == ivs_name
    assert record["given_name"] == "がく"
    assert record["family_kana"] == "ガク"


def test_numbers_and_bytes_no_database_can_take(client: TestClient, engine: Engine) -> None:
    huge = 10**30
    for url in (f"{BASE}/events/{huge}", f"{BASE}/events/99999999999"):
        response = client.get(url)
        assert (response.status_code, response.json()["error"]["field"]) == (422, "event_no")
    refused(
        client,
        engine,
        {"type": "cancellation", "event_date": days(0), "cancels_event_no": huge, "reason_detail": "x"},
        422,
        "invalid_less_than_equal",
        "cancels_event_no",
    )
    refused(
        client,
        engine,
        b'{"type": "death", "event_date": "2020-01-01", "atena_no": "\xff\xfe"}',
        400,
        "malformed_json",
    )


def test_staff_of_one_town_cannot_reach_another(client: TestClient, engine: Engine) -> None:
    """A town A clerk asking for town B gets the answer of a town that does not exist (and is audited)."""
    moved_in = move_in_family(client)
    atena = moved_in["persons"][0]["atena_no"]
    nowhere = client.get(f"/api/v1/municipalities/999997/residents/{atena}")
    for url in (f"{OTHER}/residents/{atena}", f"{OTHER}/residents", f"{OTHER}/events/1"):
        response = client.get(url, params={"kana": "サトウ"})
        assert (response.status_code, response.json()) == (404, nowhere.json())
