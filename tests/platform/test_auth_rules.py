"""The pure access rules: purposes pick the roles used, permissions come only from those roles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jichitai.platform.auth.passwords import check_policy, hash_password, verify_password
from jichitai.platform.auth.permissions import (
    AccessRefused,
    RoleDefinition,
    permissions,
    purposes,
    resolve_access,
    standard_roles,
    validate_role,
)
from jichitai.platform.errors import InvalidInput

STANDARD_ROLES = standard_roles()
PERMISSIONS = permissions()
PURPOSES = purposes()

ROLES = {r.code: r for r in STANDARD_ROLES}


def test_standard_roles_use_only_known_permissions_and_purposes() -> None:
    assert all(validate_role(r) == [] for r in STANDARD_ROLES)
    assert validate_role(RoleDefinition("x", "x", frozenset({"nope"}), frozenset({"registry:fly"}))) == [
        "未知の権限: registry:fly",
        "未知の利用目的: nope",
    ]


def test_registry_clerk_sees_my_number_and_tax_does_not() -> None:
    clerk = resolve_access([ROLES["registry_clerk"]], "resident_registry")
    assert clerk.my_number
    assert clerk.allows("registry:event:record")
    tax = resolve_access([ROLES["tax"]], None)
    assert tax.purpose == "resident_tax"
    assert tax.allows("registry:resident:read")
    assert not tax.my_number


def test_a_purpose_only_uses_the_roles_that_allow_it() -> None:
    both = [ROLES["tax"], ROLES["registry_clerk"]]
    as_tax = resolve_access(both, "resident_tax")
    assert as_tax.roles == ("tax",)
    assert not as_tax.allows("registry:event:record")
    assert not as_tax.my_number
    with pytest.raises(AccessRefused) as refused:
        resolve_access(both, None)
    assert refused.value.code == "purpose_required"
    with pytest.raises(AccessRefused) as refused:
        resolve_access([ROLES["tax"]], "resident_registry")
    assert refused.value.code == "purpose_not_allowed"
    with pytest.raises(AccessRefused) as refused:
        resolve_access([ROLES["tax"]], "sightseeing")
    assert refused.value.code == "unknown_purpose"
    with pytest.raises(AccessRefused) as refused:
        resolve_access([], "resident_tax")
    assert refused.value.code == "no_role"


def test_administrators_and_auditors_never_read_residents() -> None:
    for code in ("admin", "auditor"):
        role = ROLES[code]
        for purpose in role.purposes:
            access = resolve_access([role], purpose)
            assert not access.allows("registry:resident:read")
            assert not access.my_number


roles_strategy = st.lists(st.sampled_from(STANDARD_ROLES), min_size=1, max_size=4)


@given(roles=roles_strategy, purpose=st.sampled_from(sorted(PURPOSES)))
def test_access_never_exceeds_the_roles_for_the_purpose(roles: list[RoleDefinition], purpose: str) -> None:
    if all(purpose not in r.purposes for r in roles):
        with pytest.raises(AccessRefused, match="利用目的"):
            resolve_access(roles, purpose)
        return
    access = resolve_access(roles, purpose)
    allowed = set().union(*(r.permissions for r in roles if purpose in r.purposes))
    assert access.permissions == allowed
    assert access.permissions <= set(PERMISSIONS)
    assert access.my_number == (PURPOSES[purpose].my_number and "registry:mynumber:read" in allowed)


def test_password_policy_and_hashing() -> None:
    for bad in ("short", "sato-password-long", "aaaaaaaaaaaaaaaa"):
        with pytest.raises(InvalidInput):
            check_policy(bad, "sato")
    check_policy("correct horse battery staple", "sato")
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapler")
    assert not verify_password(None, "anything at all")
    assert not verify_password("not a hash", "anything at all")
