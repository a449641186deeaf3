"""The register's change feed: gap-free and ordered over several kinds of 異動, never carrying 個人番号;
its PULL API (paging, one audit entry per person shown, refusals, bad parameters); and persons and
households as registered on a given day across a 転居 and a 取消し."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jichitai.modules.registry import changes_since, household_as_of, person_as_of
from jichitai.modules.registry.permissions import Action
from jichitai.platform.audit import AuditEntry
from jichitai.platform.db import read_session
from jichitai.platform.errors import NotFound
from jichitai.platform.tenancy import Tenant

from ...conftest import TOWN_A, TOWN_B, StaffHeaders
from .test_api_life_story import days, juminhyo, move_in_family, my_number, person

BASE = f"/api/v1/municipalities/{TOWN_A.lg_code}/registry"
TARO_MY_NUMBER = my_number("62149832025")


def post(client: TestClient, body: dict[str, Any], base: str = BASE, **kwargs: Any) -> dict[str, Any]:
    response = client.post(f"{base}/events", json=body, **kwargs)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@dataclass
class Story:
    """Town A's story: six 異動 of five kinds; town B has one of its own."""

    taro: str
    hanako: str
    ichiro: str
    sakura: str
    home: str
    """The family's household."""
    own: str
    """The household 一郎 starts when he moves out of the family's home."""


@pytest.fixture
def story(client: TestClient, staff: StaffHeaders) -> Story:
    moved_in = move_in_family(client)  # 1: 国内転入 of three, 本町一丁目 (30 days ago)
    taro, hanako, ichiro = (p["atena_no"] for p in moved_in["persons"])
    home = client.get(f"{BASE}/residents/{taro}").json()["current"]["household_no"]
    born = post(  # 2: 出生 (20 days ago)
        client,
        {
            "type": "birth",
            "event_date": days(-20),
            "household_no": home,
            "child": person("山田", "さくら", ("ヤマダ", "サクラ"), days(-20), "female", "子"),
        },
    )
    sakura = born["persons"][0]["atena_no"]
    post(  # 3: 一郎 moves within the town and heads a household of his own (10 days ago)
        client,
        {
            "type": "relocation",
            "event_date": days(-10),
            "household_no": home,
            "address": {"area": "新町三丁目", "number": "1番1号"},
            "members": [{"atena_no": ichiro, "relationship": "世帯主"}],
        },
    )
    own = client.get(f"{BASE}/residents/{ichiro}").json()["current"]["household_no"]
    post(  # 4: the family moves to 栄町二丁目 (5 days ago)
        client,
        {
            "type": "relocation",
            "event_date": days(-5),
            "household_no": home,
            "address": {"area": "栄町二丁目", "number": "5番7号"},
        },
    )
    mistaken = post(  # 5: a 転居 of 一郎 recorded by mistake (3 days ago) ...
        client,
        {
            "type": "relocation",
            "event_date": days(-3),
            "household_no": own,
            "address": {"area": "港町一丁目", "number": "9番9号"},
        },
    )
    post(  # 6: ... and cancelled
        client,
        {
            "type": "cancellation",
            "event_date": days(-1),
            "cancels_event_no": mistaken["event_no"],
            "reason_detail": "誤記載のため",
        },
    )
    town_b = f"/api/v1/municipalities/{TOWN_B.lg_code}/registry"
    post(
        client,
        {
            "type": "overseas_move_in",
            "event_date": days(-2),
            "previous_address": "アメリカ合衆国",
            "address": {"area": "志津川", "number": "1番地"},
            "persons": [
                person(
                    "佐藤",
                    "一",
                    ("サトウ", "ハジメ"),
                    "1970-01-01",
                    "male",
                    "世帯主",
                    juminhyo_code=juminhyo("2345678901"),
                )
            ],
        },
        base=town_b,
        headers=staff("registry_clerk", TOWN_B, purpose="resident_registry"),
    )
    return Story(taro, hanako, ichiro, sakura, home, own)


def test_the_feed_is_gap_free_ordered_and_without_my_number(engine: Engine, story: Story) -> None:
    with read_session(engine) as session:
        changes = changes_since(session, TOWN_A, 0, 100)
        assert [c.position for c in changes] == [1, 2, 3, 4, 5, 6]
        assert [c.kind for c in changes] == [
            "domestic_move_in",
            "birth",
            "relocation",
            "relocation",
            "relocation",
            "cancellation",
        ]
        assert [c.position for c in changes_since(session, TOWN_A, 2, 2)] == [3, 4]
        assert changes_since(session, TOWN_A, 6, 10) == []
        assert [c.position for c in changes_since(session, TOWN_B, 0, 10)] == [1]  # numbered per town
    text = json.dumps([c.body for c in changes], ensure_ascii=False)
    assert "my_number" not in text
    assert TARO_MY_NUMBER not in text
    assert "kana_key" not in text

    moved_in, born, left, _, _, cancelled = (c.body for c in changes)
    assert moved_in["event_no"] == 1
    assert moved_in["event_date"] == days(-30)
    assert [(p["atena_no"], p["history_no_before"], p["history_no_after"]) for p in moved_in["persons"]] == [
        (story.taro, None, 1),
        (story.hanako, None, 1),
        (story.ichiro, None, 1),
    ]
    taro = moved_in["persons"][0]
    assert (taro["family_name"], taro["given_name"], taro["household_no"]) == ("山田", "太郎", story.home)
    assert (taro["status"], taro["address_area"], taro["birth_date"]) == (
        "resident",
        "本町一丁目",
        "1980-05-05",
    )
    assert moved_in["households"] == [
        {
            "household_no": story.home,
            "created": True,
            "head_name": "山田　太郎",
            "joined": sorted([story.taro, story.hanako, story.ichiro]),
            "left": [],
        }
    ]
    assert born["households"][0]["joined"] == [story.sakura]
    assert [(h["household_no"], h["created"], h["joined"], h["left"]) for h in left["households"]] == sorted(
        [(story.home, False, [], [story.ichiro]), (story.own, True, [story.ichiro], [])]
    )
    assert cancelled["cancels_event_no"] == 5
    assert cancelled["persons"][0]["address_area"] == "新町三丁目"  # the state before the mistake


def test_persons_and_households_as_of_a_day(engine: Engine, story: Story) -> None:
    from datetime import date

    def on(n: int) -> date:
        return date.fromisoformat(days(n))

    with read_session(engine) as session:
        assert person_as_of(session, TOWN_A, story.taro, on(-31)) is None  # not yet registered
        first = person_as_of(session, TOWN_A, story.taro, on(-30))
        assert first is not None
        assert (first["history_no"], first["address_area"]) == (1, "本町一丁目")
        assert "my_number" not in first
        before_move = person_as_of(session, TOWN_A, story.taro, on(-6))
        after_move = person_as_of(session, TOWN_A, story.taro, on(-5))
        assert before_move is not None
        assert after_move is not None
        assert (before_move["address_area"], after_move["address_area"]) == ("本町一丁目", "栄町二丁目")
        # The cancelled 転居 never counts: on its day 一郎 still lived in 新町三丁目.
        for n in (-3, -2, 0):
            ichiro = person_as_of(session, TOWN_A, story.ichiro, on(n))
            assert ichiro is not None
            assert ichiro["address_area"] == "新町三丁目"
        with pytest.raises(NotFound):
            person_as_of(session, TOWN_A, "9999999999", on(0))
        with pytest.raises(NotFound):  # another town's numbering: B has no 4th person
            person_as_of(session, TOWN_B, story.sakura, on(0))

        def members(household_no: str, n: int) -> list[str]:
            return [m["given_name"] for m in household_as_of(session, TOWN_A, household_no, on(n))["members"]]

        assert members(story.home, -31) == []
        assert members(story.home, -25) == ["太郎", "花子", "一郎"]
        assert members(story.home, -15) == ["太郎", "花子", "一郎", "さくら"]
        assert members(story.home, -10) == ["太郎", "花子", "さくら"]
        assert members(story.own, -15) == []
        assert members(story.own, -10) == ["一郎"]
        home_then = household_as_of(session, TOWN_A, story.home, on(-7))
        home_now = household_as_of(session, TOWN_A, story.home, on(0))
        assert home_then["head_name"] == "山田　太郎"
        assert {m["address_area"] for m in home_then["members"]} == {"本町一丁目"}
        assert {m["address_area"] for m in home_now["members"]} == {"栄町二丁目"}
        with pytest.raises(NotFound):
            household_as_of(session, TOWN_B, story.own, on(0))


def reads_of_changes(engine: Engine, tenant: Tenant) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.action == Action.CHANGES_READ)
                .order_by(AuditEntry.seq)
            )
        )


def test_the_pull_api_pages_through_the_feed_and_audits_each_person(
    client: TestClient, engine: Engine, story: Story
) -> None:
    path = f"{BASE}/changes"
    first = client.get(path, params={"after": 0, "limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [i["position"] for i in page["items"]] == [1, 2]
    assert [i["kind"] for i in page["items"]] == ["domestic_move_in", "birth"]
    assert (page["next_after"], page["head"]) == (2, 6)
    assert TARO_MY_NUMBER not in first.text  # not even for a clerk who may see 個人番号 elsewhere
    entries = reads_of_changes(engine, TOWN_A)
    assert sorted(e.subject or "" for e in entries) == sorted(
        [story.taro, story.hanako, story.ichiro, story.sakura]
    )
    assert {e.actor for e in entries} == {"registry-clerk1"}
    assert {e.purpose for e in entries} == {"resident_registry"}
    assert next(e for e in entries if e.subject == story.sakura).details["event_nos"] == [2]

    positions = [1, 2]
    after = page["next_after"]
    while after < page["head"]:
        page = client.get(path, params={"after": after, "limit": 2}).json()
        positions += [i["position"] for i in page["items"]]
        after = page["next_after"]
    assert positions == [1, 2, 3, 4, 5, 6]
    caught_up = client.get(path, params={"after": 6}).json()
    assert caught_up == {"items": [], "next_after": 6, "head": 6}
    # Pages [3, 4]: 一郎, then the three who stayed; [5, 6]: 一郎 twice, one entry naming both events.
    assert len(reads_of_changes(engine, TOWN_A)) == 4 + 4 + 1
    assert reads_of_changes(engine, TOWN_A)[-1].details["event_nos"] == [5, 6]
    assert reads_of_changes(engine, TOWN_B) == []


def test_the_pull_api_refuses_cleanly(client: TestClient, staff: StaffHeaders, story: Story) -> None:
    path = f"{BASE}/changes"
    assert client.get(path, headers=staff("admin")).status_code == 403  # no registry:resident:read
    other = client.get(f"/api/v1/municipalities/{TOWN_B.lg_code}/registry/changes")
    missing = client.get("/api/v1/municipalities/999999/registry/changes")
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()  # another town answers exactly like a missing one
    for params in (
        {"after": -1},
        {"after": "abc"},
        {"after": 2**31},
        {"after": "99999999999999999999999"},
        {"limit": 0},
        {"limit": 501},
        {"limit": "1.5"},
    ):
        response = client.get(path, params=params)
        assert response.status_code in (400, 422), (params, response.text)
        assert response.json()["error"]["code"], params
    assert client.get(path, params={"limit": 500}).status_code == 200
