"""Search through the API: kana rules, 名-only, kanji, dates in both calendars, address, codes, paging."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .test_api_life_story import BASE, days, juminhyo, person, post


def seed(client: TestClient) -> dict[str, str]:
    people = [
        ("佐藤", "太郎", ("サトウ", "タロウ"), "1980-05-05", "male", "世帯主"),
        ("佐藤", "花子", ("サトウ", "ハナコ"), "1982-02-02", "female", "妻"),
        ("斎藤", "次郎", ("サイトウ", "ジロウ"), "1990-01-08", "male", "子"),
        ("伊藤", "サトコ", ("イトウ", "サトコ"), "1989-01-08", "female", "同居人"),
    ]
    event = post(
        client,
        {
            "type": "domestic_move_in",
            "event_date": days(-3),
            "previous_address": "東京都",
            "address": {"area": "本町一丁目", "number": "2番3号"},
            "persons": [
                person(*p, **({"juminhyo_code": juminhyo("1234567890")} if i == 0 else {}))
                for i, p in enumerate(people)
            ],
        },
    )
    return {p[1]: e["atena_no"] for p, e in zip(people, event["persons"], strict=True)}


def names(client: TestClient, **params: Any) -> list[str]:
    response = client.get(f"{BASE}/residents", params=params)
    assert response.status_code == 200, response.text
    return [r["given_name"] for r in response.json()["items"]]


def test_kana_search_rules(client: TestClient) -> None:
    seed(client)
    assert names(client, kana="さとう") == ["太郎", "花子"]
    assert names(client, kana="ｻﾄｰ ﾀﾛｰ") == ["太郎"]
    assert names(client, kana="サトオタロオ") == ["太郎"]
    assert names(client, kana="サトウ", match="exact") == []
    assert names(client, kana="サトウタロウ", match="exact") == ["太郎"]
    # 名-only search; a person matching both the full-name and the given-name key appears once.
    assert names(client, kana="サト") == ["太郎", "花子", "サトコ"]
    assert names(client, kana="ジロー") == ["次郎"]
    assert names(client, kana="トウ", match="partial") == ["サトコ", "次郎", "太郎", "花子"]


def test_other_criteria(client: TestClient) -> None:
    ids = seed(client)
    assert names(client, name="佐藤") == ["太郎", "花子"]
    assert names(client, name="佐藤 花子") == ["花子"]
    assert names(client, birth_date="平成元年1月8日") == ["サトコ"]
    assert names(client, birth_date="1990-01-08") == ["次郎"]
    assert names(client, address="本町一丁目2") == ["太郎", "花子", "次郎", "サトコ"]
    assert names(client, juminhyo_code=juminhyo("1234567890")) == ["太郎"]
    assert names(client, atena_no=ids["花子"]) == ["花子"]
    assert names(client, kana="サトウ", birth_date="1982-02-02") == ["花子"]


def test_paging(client: TestClient) -> None:
    """Full-name matches come first in kana order, then 名-only matches (イトウ サトコ)."""
    seed(client)
    first = client.get(f"{BASE}/residents", params={"kana": "サ", "per_page": 2}).json()
    second = client.get(f"{BASE}/residents", params={"kana": "サ", "per_page": 2, "page": 2}).json()
    assert ([r["given_name"] for r in first["items"]], first["has_next"]) == (["次郎", "太郎"], True)
    assert ([r["given_name"] for r in second["items"]], second["has_next"]) == (["花子", "サトコ"], False)


def test_removed_records_on_request(client: TestClient) -> None:
    ids = seed(client)
    post(client, {"type": "death", "event_date": days(0), "atena_no": ids["次郎"]})
    assert names(client, kana="サイトウ") == []
    assert names(client, kana="サイトウ", status="removed") == ["次郎"]
    assert names(client, kana="サ", status="all") == ["次郎", "太郎", "花子", "サトコ"]
