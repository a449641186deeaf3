"""Tamper evidence that survives deleting the evidence (issue 11, item 2), on both engines.

An attacker who controls the database — not the key directory, not the off-site custodian — deletes the
signed heads, cuts the chain's tail and lowers the counter, or rewrites the tail with every hash recomputed.
The chain then links perfectly; verification must still fail, from what lives outside the database: the
town's signing key and the record of the newest head signed beside it, the newest audit entry each off-site
custodian holds, and the signing schedule. The signer must refuse to bless such a chain with a new head.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from jichitai.platform.audit import AuditEntry, Entry, append_entries, entry_digest
from jichitai.platform.audit_heads import (
    HEADS_DELETED,
    REWRITTEN_BEFORE_SIGNED,
    TRUNCATED_BEFORE_SIGNED,
    AuditChainHead,
    SigningRefused,
    last_signed,
    load_or_create_key,
    sign_head,
    sign_town,
)
from jichitai.platform.audit_schedule import Schedule, SigningIncomplete, sign_due_heads
from jichitai.platform.audit_verify import (
    REWRITTEN_BEFORE_OFFSITE,
    STALE_HEAD,
    TRUNCATED_BEFORE_OFFSITE,
    Expectations,
    TownVerdict,
    verify_town,
)
from jichitai.platform.db import UnitOfWork, utcnow
from jichitai.platform.offsite import capture
from jichitai.platform.offsite.http_custodian import save_token
from jichitai.platform.offsite.keys import KeyStore
from jichitai.platform.offsite.shipper import add_custodian, ship_all
from jichitai.platform.tenancy import Tenant
from jichitai.settings import Settings

from ..conftest import TOWN_A, StaffHeaders
from .offsite import test_http_custodian
from .offsite.test_http_custodian import Partner

partner_site = test_http_custodian.partner
"""Another installation on loopback as the town's custodian (the off-site tests' fixture)."""

MINUTES = dt.timedelta(minutes=1)
SCHEDULE = Schedule(interval=5 * MINUTES, every_entries=1000)
"""The server's default schedule: a pass every 5 minutes, a head per 1000 entries or hourly."""


@pytest.fixture(autouse=True)
def _capture() -> None:
    capture.install()  # as in the app and the CLI: committed town changes are journaled, so they ship


@pytest.fixture
def expect(tmp_path: Path) -> Expectations:
    return Expectations(key_dir=tmp_path / "audit-keys", offsite_key_dir=tmp_path / "keys", schedule=SCHEDULE)


def write(engine: Engine, tenant: Tenant, count: int) -> None:
    with UnitOfWork(engine) as uow:
        append_entries(uow.session, tenant, [Entry(actor="suzuki", action="registry:resident:read")] * count)
        uow.commit()


def sql(engine: Engine, statement: str, **params: object) -> None:
    """The attacker's hand: plain SQL on the database, bypassing every service (and the journal)."""
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def delete_heads(engine: Engine, tenant: Tenant) -> None:
    sql(engine, "DELETE FROM audit_chain_head WHERE lg_code = :c", c=tenant.lg_code)


def cut_tail(engine: Engine, tenant: Tenant, keep: int) -> None:
    """Delete every entry after ``keep`` and lower the counter to match: the chain links and counts."""
    sql(engine, "DELETE FROM audit_entry WHERE lg_code = :c AND seq > :n", c=tenant.lg_code, n=keep)
    sql(
        engine,
        "UPDATE tenant_sequence SET last_value = :n WHERE lg_code = :c AND name = 'audit'",
        c=tenant.lg_code,
        n=keep,
    )


def rewrite_from(engine: Engine, tenant: Tenant, first: int) -> None:
    """Edit entry ``first`` and recompute every later hash (no key needed): the chain still links."""
    with Session(engine) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.lg_code == tenant.lg_code).order_by(AuditEntry.seq)
        ).all()
        prev = None
        for row in rows:
            if row.seq == first:
                row.actor = "intruder"
            if row.seq >= first:
                if prev is not None:
                    row.prev_hash = prev
                row.entry_hash = entry_digest(row)
            prev = row.entry_hash
        session.commit()


def heads(engine: Engine, tenant: Tenant) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditChainHead.seq).where(AuditChainHead.lg_code == tenant.lg_code).order_by("seq")
            )
        )


def failure(verdict: TownVerdict) -> tuple[bool, int | None, str | None]:
    return verdict.ok, verdict.first_bad, verdict.reason


def note_codes(verdict: TownVerdict) -> list[str]:
    return [note.code for note in verdict.notes]


def ship(engine: Engine, tenant: Tenant, tmp_path: Path) -> None:
    """Register a directory custodian (once) and ship everything the town has to it."""
    with UnitOfWork(engine) as uow:
        add_custodian(uow, tenant.lg_code, str(tmp_path / "custodian"))
    results = ship_all(engine, KeyStore(tmp_path / "keys"), lg_code=tenant.lg_code)
    assert [type(r).__name__ for r in results] == ["ShipResult"], results


# --- controls ----------------------------------------------------------------------------------------


def test_a_fresh_town_verifies_and_notes_that_no_head_is_expected_yet(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    town, _ = towns
    write(engine, town, 3)
    verdict = verify_town(engine, town.lg_code, expect)
    assert failure(verdict) == (True, None, None)
    assert (verdict.checked, verdict.heads_checked) == (4, 0)
    assert note_codes(verdict) == ["no_head_expected"]


def test_a_signed_chain_verifies_and_the_signer_records_its_newest_head(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    town, other = towns
    write(engine, town, 9)
    first = sign_town(engine, town.lg_code, expect.key_dir)
    write(engine, town, 5)
    second = sign_town(engine, town.lg_code, expect.key_dir)
    write(engine, town, 2)  # unsigned, but fresh
    assert (first and first.seq, second and second.seq) == (10, 15)
    mark = last_signed(expect.key_dir, town.lg_code)
    assert mark is not None
    record = expect.key_dir / f"{town.lg_code}.audit-head.json"
    assert (mark.seq, record.stat().st_mode & 0o777) == (15, 0o600)
    verdict = verify_town(engine, town.lg_code, expect)
    assert failure(verdict) == (True, None, None)
    assert (verdict.checked, verdict.heads_checked, verdict.notes) == (17, 2, ())
    assert failure(verify_town(engine, other.lg_code, expect)) == (True, None, None)


# --- (a) the key directory knows that heads exist ------------------------------------------------------


def test_deleting_the_heads_alone_is_found(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    town, other = towns
    write(engine, town, 9)
    sign_town(engine, town.lg_code, expect.key_dir)
    sign_town(engine, other.lg_code, expect.key_dir)
    delete_heads(engine, town)
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, None, HEADS_DELETED)
    assert failure(verify_town(engine, other.lg_code, expect)) == (True, None, None)


def test_deleting_heads_when_a_key_exists_but_nothing_was_shipped_is_found(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    """A key signed directly (no record of the newest head beside it, as before the records existed)."""
    town, _ = towns
    write(engine, town, 4)
    with UnitOfWork(engine) as uow:
        assert sign_head(uow.session, town, load_or_create_key(expect.key_dir, town.lg_code)) is not None
        uow.commit()
    assert last_signed(expect.key_dir, town.lg_code) is None
    assert failure(verify_town(engine, town.lg_code, expect)) == (True, None, None)
    delete_heads(engine, town)
    # A key younger than a minute may be a first signing whose head is not committed yet.
    assert failure(verify_town(engine, town.lg_code, expect)) == (True, None, None)
    key_file = expect.key_dir / f"{town.lg_code}.audit-ed25519.pem"
    an_hour_ago = (utcnow() - 60 * MINUTES).timestamp()
    os.utime(key_file, (an_hour_ago, an_hour_ago))
    verdict = verify_town(engine, town.lg_code, expect)
    assert failure(verdict) == (False, None, HEADS_DELETED)
    assert "no_head_expected" not in note_codes(verdict)


def test_deleting_heads_tail_and_counter_together_is_found(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    town, _ = towns
    write(engine, town, 10)
    sign_town(engine, town.lg_code, expect.key_dir)  # head 11
    write(engine, town, 5)
    delete_heads(engine, town)
    cut_tail(engine, town, keep=8)
    verdict = verify_town(engine, town.lg_code, expect)
    assert failure(verdict) == (False, 9, TRUNCATED_BEFORE_SIGNED)
    assert verdict.checked == 8  # the chain and the counter agree: only the key directory knew


def test_rewriting_the_chain_and_deleting_its_heads_is_found(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    """Without the key the attacker cannot re-sign, so the heads that would object are deleted too."""
    town, _ = towns
    write(engine, town, 10)
    sign_town(engine, town.lg_code, expect.key_dir)  # head 11
    rewrite_from(engine, town, 3)
    assert failure(verify_town(engine, town.lg_code, expect)) == (
        False,
        11,
        "chain differs from its signed head (rewritten)",
    )
    delete_heads(engine, town)
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, 11, REWRITTEN_BEFORE_SIGNED)


# --- the signer does not bless a damaged chain ----------------------------------------------------------


def test_the_signer_refuses_a_chain_whose_heads_were_deleted(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    town, other = towns
    write(engine, town, 10)
    write(engine, other, 1)
    sign_town(engine, town.lg_code, expect.key_dir)
    write(engine, town, 3)
    delete_heads(engine, town)
    cut_tail(engine, town, keep=5)
    with pytest.raises(SigningRefused, match=re.escape(TRUNCATED_BEFORE_SIGNED)):
        sign_town(engine, town.lg_code, expect.key_dir)
    with pytest.raises(SigningIncomplete) as raised:
        sign_due_heads(engine, expect.key_dir, every_entries=1)
    assert [(h.lg_code, h.seq) for h in raised.value.signed] == [(other.lg_code, 2)]  # the others still are
    assert [r.lg_code for r in raised.value.refused] == [town.lg_code]
    assert heads(engine, town) == []
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, 6, TRUNCATED_BEFORE_SIGNED)


def test_the_signer_never_makes_a_new_key_for_a_town_with_heads(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations, tmp_path: Path
) -> None:
    town, _ = towns
    write(engine, town, 2)
    sign_town(engine, town.lg_code, expect.key_dir)
    write(engine, town, 2)
    elsewhere = tmp_path / "misconfigured"
    with pytest.raises(SigningRefused, match="signing key is missing"):
        sign_town(engine, town.lg_code, elsewhere)
    assert not elsewhere.exists()
    assert heads(engine, town) == [3]


# --- (b) the off-site custodian holds the newest audit entry shipped -----------------------------------


def test_a_custodian_holding_a_newer_head_than_the_chain_is_found(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations, tmp_path: Path
) -> None:
    """Never signed, no key: only the custodian knows how long the chain was."""
    town, _ = towns
    write(engine, town, 6)
    ship(engine, town, tmp_path)
    write(engine, town, 3)
    ship(engine, town, tmp_path)  # a journal chunk after the first snapshot: the custodian holds entry 10
    clean = verify_town(engine, town.lg_code, expect)
    assert failure(clean) == (True, None, None)
    assert note_codes(clean) == []  # a head is expected: the custodian holds one
    cut_tail(engine, town, keep=7)
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, 8, TRUNCATED_BEFORE_OFFSITE)


def test_deleting_the_tail_but_keeping_the_heads_is_found(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations, tmp_path: Path
) -> None:
    town, _ = towns
    write(engine, town, 4)
    sign_town(engine, town.lg_code, expect.key_dir)  # head 5
    write(engine, town, 6)
    ship(engine, town, tmp_path)  # entry 11 held off-site
    cut_tail(engine, town, keep=8)  # above the head: the heads and the chain agree
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, 9, TRUNCATED_BEFORE_OFFSITE)
    cut_tail(engine, town, keep=3)  # below the head: the head itself objects
    assert failure(verify_town(engine, town.lg_code, expect)) == (
        False,
        5,
        "chain differs from its signed head (rewritten)",
    )


def test_rewriting_the_unsigned_tail_is_found_off_site(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations, tmp_path: Path
) -> None:
    town, _ = towns
    write(engine, town, 4)
    sign_town(engine, town.lg_code, expect.key_dir)  # head 5
    write(engine, town, 4)
    ship(engine, town, tmp_path)  # entry 9 held off-site
    rewrite_from(engine, town, 7)
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, 9, REWRITTEN_BEFORE_OFFSITE)


def test_custodians_that_cannot_answer_are_noted_not_failed(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations, tmp_path: Path
) -> None:
    town, _ = towns
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town.lg_code, "https://partner.invalid/")  # no custody token stored
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town.lg_code, str(tmp_path / "empty-custodian"))  # nothing shipped yet
    verdict = verify_town(engine, town.lg_code, expect)
    assert failure(verdict) == (True, None, None)
    assert note_codes(verdict) == ["offsite_no_head", "offsite_unreachable", "no_head_expected"]
    assert "https://partner.invalid/" in verdict.notes[1].message


# --- (c) the signing schedule bounds how long an entry stays unsigned -----------------------------------


def test_a_head_older_than_the_schedule_allows_is_stale(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations
) -> None:
    """The newest heads and the tail were deleted back to an old head; what is left is genuine but old."""
    town, _ = towns
    sign_town(engine, town.lg_code, expect.key_dir)  # head 1
    write(engine, town, 5)
    now = utcnow()
    assert failure(verify_town(engine, town.lg_code, expect, now=now + 30 * MINUTES)) == (True, None, None)
    hours_later = now + 2 * dt.timedelta(hours=1)  # the hourly pass would have signed entry 2 long ago
    assert failure(verify_town(engine, town.lg_code, expect, now=hours_later)) == (False, 2, STALE_HEAD)
    many = Expectations(expect.key_dir, expect.offsite_key_dir, Schedule(5 * MINUTES, every_entries=5))
    assert failure(verify_town(engine, town.lg_code, many, now=now + 30 * MINUTES)) == (False, 2, STALE_HEAD)
    assert failure(verify_town(engine, town.lg_code, many, now=now + 5 * MINUTES)) == (True, None, None)
    unscheduled = Expectations(expect.key_dir, expect.offsite_key_dir, schedule=None)
    verdict = verify_town(engine, town.lg_code, unscheduled, now=hours_later)
    assert failure(verdict) == (True, None, None)
    assert note_codes(verdict) == ["freshness_unchecked"]


# --- where verification is exposed ---------------------------------------------------------------------


def test_the_api_reports_deleted_heads(
    client: TestClient, engine: Engine, staff: StaffHeaders, app_settings: Settings
) -> None:
    auditor = staff("auditor")
    sign_town(engine, TOWN_A.lg_code, app_settings.resolved_audit_key_dir())
    assert client.get(f"/api/v1/municipalities/{TOWN_A.lg_code}/audit/verify", headers=auditor).json()["ok"]
    delete_heads(engine, TOWN_A)
    response = client.get(f"/api/v1/municipalities/{TOWN_A.lg_code}/audit/verify", headers=auditor)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["first_bad"], body["reason"], body["heads_checked"]) == (
        False,
        None,
        HEADS_DELETED,
        0,
    )
    assert [note["code"] for note in body["notes"]] == ["freshness_unchecked"]


def test_the_cli_verifies_and_refuses_to_sign_after_deleted_heads(
    engine: Engine, towns: tuple[Tenant, Tenant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jichitai.cli import app
    from jichitai.settings import get_settings

    town, other = towns
    monkeypatch.setenv("JICHITAI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("JICHITAI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("JICHITAI_AUDIT_KEY_DIR", str(tmp_path / "audit-keys"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        signed = runner.invoke(app, ["audit", "sign"])
        assert signed.exit_code == 0, signed.output
        delete_heads(engine, town)
        verified = runner.invoke(app, ["audit", "verify"])
        refused = runner.invoke(app, ["audit", "sign"])
    finally:
        get_settings.cache_clear()
    assert verified.exit_code == 1, verified.output
    assert f"{town.lg_code}: 改ざんを検出しました — ({HEADS_DELETED})" in verified.output
    assert f"{other.lg_code}: OK (1 件, 署名済みヘッド 1 件)" in verified.output
    assert refused.exit_code == 1, refused.output
    assert f"{town.lg_code}: 署名しませんでした" in refused.output
    assert heads(engine, town) == []
    assert (tmp_path / "audit-keys" / f"{town.lg_code}.audit-ed25519.pem").exists()


def test_the_default_key_directory_is_beside_the_data_directory_not_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JICHITAI_KEY_DIR", raising=False)
    monkeypatch.delenv("JICHITAI_AUDIT_KEY_DIR", raising=False)
    var = tmp_path / "var"
    assert Settings(var_dir=var).resolved_audit_key_dir() == tmp_path / "var.audit-keys"
    assert not Settings(var_dir=var).audit_keys_in_data_dir()
    assert Settings(var_dir=var, key_dir=tmp_path / "k").resolved_audit_key_dir() == tmp_path / "k"
    explicit = Settings(var_dir=var, key_dir=tmp_path / "k", audit_key_dir=tmp_path / "a")
    assert explicit.resolved_audit_key_dir() == tmp_path / "a"
    # An installation that kept its keys in the old default goes on using them, and is told to move them.
    load_or_create_key(var / "keys", TOWN_A.lg_code)
    assert Settings(var_dir=var).resolved_audit_key_dir() == var / "keys"
    assert Settings(var_dir=var).audit_keys_in_data_dir()


def test_a_partner_custodian_over_http_is_asked_too(
    engine: Engine, towns: tuple[Tenant, Tenant], expect: Expectations, partner_site: Partner
) -> None:
    """The custody token is read from the off-site key directory, as the shipper reads it."""
    town, _ = towns
    partner = partner_site
    save_token(expect.offsite_key_dir, partner.url, town.lg_code, partner.grant(town.lg_code))
    with UnitOfWork(engine) as uow:
        add_custodian(uow, town.lg_code, partner.url)
    write(engine, town, 5)
    (shipped,) = ship_all(engine, KeyStore(expect.offsite_key_dir), lg_code=town.lg_code)
    assert type(shipped).__name__ == "ShipResult", shipped
    assert failure(verify_town(engine, town.lg_code, expect)) == (True, None, None)
    cut_tail(engine, town, keep=2)
    assert failure(verify_town(engine, town.lg_code, expect)) == (False, 3, TRUNCATED_BEFORE_OFFSITE)
