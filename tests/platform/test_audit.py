"""The audit hash chain on both engines: untouched chains verify, any single edit, deletion, insertion,
reordering or truncation of rows is found and named (R14: 1,000 random cases per engine, each rolled back)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from jichitai.platform.audit import (
    AuditEntry,
    _chain_rows,
    _row_digest,
    append_entry,
    entry_digest,
    verify_chain,
)
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
    engine: Engine,
    tenant: Tenant,
    tamper: Callable[[Session], None],
    public_key: Ed25519PublicKey | None = None,
) -> tuple[int | None, str | None]:
    """Apply a tamper inside a transaction, verify within it, and roll everything back.

    With ``public_key`` the signed heads are checked too when the chain itself verifies (as
    ``jichitai audit verify`` does); the answer is the first bad entry or head and the reason.
    """
    with Session(engine) as session:
        tamper(session)
        session.flush()
        verdict = verify_chain(session, tenant)
        result = verdict.first_bad, verdict.reason
        if verdict.ok and public_key is not None:
            heads = verify_heads(session, tenant, public_key)
            result = heads.first_bad, heads.reason
        session.rollback()
    return result


def test_untouched_chains_verify(engine: Engine, chains: tuple[Tenant, Tenant]) -> None:
    with Session(engine) as session:
        for tenant in chains:
            verdict = verify_chain(session, tenant)
            assert (verdict.ok, verdict.checked) == (True, ENTRIES)


def test_the_verifier_hashes_rows_exactly_as_entries_are_hashed(
    engine: Engine, chains: tuple[Tenant, Tenant]
) -> None:
    """The verifier's row digest (no ORM objects) and the append path's entry digest agree byte for byte."""
    town, _ = chains
    with Session(engine) as session:
        rows = list(_chain_rows(session, town, batch=7))
        entries = session.query(AuditEntry).filter_by(lg_code=town.lg_code).order_by(AuditEntry.seq).all()
        assert [r[0] for r in rows] == list(range(1, ENTRIES + 1))
        assert [_row_digest(town.lg_code, r) for r in rows] == [entry_digest(e) for e in entries]
        assert [entry_digest(e) for e in entries] == [e.entry_hash for e in entries]


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


# --- R14: a thousand random single-row mutations ------------------------------------------------------

R14_CASES = 1000
EDITS: list[tuple[str, Callable[[AuditEntry], object]]] = [
    ("actor", lambda _e: "intruder"),
    ("role", lambda _e: "改ざん"),
    ("purpose", lambda _e: "不正"),
    ("action", lambda _e: "registry:resident:export"),
    ("subject", lambda _e: "0000000000"),
    ("request_id", lambda _e: "forged"),
    ("outcome", lambda _e: "denied"),
    ("details", lambda e: {**e.details, "forged": True}),
    ("recorded_at", lambda e: e.recorded_at + dt.timedelta(microseconds=1)),
    ("prev_hash", lambda _e: "f" * 64),
    ("entry_hash", lambda _e: "e" * 64),
]
CHAIN_COLUMNS = [c.name for c in AuditEntry.__table__.columns if c.name not in ("lg_code", "seq")]
Case = tuple[Callable[[Session], None], tuple[int, str]]


def _edit(town: Tenant, rng: random.Random) -> Case:
    seq = rng.randint(1, ENTRIES)
    column, value = rng.choice(EDITS)

    def tamper(session: Session) -> None:
        row = session.get(AuditEntry, (town.lg_code, seq))
        assert row is not None
        setattr(row, column, value(row))

    reason = "link to the previous entry broken" if column == "prev_hash" else "entry altered"
    return tamper, (seq, reason)


def _delete(town: Tenant, rng: random.Random) -> Case:
    seq = rng.randint(1, ENTRIES)

    def tamper(session: Session) -> None:
        session.execute(
            text("DELETE FROM audit_entry WHERE lg_code = :c AND seq = :s"), {"c": town.lg_code, "s": seq}
        )

    return tamper, (seq, "missing entry (deleted)")


def _forge(session: Session, town: Tenant, seq: int) -> None:
    """A forged entry at ``seq``, correctly linked to and hashed after the entry before it."""
    before = session.get(AuditEntry, (town.lg_code, seq - 1)) if seq > 1 else None
    forged = AuditEntry(
        lg_code=town.lg_code,
        seq=seq,
        recorded_at=before.recorded_at if before else dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        actor="ghost",
        action="registry:resident:read",
        subject="0000000001",
        outcome="ok",
        details={},
        prev_hash=before.entry_hash if before else "0" * 64,
    )
    forged.entry_hash = entry_digest(forged)
    session.add(forged)
    session.flush()


def _insert_at_end(town: Tenant, _rng: random.Random) -> Case:
    """Appended after the last entry, the counter not told."""
    return (lambda session: _forge(session, town, ENTRIES + 1)), (
        ENTRIES + 1,
        "entry beyond the recorded count (inserted)",
    )


def _insert_inside(town: Tenant, rng: random.Random) -> Case:
    """Slipped in at ``seq``: later entries renumbered up by one and the counter raised to match."""
    seq = rng.randint(1, ENTRIES)

    def tamper(session: Session) -> None:
        params = {"c": town.lg_code, "s": seq}
        # Two steps, so no intermediate state repeats a primary key.
        session.execute(
            text("UPDATE audit_entry SET seq = -seq - 1 WHERE lg_code = :c AND seq >= :s"), params
        )
        session.execute(text("UPDATE audit_entry SET seq = -seq WHERE lg_code = :c AND seq < 0"), params)
        session.execute(
            text(
                "UPDATE tenant_sequence SET last_value = last_value + 1 WHERE lg_code = :c AND name = 'audit'"
            ),
            params,
        )
        session.expire_all()
        _forge(session, town, seq)

    return tamper, (seq + 1, "link to the previous entry broken")


def _reorder(town: Tenant, rng: random.Random) -> Case:
    first, second = sorted(rng.sample(range(1, ENTRIES + 1), 2))

    def tamper(session: Session) -> None:
        one, two = (session.get(AuditEntry, (town.lg_code, seq)) for seq in (first, second))
        assert one is not None
        assert two is not None
        values = [{c: getattr(row, c) for c in CHAIN_COLUMNS} for row in (one, two)]
        for row, other in ((one, values[1]), (two, values[0])):
            for column, value in other.items():
                setattr(row, column, value)

    return tamper, (first, "link to the previous entry broken")


def _truncate(town: Tenant, rng: random.Random) -> Case:
    """The last k entries removed; the counter still knows how many there were."""
    keep = ENTRIES - rng.randint(1, 10)

    def tamper(session: Session) -> None:
        session.execute(
            text("DELETE FROM audit_entry WHERE lg_code = :c AND seq > :s"), {"c": town.lg_code, "s": keep}
        )

    return tamper, (keep + 1, "missing entry (deleted)")


def _truncate_and_lower_the_counter(town: Tenant, rng: random.Random) -> Case:
    """The last k entries removed and the counter lowered to match: only the signed head can tell."""
    keep = ENTRIES - rng.randint(1, 10)

    def tamper(session: Session) -> None:
        params = {"c": town.lg_code, "s": keep}
        session.execute(text("DELETE FROM audit_entry WHERE lg_code = :c AND seq > :s"), params)
        session.execute(
            text("UPDATE tenant_sequence SET last_value = :s WHERE lg_code = :c AND name = 'audit'"), params
        )

    return tamper, (ENTRIES, "chain differs from its signed head (rewritten)")


MUTATIONS: list[Callable[[Tenant, random.Random], Case]] = [
    _edit,
    _edit,
    _delete,
    _insert_at_end,
    _insert_inside,
    _reorder,
    _truncate,
    _truncate_and_lower_the_counter,
]


def test_r14_a_thousand_random_mutations_are_all_flagged(
    engine: Engine, chains: tuple[Tenant, Tenant], tmp_path: Path
) -> None:
    """Edit, delete, insert, reorder or truncate at random (the chain's head signed first, as the periodic
    signer does): every case is flagged, at the entry the mutation touched, with the right reason."""
    town, other = chains
    key = load_or_create_key(tmp_path, town.lg_code)
    with UnitOfWork(engine) as uow:
        assert sign_head(uow.session, town, key) is not None
        uow.commit()
    rng = random.Random(14)
    kinds: dict[str, int] = {}
    missed = []
    for case in range(R14_CASES):
        mutation = MUTATIONS[case % len(MUTATIONS)]
        tamper, expected = mutation(town, rng)
        kinds[mutation.__name__] = kinds.get(mutation.__name__, 0) + 1
        found = tampered(engine, town, tamper, key.public_key())
        if found != expected:
            missed.append((case, mutation.__name__, expected, found))
    assert missed == []
    assert sum(kinds.values()) == R14_CASES
    assert min(kinds.values()) >= R14_CASES // len(MUTATIONS)
    with Session(engine) as session:  # every case was rolled back
        assert verify_chain(session, town).ok
        assert verify_chain(session, other).ok
        assert verify_heads(session, town, key.public_key()).ok
