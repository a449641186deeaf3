"""Staff accounts in bulk (devdata.staff): they sign in, hold their roles, are audited like create_user."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from jichitai.devdata.staff import create_bulk_staff, login_names
from jichitai.platform.audit import AuditEntry, verify_chain
from jichitai.platform.auth.models import StaffUser
from jichitai.platform.auth.services import Policy, login_staff, roles_of
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import Conflict, InvalidInput
from jichitai.platform.names import Action
from jichitai.platform.tenancy import Tenant

PASSWORD = "bulk staff passphrase 2026"


def test_bulk_staff_sign_in_with_their_roles_and_are_audited(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    created = create_bulk_staff(engine, towns, 3, PASSWORD, ["registry_clerk"])

    assert created == {town.lg_code: ["clerk-001", "clerk-002", "clerk-003"] for town in towns}
    for town in towns:
        with read_session(engine) as session:
            hashes = session.scalars(
                select(StaffUser.password_hash).where(StaffUser.lg_code == town.lg_code)
            ).all()
            assert len(hashes) == 3
            assert len(set(hashes)) == 1  # hashed once, shared
            assert [r.code for r in roles_of(session, town, "clerk-002")] == ["registry_clerk"]
            entries = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.lg_code == town.lg_code, AuditEntry.action == Action.ADMIN_USER_CREATE)
                .order_by(AuditEntry.seq)
            ).all()
            assert [(e.actor, e.details) for e in entries] == [
                ("cli", {"login_name": name, "roles": ["registry_clerk"]}) for name in created[town.lg_code]
            ]
            assert verify_chain(session, town).ok
        # Every account signs in with the shared password, for the purposes its role allows.
        for name in ("clerk-001", "clerk-003"):
            with UnitOfWork(engine) as uow:
                issued = login_staff(
                    uow, town.lg_code, name, PASSWORD, kind="token", policy=Policy(), purpose="certificate"
                )
            assert issued.credential.purpose == "certificate"


def test_bulk_staff_refuses_what_create_user_refuses(engine: Engine, towns: tuple[Tenant, Tenant]) -> None:
    town = towns[0]
    with pytest.raises(InvalidInput) as weak:
        create_bulk_staff(engine, [town], 2, "password", ["registry_clerk"])
    assert weak.value.code == "weak_password"
    with pytest.raises(InvalidInput) as unknown:
        create_bulk_staff(engine, [town], 2, PASSWORD, ["no_such_role"])
    assert unknown.value.code == "unknown_role"
    create_bulk_staff(engine, [town], 2, PASSWORD, ["registry_clerk"])
    with pytest.raises(Conflict):  # nothing of the second attempt is written
        create_bulk_staff(engine, [town], 3, PASSWORD, ["registry_clerk"])
    with read_session(engine) as session:
        names = session.scalars(select(StaffUser.login_name).where(StaffUser.lg_code == town.lg_code)).all()
    assert sorted(names) == ["clerk-001", "clerk-002"]


def test_login_names_are_padded_to_sort() -> None:
    assert login_names("c", 2) == ["c-001", "c-002"]
    assert login_names("c", 1000)[-1] == "c-1000"
