"""Household events (世帯分離・合併・変更), 職権 events and foreign residents, through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from .test_api_life_story import BASE, days, household, move_in_family, person, post, resident
from .test_api_refusals import refused


def family(client: TestClient) -> tuple[str, str, str, str]:
    taro, hanako, ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    return taro, hanako, ichiro, resident(client, taro)["current"]["household_no"]


def split(household_no: str, members: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": "household_split",
        "event_date": days(-1),
        "household_no": household_no,
        "members": members,
    }


def test_split_then_merge_back(client: TestClient, engine: Engine) -> None:
    taro, hanako, ichiro, household_no = family(client)
    # The head cannot leave two members behind without a head.
    refused(
        client,
        engine,
        split(household_no, [{"atena_no": taro, "relationship": "世帯主"}]),
        409,
        "household_head_change_required",
    )
    refused(
        client,
        engine,
        split(household_no, [{"atena_no": ichiro, "relationship": "子"}]),
        422,
        "exactly_one_head",
    )
    event = post(client, split(household_no, [{"atena_no": ichiro, "relationship": "世帯主"}]))
    new_household = resident(client, ichiro)["current"]["household_no"]
    assert new_household != household_no
    assert [p["atena_no"] for p in event["persons"]] == [ichiro]
    assert household(client, new_household)["head_name"] == "山田　一郎"
    assert [m["atena_no"] for m in household(client, household_no)["members"]] == [taro, hanako]
    merged = post(
        client,
        {
            "type": "household_merge",
            "event_date": days(0),
            "household_no": household_no,
            "merged_household_no": new_household,
            "members": [{"atena_no": ichiro, "relationship": "子"}],
        },
    )
    assert merged["reason"] == "世帯合併"
    assert [m["atena_no"] for m in household(client, household_no)["members"]] == [taro, hanako, ichiro]
    assert resident(client, ichiro)["current"]["head_name"] == "山田　太郎"


def test_household_change_makes_the_last_member_head(client: TestClient, engine: Engine) -> None:
    taro, hanako, ichiro, household_no = family(client)
    post(client, split(household_no, [{"atena_no": ichiro, "relationship": "世帯主"}]))
    son_household = resident(client, ichiro)["current"]["household_no"]
    # The head moves into the son's household: one member (花子) remains and becomes head ex officio.
    event = post(
        client,
        {
            "type": "household_change",
            "event_date": days(0),
            "from_household_no": household_no,
            "to_household_no": son_household,
            "members": [{"atena_no": taro, "relationship": "父"}],
        },
    )
    assert sorted(p["atena_no"] for p in event["persons"]) == sorted([taro, hanako])
    hanako_now = resident(client, hanako)["current"]
    assert (hanako_now["relationship"], hanako_now["head_name"]) == ("世帯主", "山田　花子")
    assert [m["relationship"] for m in household(client, son_household)["members"]] == ["世帯主", "父"]


def test_household_change_needs_the_same_address(client: TestClient, engine: Engine) -> None:
    taro, _hanako, _ichiro, household_no = family(client)
    other = post(
        client,
        {
            "type": "domestic_move_in",
            "event_date": days(-2),
            "previous_address": "東京都",
            "address": {"area": "港町", "number": "9番"},
            "persons": [person("鈴木", "次郎", ("スズキ", "ジロウ"), "1950-01-01", "male", "世帯主")],
        },
    )
    other_household = resident(client, other["persons"][0]["atena_no"])["current"]["household_no"]
    refused(
        client,
        engine,
        {
            "type": "household_change",
            "event_date": days(0),
            "from_household_no": household_no,
            "to_household_no": other_household,
            "members": [{"atena_no": taro, "relationship": "同居人"}],
        },
        422,
        "address_mismatch",
    )


def test_ex_officio_entry_and_removal(client: TestClient, engine: Engine) -> None:
    entry = post(
        client,
        {
            "type": "ex_officio_entry",
            "event_date": days(-3),
            "address": {"area": "寺町", "number": "3番地"},
            "person": person("田中", "実", ("タナカ", "ミノル"), "1960-10-10", "male", "世帯主"),
            "reason_detail": "実態調査により居住を確認",
        },
    )
    assert (entry["reason"], entry["category"], entry["notified_on"]) == ("職権記載", "記載", None)
    minoru = entry["persons"][0]["atena_no"]
    removal = post(
        client,
        {
            "type": "ex_officio_removal",
            "event_date": days(0),
            "atena_no": minoru,
            "reason_detail": "居住実態なし",
        },
    )
    assert removal["category"] == "消除"
    current = resident(client, minoru)["current"]
    assert (current["status"], current["removal_reason"]) == ("removed", "職権消除")


def test_overseas_move_in_of_a_foreign_resident(client: TestClient, engine: Engine) -> None:
    foreigner = {
        "family_kana": "グエン",
        "given_kana": "ヴァン アン",
        "birth_date": "1998-04-12",
        "sex": "male",
        "relationship": "世帯主",
        "foreign": {
            "name_roman": "NGUYEN VAN AN",
            "nationality": "ベトナム",
            "category": "中長期在留者",
            "residence_status": "技能実習",
            "period_of_stay": "1年",
            "stay_expires_on": days(300),
            "residence_card_no": "AB12345678CD",
        },
    }
    body = {
        "type": "overseas_move_in",
        "event_date": days(-1),
        "previous_address": "ベトナム社会主義共和国",
        "address": {"area": "港町", "number": "1番2号"},
        "persons": [foreigner],
    }
    refused(
        client,
        engine,
        {**body, "persons": [{**foreigner, "honseki": "東京都"}]},
        422,
        "honseki_not_for_foreign",
    )
    event = post(client, body)
    assert event["reason"] == "国外転入等"
    current = resident(client, event["persons"][0]["atena_no"])["current"]
    assert current["kind"] == "foreign"
    assert current["name"] == "NGUYEN VAN AN"
    # Foreign residents' birth dates print in 西暦 (法30条の45).
    assert current["birth_date"]["display"] == "1998年4月12日"
    assert current["stay_expires_on"]["display"].startswith(f"{current['stay_expires_on']['value'][:4]}年")
    found = client.get(f"{BASE}/residents", params={"kana": "ぐえん"}).json()["items"]
    assert [r["atena_no"] for r in found] == [current["atena_no"]]


def test_events_list_and_get(client: TestClient) -> None:
    moved_in = move_in_family(client)
    listed = client.get(f"{BASE}/events").json()
    assert [e["event_no"] for e in listed["items"]] == [moved_in["event_no"]]
    assert listed["has_next"] is False
    one = client.get(f"{BASE}/events/{moved_in['event_no']}").json()
    assert len(one["persons"]) == 3
    assert client.get(f"{BASE}/events", params={"event_type": "death"}).json()["items"] == []


def relocate(household_no: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "relocation",
        "event_date": days(-1),
        "household_no": household_no,
        "address": {"area": "桜台", "number": "7番1号", "building": "ハイツ桜 102号"},
        **extra,
    }


def test_a_member_moves_to_a_new_household_at_another_address(client: TestClient, engine: Engine) -> None:
    taro, hanako, ichiro, household_no = family(client)
    refused(
        client,
        engine,
        relocate(household_no, members=[{"atena_no": taro, "relationship": "世帯主"}]),
        409,
        "household_head_change_required",
    )
    refused(
        client,
        engine,
        relocate(household_no, members=[{"atena_no": ichiro, "relationship": "子"}]),
        422,
        "exactly_one_head",
    )
    event = post(client, relocate(household_no, members=[{"atena_no": ichiro, "relationship": "世帯主"}]))
    assert [p["atena_no"] for p in event["persons"]] == [ichiro]
    moved = resident(client, ichiro)["current"]
    assert moved["household_no"] != household_no
    assert (moved["relationship"], moved["head_name"]) == ("世帯主", "山田　一郎")
    assert moved["address"] == "岩手県大槌町桜台7番1号　ハイツ桜 102号"
    assert moved["prior_address"] == "岩手県大槌町本町一丁目2番3号"
    assert [m["atena_no"] for m in household(client, household_no)["members"]] == [taro, hanako]
    # The mother then joins her son's household at his address.
    joined = post(
        client,
        relocate(
            household_no,
            members=[{"atena_no": hanako, "relationship": "母"}],
            to_household_no=moved["household_no"],
            event_date=days(0),
        ),
    )
    assert [p["atena_no"] for p in joined["persons"]] == [hanako]  # 太郎 stays, still 世帯主
    assert [m["relationship"] for m in household(client, moved["household_no"])["members"]] == [
        "世帯主",
        "母",
    ]
    assert resident(client, taro)["current"]["relationship"] == "世帯主"


def test_joining_a_household_elsewhere_is_refused(client: TestClient, engine: Engine) -> None:
    taro, _hanako, ichiro, household_no = family(client)
    post(client, relocate(household_no, members=[{"atena_no": ichiro, "relationship": "世帯主"}]))
    son = resident(client, ichiro)["current"]["household_no"]
    elsewhere = {**relocate(household_no), "address": {"area": "港町", "number": "1番"}}
    refused(
        client,
        engine,
        {**elsewhere, "members": [{"atena_no": taro, "relationship": "父"}], "to_household_no": son},
        422,
        "address_mismatch",
    )
    refused(client, engine, {**relocate(household_no), "to_household_no": son}, 422, "members_required")


def test_entitlement_items_from_move_in_and_correction(client: TestClient, engine: Engine) -> None:
    body = {
        "type": "domestic_move_in",
        "event_date": days(-5),
        "previous_address": "宮城県石巻市",
        "address": {"area": "本町一丁目", "number": "3番"},
        "persons": [
            {
                **person("高橋", "茂", ("タカハシ", "シゲル"), "1950-04-01", "male", "世帯主"),
                "entitlements": {
                    "nhi_qualified": True,
                    "nhi_acquired_on": "令和2年4月1日",
                    "elector_registered": True,
                },
            }
        ],
    }
    atena = post(client, body)["persons"][0]["atena_no"]
    items = resident(client, atena)["current"]["entitlements"]
    assert (items["nhi_qualified"], items["nhi_acquired_on"], items["elector_registered"]) == (
        True,
        "2020-04-01",
        True,
    )
    assert items["pension_qualified"] is False
    post(
        client,
        {
            "type": "ex_officio_correction",
            "event_date": days(0),
            "atena_no": atena,
            "corrections": {
                "entitlements": {
                    "pension_qualified": True,
                    "basic_pension_no": "1234567890",
                    "pension_category": "第1号",
                    "child_allowance_from": "2026-04",
                }
            },
            "reason_detail": "国民年金 資格取得の通知",
        },
    )
    items = resident(client, atena)["current"]["entitlements"]
    assert (items["pension_qualified"], items["basic_pension_no"], items["nhi_qualified"]) == (
        True,
        "1234567890",
        True,
    )
    bad = {**body["persons"][0], "entitlements": {"nhi_acquired_on": "2020-02-30"}}
    refused(
        client,
        engine,
        {**body, "persons": [bad]},
        422,
        "impossible_date",
        "persons[0].entitlements.nhi_acquired_on",
    )
    bad_month = {**body["persons"][0], "entitlements": {"child_allowance_from": "2026-13"}}
    refused(client, engine, {**body, "persons": [bad_month]}, 422, "invalid_string_pattern_mismatch")
