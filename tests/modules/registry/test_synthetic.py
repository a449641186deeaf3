"""The synthetic population: deterministic, realistic, valid in every code, loadable on both engines."""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from jichitai.devdata.registry import Batch, bulk, capacity, generate
from jichitai.devdata.registry.bulk import TABLES, load_population
from jichitai.devdata.registry.vocabulary import FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.models import ENTITLEMENT_COLUMNS, PersonRecord
from jichitai.modules.registry.records.rules import EVENT_KINDS, HEAD
from jichitai.modules.registry.records.schemas import ForeignCategory
from jichitai.modules.registry.records.snapshots import refresh_keys
from jichitai.platform.db import read_session
from jichitai.platform.jp import (
    juminhyo_code_is_valid,
    validate_atena_number,
    validate_my_number,
    validate_relationship,
)
from jichitai.platform.tenancy import Tenant
from tests.modules.registry.test_api_life_story import move_in_family

TODAY = dt.date(2025, 6, 1)
LG = "034614"
N = 4000

Row = dict[str, Any]


def run(n: int = N, seed: int = 7, lg_code: str = LG, **extra: Any) -> Iterator[Batch]:
    return generate(
        lg_code,
        n,
        seed,
        first_atena_seq=1,
        first_household_seq=1,
        first_event_no=1,
        today=TODAY,
        town_name="大槌町",
        **extra,
    )


def merged(batches: Iterator[Batch]) -> Batch:
    whole = Batch()
    for batch in batches:
        for (_name, rows), (_same, more) in zip(whole.tables(), batch.tables(), strict=True):
            rows.extend(more)
        whole.residents += batch.residents
    return whole


@pytest.fixture(scope="module")
def town() -> Batch:
    return merged(run(batch_persons=1000))


def current(batch: Batch) -> list[Row]:
    return [r for r in batch.records if r["is_current"]]


def residents(batch: Batch) -> list[Row]:
    return [r for r in current(batch) if r["status"] == "resident"]


# --- determinism ------------------------------------------------------------------------------------------


def test_same_seed_same_rows_different_seed_different_rows() -> None:
    first, again = merged(run(1500)), merged(run(1500))
    assert first.tables() == again.tables()
    other = merged(run(1500, seed=8))
    assert [r["family_name"] for r in other.records] != [r["family_name"] for r in first.records]
    elsewhere = merged(run(1500, lg_code="046060"))
    assert {r["address_area"] for r in elsewhere.records} != {r["address_area"] for r in first.records}


def test_exactly_n_residents_within_the_reserved_numbers(town: Batch) -> None:
    assert town.residents == N == len(residents(town))
    need = capacity(N)
    assert len(town.persons) <= need.atena
    assert len(town.households) <= need.households
    assert len(town.events) <= need.events
    assert [e["event_no"] for e in town.events] == list(range(1, len(town.events) + 1))


def test_batches_hold_whole_households() -> None:
    for batch in run(3000, batch_persons=500):
        households = {h["household_no"] for h in batch.households}
        assert {r["household_no"] for r in batch.records} <= households
        assert {r["event_no"] for r in batch.records} <= {e["event_no"] for e in batch.events}
        assert {r["atena_no"] for r in batch.records} == {p["atena_no"] for p in batch.persons}


# --- rows match the tables --------------------------------------------------------------------------------


def test_every_column_present_and_required_columns_filled(town: Batch) -> None:
    """Rows carry every column except the 法7条 items, which start as the database's defaults."""
    optional = set(ENTITLEMENT_COLUMNS)
    for name, rows in town.tables():
        table = TABLES[name]
        names = {c.name for c in table.columns} - optional
        required = {c.name for c in table.columns if not c.nullable} - optional
        for row in rows:
            assert set(row) - optional == names, name
            assert not [c for c in required if row[c] is None], name


def test_search_keys_equal_those_of_the_services(town: Batch) -> None:
    for row in town.records[::7]:
        record = PersonRecord(**row)
        refresh_keys(record)
        assert (record.kana_key, record.given_kana_key, record.name_key, record.address_key) == (
            row["kana_key"],
            row["given_kana_key"],
            row["name_key"],
            row["address_key"],
        )


def test_events_are_historical_and_typed(town: Batch) -> None:
    for event in town.events:
        kind = EVENT_KINDS[event["event_type"]]
        assert event["category"] == kind.category
        assert event["reason"] == kind.reason or event["reason"] == "国外転出"
        assert event["event_date"] <= TODAY
        assert event["processed_on"] == event["event_date"]
        assert event["recorded_at"].tzinfo is not None
        assert event["recorded_at"].date() == event["event_date"]
        assert event["details"] == {"synthetic": True}
        assert (event["notified_on"] is not None) == kind.notification


# --- history ----------------------------------------------------------------------------------------------


def test_one_current_record_per_person_and_consecutive_history(town: Batch) -> None:
    by_person: dict[str, list[Row]] = collections.defaultdict(list)
    for record in town.records:
        by_person[record["atena_no"]].append(record)
    persons = {p["atena_no"]: p for p in town.persons}
    assert set(by_person) == set(persons)
    for atena_no, records in by_person.items():
        numbers = [r["history_no"] for r in records]
        assert numbers == list(range(1, len(records) + 1))
        assert [r["is_current"] for r in records] == [False] * (len(records) - 1) + [True]
        assert persons[atena_no]["current_history_no"] == numbers[-1]
        assert persons[atena_no]["created_event_no"] == records[0]["event_no"]


def test_every_record_linked_to_its_event(town: Batch) -> None:
    links = {(lk["event_no"], lk["atena_no"]): lk for lk in town.event_persons}
    assert len(links) == len(town.event_persons) == len(town.records)
    for record in town.records:
        link = links[(record["event_no"], record["atena_no"])]
        assert link["history_no_after"] == record["history_no"]
        assert link["history_no_before"] == (record["history_no"] - 1 or None)


def test_relocations_keep_the_prior_address(town: Batch) -> None:
    events = {e["event_no"]: e for e in town.events}
    moved = [r for r in town.records if events[r["event_no"]]["event_type"] == "relocation"]
    assert len({r["household_no"] for r in moved}) > 0.08 * len(town.households)
    for record in moved:
        assert str(record["prior_address"]).startswith("岩手県大槌町")
        assert record["address_set_on"] == events[record["event_no"]]["event_date"]


def test_removed_records_are_written_by_their_events(town: Batch) -> None:
    events = {e["event_no"]: e for e in town.events}
    removed = [r for r in current(town) if r["status"] != "resident"]
    assert 0.03 <= len(removed) / len(town.persons) <= 0.10
    statuses = collections.Counter(r["status"] for r in removed)
    assert statuses["moved_out"] > 0
    assert statuses["deceased"] > 0
    for record in removed:
        event = events[record["event_no"]]
        assert record["removed_on"] == event["event_date"]
        if record["status"] == "deceased":
            assert (event["event_type"], record["removal_reason"]) == ("death", "死亡")
        else:
            assert event["event_type"] == "move_out"
            assert record["removal_reason"] in ("国内転出", "国外転出")
            assert record["move_out_destination"]


def test_every_household_with_residents_has_one_resident_head(town: Batch) -> None:
    members: dict[str, list[Row]] = collections.defaultdict(list)
    for record in residents(town):
        members[record["household_no"]].append(record)
    for household in members.values():
        heads = [m for m in household if m["relationship"] == HEAD]
        assert len(heads) == 1
        head = heads[0]
        expected = f"{head['family_name']}　{head['given_name']}".strip("　") or head["name_roman"]
        assert {m["head_name"] for m in household} == {expected}
        assert len({(m["address_area"], m["address_number"], m["address_building"]) for m in household}) == 1


def test_relationships_are_valid(town: Batch) -> None:
    labels = collections.Counter(r["relationship"] for r in town.records)
    for label in labels:
        assert validate_relationship(label) == label
    assert {"世帯主", "妻", "夫", "子", "父", "母", "子の妻", "子の子"} <= set(labels)


def test_spouses_are_of_opposite_sex_and_similar_age(town: Batch) -> None:
    heads = {r["household_no"]: r for r in current(town) if r["relationship"] == HEAD}
    for record in current(town):
        head = heads.get(record["household_no"])
        if head is None or record["relationship"] not in ("妻", "夫"):
            continue
        assert record["sex"] != head["sex"]
        assert abs((record["birth_date"] - head["birth_date"]).days) < 20 * 366
    for record in current(town):
        head = heads.get(record["household_no"])
        if head is not None and record["relationship"] == "子" and head["relationship"] == HEAD:
            assert record["birth_date"] > head["birth_date"]


# --- the shape of the town --------------------------------------------------------------------------------


def age(record: Row) -> float:
    return (TODAY - record["birth_date"]).days / 365.2425


def test_ages_follow_the_pyramid(town: Batch) -> None:
    people = residents(town)
    old = sum(age(r) >= 65 for r in people) / len(people)
    young = sum(age(r) < 15 for r in people) / len(people)
    assert 0.20 <= old <= 0.40
    assert 0.08 <= young <= 0.18
    assert min(age(r) for r in people) >= 0


def test_household_sizes_like_the_census(town: Batch) -> None:
    sizes = collections.Counter(collections.Counter(r["household_no"] for r in residents(town)).values())
    total = sum(sizes.values())
    assert 0.30 <= sizes[1] / total <= 0.46
    assert 0.20 <= sizes[2] / total <= 0.35
    assert max(sizes) <= 7


def test_given_names_fit_the_birth_year(town: Batch) -> None:
    years = {(g.kanji, g.kana): (g.first_year, g.last_year) for g in (*MALE_GIVEN_NAMES, *FEMALE_GIVEN_NAMES)}
    japanese = [r for r in town.records if r["kind"] == "japanese"]
    for record in japanese:
        first, last = years[(record["given_name"], record["given_kana"])]
        assert first <= max(record["birth_date"].year, 1910)
        assert min(record["birth_date"].year, 2025) <= last
        assert record["honseki"]
        assert record["honseki_head"]
    assert len({r["family_name"] for r in japanese}) > 100


def test_addresses_are_the_towns_chome(town: Batch) -> None:
    areas = {r["address_area"] for r in town.records}
    assert 10 <= len(areas) <= 20
    assert all(re.fullmatch(r"[0-9]+番[0-9]+号", r["address_number"]) for r in town.records)
    assert any(r["address_building"] for r in town.records)


def test_foreign_residents(town: Batch) -> None:
    people = residents(town)
    foreign = [r for r in people if r["kind"] == "foreign"]
    assert 0.015 <= len(foreign) / len(people) <= 0.04
    categories = {c.value for c in ForeignCategory}
    for record in foreign:
        assert (record["honseki"], record["honseki_head"]) == (None, None)
        assert all((record["name_roman"], record["nationality"], record["family_kana"]))
        assert record["foreign_category"] in categories
        assert re.fullmatch(r"[A-Z]{2}[0-9]{8}[A-Z]{2}", record["residence_card_no"])
        assert PersonRecord(**record).full_name()
        assert record["foreign_resident_since"] >= dt.date(2012, 7, 9)
    assert {bool(r["family_name"]) for r in foreign} == {True, False}  # with and without a kanji name
    assert len({r["nationality"] for r in foreign}) >= 3


def test_check_digits_and_uniqueness(town: Batch) -> None:
    for person in town.persons:
        validate_atena_number(person["atena_no"])
    for household in town.households:
        validate_atena_number(household["household_no"])
    people = current(town)
    codes = [r["juminhyo_code"] for r in people]
    assert len(set(codes)) == len(codes)
    assert all(juminhyo_code_is_valid(c) for c in codes)
    numbers = [r["my_number"] for r in people if r["my_number"]]
    assert len(set(numbers)) == len(numbers)
    assert all(validate_my_number(n) == n for n in numbers)
    assert 0.6 <= len(numbers) / len(people) <= 0.8


# --- loading into a real database -------------------------------------------------------------------------


def count(engine: Engine, table: str, lg_code: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE lg_code = :lg"), {"lg": lg_code}
            ).scalar_one()
        )


def test_load_population_into_the_database(
    engine: Engine, towns: tuple[Tenant, Tenant], client: TestClient
) -> None:
    town_a, town_b = towns
    stats = load_population(engine, town_a, 2000, 11, actor="test", today=TODAY)
    assert stats["residents"] == 2000
    assert count(engine, "registry_person", town_a.lg_code) == stats["persons"]
    assert count(engine, "registry_person_record", town_a.lg_code) == stats["records"]
    assert count(engine, "registry_event", town_a.lg_code) == stats["events"]
    assert count(engine, "registry_household", town_a.lg_code) == stats["households"]
    assert count(engine, "registry_event_person", town_a.lg_code) == stats["records"]
    assert count(engine, "registry_person", town_b.lg_code) == 0
    with read_session(engine) as session:
        assert queries.count_residents(session, town_a) == 2000
        sample = session.scalars(
            select(PersonRecord)
            .where(PersonRecord.lg_code == town_a.lg_code, PersonRecord.is_current.is_(True))
            .where(PersonRecord.status == "resident", PersonRecord.kind == "japanese")
            .order_by(PersonRecord.atena_no)
            .limit(1)
        ).one()
        found = queries.search_residents(
            session,
            town_a,
            queries.SearchCriteria(kana=f"{sample.family_kana} {sample.given_kana}"),
            per_page=1000,
        )
        assert sample.atena_no in {r.atena_no for r in found.items}
        assert (
            queries.search_residents(session, town_b, queries.SearchCriteria(kana=sample.family_kana)).items
            == []
        )
        members = queries.household_members(session, town_a, sample.household_no)
        assert members[0].relationship == HEAD
        unique = session.scalar(select(func.count(func.distinct(PersonRecord.juminhyo_code))))
        assert unique == count(engine, "registry_person", town_a.lg_code)
        household_no = sample.household_no
    # The services accept the generated town as it is: a 転居 of a generated household is recorded.
    response = client.post(
        f"/api/v1/municipalities/{town_a.lg_code}/registry/events",
        json={
            "type": "relocation",
            "event_date": TODAY.isoformat(),
            "household_no": household_no,
            "address": {"area": "本町一丁目", "number": "99番1号"},
        },
    )
    assert response.status_code == 201, response.text


def test_load_population_without_copy_rights_inserts_the_same_rows(
    engine: Engine, towns: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL role under row-level security may not COPY FROM: the loader inserts instead."""
    town_a, _ = towns
    monkeypatch.setattr(bulk, "may_copy_from", lambda _conn: False)
    stats = load_population(engine, town_a, 300, 5, actor="test", today=TODAY)
    assert count(engine, "registry_person", town_a.lg_code) == stats["persons"]
    assert count(engine, "registry_event", town_a.lg_code) == stats["events"]
    with read_session(engine) as session:
        assert queries.count_residents(session, town_a) == 300


def test_a_bulk_load_keeps_the_change_feed_gap_free_and_in_commit_order(
    engine: Engine, towns: tuple[Tenant, Tenant], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A counter 異動 recorded between two batches of a load is numbered after the batches already written
    and before the next ones, so a feed reader that has seen it never misses a batch (no numbers reserved
    up front and written later)."""
    town_a, _ = towns
    recorded: list[int] = []
    original = bulk.write_batch

    def write_then_interleave(conn: Any, batch: Batch) -> None:
        original(conn, batch)
        if not recorded:  # after the first batch commits, the counter records a 転入
            conn.commit()
            recorded.append(move_in_family(client)["event_no"])

    monkeypatch.setattr(bulk, "write_batch", write_then_interleave)
    monkeypatch.setattr(bulk, "generate", lambda *a, **k: generate(*a, **{**k, "batch_persons": 50}))
    load_population(engine, town_a, 300, 5, actor="test", today=TODAY)
    with read_session(engine) as session:
        numbers = session.scalars(
            text("SELECT event_no FROM registry_event WHERE lg_code = :lg ORDER BY event_no"),
            {"lg": town_a.lg_code},
        ).all()
    assert numbers == list(range(1, len(numbers) + 1))  # gap-free
    # the counter's event lies between the batches: what a feed reader finds after it was committed later
    assert numbers[0] < recorded[0] < numbers[-1]
