"""The register's test factories make real residents: the services' rules, numbers and audit all apply."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from jichitai.modules.registry import under_support_measure
from jichitai.modules.registry.records import queries
from jichitai.platform.audit import verify_chain
from jichitai.platform.clock import today_jst
from jichitai.platform.db import read_session
from jichitai.platform.tenancy import Tenant

from .factories import certificate, family, support_measure


@pytest.mark.parametrize("members", [1, 2, 5])
def test_a_family_is_a_household_of_current_residents(
    engine: Engine, towns: tuple[Tenant, Tenant], members: int
) -> None:
    town, other = towns
    made = family(engine, town, members=members)
    again = family(engine, town, members=members)
    assert len(made.atena_nos) == members
    assert made.household_no != again.household_no
    assert set(made.atena_nos).isdisjoint(again.atena_nos)
    with read_session(engine) as session:
        shown = queries.household_members(session, town, made.household_no)
        assert shown[0].atena_no == made.head
        assert sorted(r.atena_no for r in shown) == sorted(made.atena_nos)
        assert queries.household_members(session, other, made.household_no) == []
        assert verify_chain(session, town).ok


def test_a_measure_protects_and_a_certificate_is_issued(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town, _ = towns
    made = family(engine, town, members=2)
    assert certificate(engine, town, made.head) >= 1
    support_measure(engine, town, made.atena_nos[1])
    with read_session(engine) as session:
        assert under_support_measure(session, town, made.atena_nos[1], today_jst())
        assert not under_support_measure(session, town, made.head, today_jst())


def test_a_family_needs_one_to_five_members(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    for members in (0, 6):
        with pytest.raises(ValueError, match="members"):
            family(engine, towns[0], members=members)
