"""Services on the real databases: concurrent writers, atomicity of a refused use case."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import TypeAdapter
from sqlalchemy import Engine, func, select

from jichitai.modules.registry.records import schemas
from jichitai.modules.registry.records.models import Event, Person, PersonRecord
from jichitai.modules.registry.records.services.record import record_event
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import Conflict
from jichitai.platform.tenancy import Tenant

from .test_api_life_story import days, person

BODY = TypeAdapter(schemas.EventBody)


def move_in(i: int) -> schemas.MoveIn:
    body = BODY.validate_python(
        {
            "type": "domestic_move_in",
            "event_date": days(-1),
            "previous_address": "東京都",
            "address": {"area": "本町一丁目", "number": f"{i}番"},
            "persons": [
                person("佐藤", f"{i}郎", ("サトウ", "イチロウ"), "1970-01-01", "male", "世帯主"),
                person("佐藤", "花", ("サトウ", "ハナ"), "1972-01-01", "female", "妻"),
            ],
        }
    )
    assert isinstance(body, schemas.MoveIn)
    return body


def record(engine: Engine, tenant: Tenant, body: schemas.EventBody) -> int:
    with UnitOfWork(engine) as uow:
        return record_event(uow, tenant, body, actor="test").event.event_no


def test_concurrent_writers_get_unique_consecutive_numbers(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    town_a, town_b = towns
    jobs = [(town_a if i % 2 else town_b, move_in(i)) for i in range(32)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda job: record(engine, *job), jobs))
    assert sorted(numbers) == sorted(list(range(1, 17)) * 2)
    with engine.connect() as conn:
        for tenant in towns:
            persons = (
                conn.execute(select(Person.atena_no).where(Person.lg_code == tenant.lg_code)).scalars().all()
            )
            assert len(persons) == len(set(persons)) == 32


def test_a_refused_use_case_writes_nothing(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town_a, _ = towns
    first = record(engine, town_a, move_in(1))
    with UnitOfWork(engine) as uow:
        atena = uow.session.scalars(select(Person.atena_no).where(Person.lg_code == town_a.lg_code)).first()
    death = BODY.validate_python({"type": "death", "event_date": days(0), "atena_no": atena})
    # The head dies leaving one member, who becomes head: allowed. A second death of the same person is not.
    record(engine, town_a, death)
    with pytest.raises(Conflict):
        record(engine, town_a, death)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Event)).scalar_one() == 2
        assert conn.execute(select(func.max(Event.event_no))).scalar_one() == first + 1
        assert conn.execute(select(func.count()).select_from(PersonRecord)).scalar_one() == 4
