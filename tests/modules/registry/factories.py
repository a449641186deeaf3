"""Test factories of the register: residents, support measures and certificates made through its services.

Other modules' tests (child allowance, resident tax …) need residents too; they take them from here rather
than inserting rows, so every made resident went through the same rules, numbering, audit and journal as one
recorded at the counter. Each factory commits its own unit of work and returns the numbers the test needs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, select

from jichitai.modules.registry.certificates.services import request_certificate
from jichitai.modules.registry.records import schemas
from jichitai.modules.registry.records.models import PersonRecord
from jichitai.modules.registry.records.services.record import record_event
from jichitai.modules.registry.support.schemas import CertificateIn, SupportMeasureIn
from jichitai.modules.registry.support.services import start_support_measure
from jichitai.platform.audit import Actor
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.tenancy import Tenant

EVENT = TypeAdapter(schemas.EventBody)
CLERK = Actor("factory-clerk", role="registry_clerk", purpose="resident_registry")
OFFICER = Actor("factory-officer", role="support_officer", purpose="support_measure")
_numbers = itertools.count(1)

# (relationship, sex, given name, given kana, age in years) of the members a family is made of, in order
MEMBERS = (
    ("世帯主", "male", "太郎", "タロウ", 45),
    ("妻", "female", "花子", "ハナコ", 43),
    ("子", "male", "一郎", "イチロウ", 12),
    ("子", "female", "桜", "サクラ", 8),
    ("子", "male", "次郎", "ジロウ", 3),
)


@dataclass(frozen=True)
class Family:
    """A household moved in by one 転入: its number, the event and the members' 宛名番号 in body order."""

    household_no: str
    event_no: int
    atena_nos: tuple[str, ...]

    @property
    def head(self) -> str:
        """The 世帯主's 宛名番号."""
        return self.atena_nos[0]


def _birth(years: int, on: dt.date) -> str:
    return on.replace(year=on.year - years, month=4, day=2).isoformat()


def family(
    engine: Engine,
    tenant: Tenant,
    *,
    members: int = 2,
    family_name: str = "試験",
    family_kana: str = "シケン",
    on: dt.date | None = None,
    **extra: Any,
) -> Family:
    """A 転入 of a household of ``members`` (1–5: head, spouse, then children), recorded by the service."""
    if not 1 <= members <= len(MEMBERS):
        raise ValueError(f"members must be 1..{len(MEMBERS)}")
    day = on or today_jst() - dt.timedelta(days=1)
    n = next(_numbers)
    persons = [
        {
            "family_name": family_name,
            "given_name": given,
            "family_kana": family_kana,
            "given_kana": kana,
            "kana_confirmed": True,
            "birth_date": _birth(age, day),
            "sex": sex,
            "relationship": relationship,
        }
        for relationship, sex, given, kana, age in MEMBERS[:members]
    ]
    body = EVENT.validate_python(
        {
            "type": "domestic_move_in",
            "event_date": day.isoformat(),
            "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
            "address": {"area": "本町一丁目", "number": f"{n}番{n}号"},
            "persons": persons,
            **extra,
        }
    )
    with UnitOfWork(engine) as uow:
        recorded = record_event(uow, tenant, body, actor=CLERK)
    atena_nos = tuple(p.atena_no for p in recorded.persons)
    with read_session(engine) as session:
        household_no = session.scalar(
            select(PersonRecord.household_no).where(
                PersonRecord.lg_code == tenant.lg_code,
                PersonRecord.atena_no == atena_nos[0],
                PersonRecord.is_current.is_(True),
            )
        )
    assert household_no is not None
    return Family(household_no, recorded.event.event_no, atena_nos)


def support_measure(engine: Engine, tenant: Tenant, atena_no: str, **extra: Any) -> int:
    """A 仮支援措置 (DV) protecting ``atena_no``; its 措置番号."""
    body = SupportMeasureIn.model_validate(
        {
            "atena_no": atena_no,
            "kind": "spousal_violence",
            "counterparty": {"name": "加害　太郎", "kana": "カガイ　タロウ", "birth_date": "1980-01-02"},
            "reason": "警察署の意見書あり",
            **extra,
        }
    )
    with UnitOfWork(engine) as uow:
        return start_support_measure(uow, tenant, body, actor=OFFICER).measure_no


def certificate(engine: Engine, tenant: Tenant, atena_no: str, **extra: Any) -> int:
    """A 住民票の写し of ``atena_no`` requested by the person; its 発行番号."""
    body = CertificateIn.model_validate(
        {
            "type": "resident_record",
            "style": "individual",
            "atena_nos": [atena_no],
            "requester": {"category": "self", "name": "本人", "atena_no": atena_no},
            **extra,
        }
    )
    clerk = Actor("factory-clerk", role="registry_clerk", purpose="certificate")
    with UnitOfWork(engine) as uow:
        issued = request_certificate(
            uow, tenant, body, actor=clerk, principal_may_override=False, reveal_my_number=False
        )
    return issued.issue_no
