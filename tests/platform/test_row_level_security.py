"""PostgreSQL row-level security hides other tenants' rows from a transaction that declared its tenant."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from jichitai.platform.db import read_session
from jichitai.platform.modules import catalog, is_town_keyed
from jichitai.platform.tenancy import Municipality, Tenant, declare_all_towns, get_tenant

from ..modules.registry.test_services_concurrency import move_in, record

PROBE_ROLE = "jichitai_rls_probe"


def test_policies_hide_other_tenants(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature; SQLite relies on the scoped queries alone")
    town_a, town_b = towns
    record(engine, town_a, move_in(1))
    record(engine, town_b, move_in(2))
    with engine.begin() as conn:
        create = f"CREATE ROLE {PROBE_ROLE} NOLOGIN"
        conn.execute(text(f"DO $$ BEGIN {create}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {PROBE_ROLE}"))
    with read_session(engine) as session:
        # Superusers bypass RLS, so act as an ordinary role, as production does.
        session.execute(text(f"SET LOCAL ROLE {PROBE_ROLE}"))
        unfiltered = "SELECT DISTINCT lg_code FROM {} ORDER BY 1"
        tables = (
            "registry_person_record",
            "registry_event",
            "registry_person",
            "tenant_sequence",
            "audit_entry",
        )
        for table in tables:  # nothing declared: nothing seen (fail closed)
            assert session.execute(text(unfiltered.format(table))).scalars().all() == [], table
        declare_all_towns(session)  # deliberate installation-wide work
        everything = session.execute(text(unfiltered.format("registry_person_record"))).scalars().all()
        assert everything == sorted([town_a.lg_code, town_b.lg_code])
        get_tenant(session, town_a.lg_code)
        for table in tables:
            assert session.execute(text(unfiltered.format(table))).scalars().all() == [town_a.lg_code]


def test_every_town_keyed_table_has_row_level_security_enabled_and_forced(engine: Engine) -> None:
    """Found from the declarations, not a hand list: a module's new town table without a policy fails here."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature; SQLite relies on the scoped queries alone")
    # The tenant directory itself is read before any tenant is declared (sign-in, the town list).
    directory = Municipality.__table__
    town_tables = sorted(t.name for t in catalog().tables if is_town_keyed(t) and t is not directory)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(:n)"),
            {"n": town_tables},
        ).all()
    flags = {name: (enabled, forced) for name, enabled, forced in rows}
    assert {name: flags.get(name) for name in town_tables} == dict.fromkeys(town_tables, (True, True))
