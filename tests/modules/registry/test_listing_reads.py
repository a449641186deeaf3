"""Listings that show residents inside other objects record one read per person shown, as searches do."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import TOWN_B, StaffHeaders
from tests.platform.test_auth_api import entries

from .test_api_life_story import BASE, days, move_in_family, person, post

READ = "registry:resident:read"


def reads_since(engine: Engine, seq: int, lg_code: str | None = None) -> Counter[str]:
    found = entries(engine, lg_code, action=READ) if lg_code else entries(engine, action=READ)
    return Counter(
        e.subject or "" for e in found if e.seq > seq and (e.details or {}).get("via") == "event_list"
    )


def last_seq(engine: Engine) -> int:
    return max((e.seq for e in entries(engine)), default=0)


def single(client: TestClient, family: str, number: str) -> dict[str, Any]:
    return post(
        client,
        {
            "type": "domestic_move_in",
            "event_date": days(-3),
            "previous_address": "東京都千代田区霞が関一丁目1番1号",
            "address": {"area": "本町一丁目", "number": number},
            "persons": [person(family, "一人", ("ヒトリ", "カズト"), "1990-01-01", "male", "世帯主")],
        },
    )


def test_an_event_listing_reads_every_person_the_events_name(client: TestClient, engine: Engine) -> None:
    family = move_in_family(client)
    alone = single(client, "独立", "9番9号")
    before = last_seq(engine)
    listed = client.get(f"{BASE}/events")
    assert listed.status_code == 200
    family_persons = {p["atena_no"] for p in family["persons"]}
    alone_persons = {p["atena_no"] for p in alone["persons"]}
    read = reads_since(engine, before)
    assert set(read) == family_persons | alone_persons
    assert all(count == 1 for count in read.values())  # each person once per listing
    listing = [e for e in entries(engine, action="registry:event:read") if e.seq > before]
    assert len(listing) == 1
    assert listing[0].details["shown"] == len(family_persons | alone_persons)


def test_a_page_reads_only_the_persons_of_the_events_on_it(client: TestClient, engine: Engine) -> None:
    family = move_in_family(client)
    alone = single(client, "独立", "9番9号")
    before = last_seq(engine)
    newest = client.get(f"{BASE}/events", params={"per_page": 1})  # newest first: the single move-in
    assert [e["event_no"] for e in newest.json()["items"]] == [alone["event_no"]]
    assert set(reads_since(engine, before)) == {p["atena_no"] for p in alone["persons"]}
    before = last_seq(engine)
    older = client.get(f"{BASE}/events", params={"per_page": 1, "page": 2})
    assert [e["event_no"] for e in older.json()["items"]] == [family["event_no"]]
    assert set(reads_since(engine, before)) == {p["atena_no"] for p in family["persons"]}


def test_an_empty_or_filtered_listing_reads_no_one_else(
    client: TestClient, engine: Engine, staff: StaffHeaders
) -> None:
    move_in_family(client)
    before = last_seq(engine)
    none = client.get(f"{BASE}/events", params={"event_type": "death"})
    assert none.json()["items"] == []
    assert reads_since(engine, before) == Counter()
    # Another town's clerk listing its own (empty) town reads nobody of this town.
    other = staff("registry_clerk", town=TOWN_B, purpose="resident_registry")
    before = last_seq(engine)
    b_base = f"/api/v1/municipalities/{TOWN_B.lg_code}/registry"
    assert client.get(f"{b_base}/events", headers=other).json()["items"] == []
    assert reads_since(engine, before) == Counter()
