"""The audit hash chain on both engines: untouched chains verify, any single edit, deletion, insertion or
reordering of a row is found and named (many random cases, each rolled back)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from jichitai.platform.audit import AuditEntry, append_entry, entry_digest, verify_chain
from jichitai.platform.audit_heads import load_or_create_key, sign_head, verify_heads
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import Tenant

ENTRIES = 41
"""Every town's chain starts with its creation entry; the fixture appends 40 more."""
CASES = 15


@pytest.fixture
def chains(engine: Engine, towns: tuple[Tenant, Tenant]) -> tuple[Tenant, Tenant]:
    rng = random.Random(7)
    for i in range(ENTRIES - 1):
        for tenant in towns:
            with UnitOfWork(engine) as uow:
                append_entry(
                    uow.session,
                    tenant,
                    actor=rng.choice(["suzuki", "tanaka", "sato"]),
                    role="住民記録担当",
                    purpose="住民基本台帳事務",
                    action=rng.choice(["registry:resident:read", "registry:event:record"]),
                    subject=f"{rng.randrange(10**9):010d}",
                    request_id=f"req-{i}",
                    details={"n": i, "名前": "テスト"},
                )
                uow.commit()
    return towns


def tampered(
    engine: Engine, tenant: Tenant, tamper: Callable[[Session], None]
) -> tuple[int | None, str | None]:
    """Apply a tamper inside a transaction, verify within it, and roll everything back."""
    with Session(engine) as session:
        tamper(session)
        verdict = verify_chain(session, tenant)
        session.rollback()
    return verdict.first_bad, verdict.reason


def test_untouched_chains_verify(engine: Engine, chains: tuple[Tenant, Tenant]) -> None:
    with Session(engine) as session:
        for tenant in chains:
            verdict = verify_chain(session, tenant)
            assert (verdict.ok, verdict.checked) == (True, ENTRIES)


def test_an_edited_entry_is_named(engine: Engine, chains: tuple[Tenant, Tenant]) -> None:
    town, other = chains
    rng = random.Random(1)
    for _ in range(CASES):
        seq = rng.randint(1, ENTRIES)
        column, value = rng.choice(
            [
                ("actor", "intruder"),
                ("subject", "0000000000"),
                ("outcome", "denied"),
                ("purpose", "不正"),
                ("action", "registry:resident:export"),
            ]
        )
        sql = text(f"UPDATE audit_entry SET {column} = :v WHERE lg_code = :c AND seq = :s")
        assert tampered(
            engine, town, lambda s, q=sql, v=value, n=seq: s.execute(q, {"v": v, "c": town.lg_code, "s": n})
        ) == (
            seq,
            "entry altered",
        )
    with Session(engine) as session:
        assert verify_chain(session, other).ok


def test_a_deleted_entry_is_named(engine: Engine, chains: tuple[Tenant, Tenant]) -> None:
    town, _ = chains
    rng = random.Random(2)
    for seq in [1, ENTRIES, *(rng.randint(2, ENTRIES - 1) for _ in range(CASES))]:
        sql = text("DELETE FROM audit_entry WHERE lg_code = :c AND seq = :s")
        first_bad, reason = tampered(
            engine, town, lambda s, q=sql, n=seq: s.execute(q, {"c": town.lg_code, "s": n})
        )
        assert (first_bad, reason) == (seq, "missing entry (deleted)")


def test_an_inserted_entry_is_named(engine: Engine, chains: tuple[Tenant, Tenant]) -> None:
    """A forged entry appended with a correct hash, but without the counter knowing of it."""
    town, _ = chains

    def forge(session: Session) -> None:
        last = session.get(AuditEntry, (town.lg_code, ENTRIES))
        assert last is not None
        forged = AuditEntry(
            lg_code=town.lg_code,
            seq=ENTRIES + 1,
            recorded_at=last.recorded_at,
            actor="ghost",
            action="registry:resident:read",
            outcome="ok",
            details={},
            prev_hash=last.entry_hash,
        )
        forged.entry_hash = entry_digest(forged)
        session.add(forged)
        session.flush()

    assert tampered(engine, town, forge) == (ENTRIES + 1, "entry beyond the recorded count (inserted)")


def test_reordered_entries_are_named(engine: Engine, chains: tuple[Tenant, Tenant]) -> None:
    """Two entries swap places: every column but the sequence number is exchanged."""
    town, _ = chains
    rng = random.Random(3)
    columns = [
        "recorded_at",
        "actor",
        "role",
        "purpose",
        "action",
        "subject",
        "request_id",
        "outcome",
        "details",
        "prev_hash",
        "entry_hash",
    ]
    for _ in range(CASES):
        first, second = sorted(rng.sample(range(1, ENTRIES + 1), 2))

        def swap(session: Session, a: int = first, b: int = second) -> None:
            one, two = (session.get(AuditEntry, (town.lg_code, seq)) for seq in (a, b))
            assert one is not None
            assert two is not None
            values = [{c: getattr(row, c) for c in columns} for row in (one, two)]
            for row, other in ((one, values[1]), (two, values[0])):
                for column, value in other.items():
                    setattr(row, column, value)
            session.flush()

        first_bad, _reason = tampered(engine, town, swap)
        assert first_bad == first


def test_signed_heads_catch_a_consistently_rewritten_chain(
    engine: Engine, chains: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    town, _ = chains
    key = load_or_create_key(tmp_path / "keys", town.lg_code)
    assert load_or_create_key(tmp_path / "keys", town.lg_code).public_key().public_bytes_raw() == (
        key.public_key().public_bytes_raw()
    )
    with UnitOfWork(engine) as uow:
        head = sign_head(uow.session, town, key)
        assert head is not None
        assert sign_head(uow.session, town, key) is None  # nothing new to sign
        uow.commit()

    def rewrite(session: Session) -> None:
        """Edit entry 5 and recompute every later hash: the chain itself still verifies."""
        prev = None
        for seq in range(1, ENTRIES + 1):
            row = session.get(AuditEntry, (town.lg_code, seq))
            assert row is not None
            if seq == 5:
                row.actor = "intruder"
            if prev is not None:
                row.prev_hash = prev
            row.entry_hash = prev = entry_digest(row)
        session.flush()
        assert verify_chain(session, town).ok

    with Session(engine) as session:
        assert verify_heads(session, town, key.public_key()).ok
        rewrite(session)
        verdict = verify_heads(session, town, key.public_key())
        assert (verdict.first_bad, verdict.reason) == (
            ENTRIES,
            "chain differs from its signed head (rewritten)",
        )
        session.rollback()
    with Session(engine) as session:
        stranger = load_or_create_key(tmp_path / "other", town.lg_code)
        verdict = verify_heads(session, town, stranger.public_key())
        assert (verdict.first_bad, verdict.reason) == (ENTRIES, "signature of the head is not genuine")
