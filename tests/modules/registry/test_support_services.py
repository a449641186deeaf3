"""DV等支援措置 and certificate requests through the services, on both engines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from jichitai.modules.registry import under_support_measure
from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.certificates.rules import CertificateOut
from jichitai.modules.registry.certificates.services import get_certificate_issue, request_certificate
from jichitai.modules.registry.records import queries, schemas
from jichitai.modules.registry.records.services.record import record_event
from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.models import SupportMeasure, SupportStatus
from jichitai.modules.registry.support.schemas import (
    CertificateIn,
    ConfirmIn,
    EndIn,
    ExtendIn,
    SupportMeasureIn,
)
from jichitai.modules.registry.support.services import (
    active_measure_for,
    confirm_support_measure,
    end_support_measure,
    extend_support_measure,
    get_support_measure,
    list_support_measures,
    start_support_measure,
)
from jichitai.platform.audit import Actor, AuditEntry, verify_chain
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from jichitai.platform.jp import my_number_check_digit
from jichitai.platform.tenancy import Tenant, TenantSequence

OFFICER = Actor("officer1", role="support_officer", purpose="support_measure")
CLERK = Actor("clerk1", role="certificate_clerk", purpose="certificate")


def ago(n: int) -> str:
    return (today_jst() - dt.timedelta(days=n)).isoformat()


def person(
    family: str, given: str, kana: tuple[str, str], birth: str, sex: str, rel: str, **extra: Any
) -> dict[str, Any]:
    return {
        "family_name": family,
        "given_name": given,
        "family_kana": kana[0],
        "given_kana": kana[1],
        "birth_date": birth,
        "sex": sex,
        "relationship": rel,
        **extra,
    }


def move_in(engine: Engine, tenant: Tenant, persons: list[dict[str, Any]], area: str) -> list[str]:
    """Record a 転入 and return the new persons' 宛名番号 in the order given."""
    body = schemas.MoveIn.model_validate(
        {
            "type": "domestic_move_in",
            "event_date": ago(60),
            "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
            "address": {"area": area, "number": "1番1号"},
            "persons": persons,
        }
    )
    with UnitOfWork(engine) as uow:
        recorded = record_event(uow, tenant, body, actor="test")
    with read_session(engine) as session:
        records = [queries.current_record(session, tenant, p.atena_no) for p in recorded.persons]
        names = {r.family_name + r.given_name: r.atena_no for r in records}
    return [names[p["family_name"] + p["given_name"]] for p in persons]


@dataclass(frozen=True)
class Town:
    """A victim (花子) with her child (さくら), the 相手方 (一郎) living elsewhere in town, a neighbour."""

    tenant: Tenant
    victim: str
    child: str
    abuser: str
    neighbour: str


@pytest.fixture
def town(engine: Engine, towns: tuple[Tenant, Tenant]) -> Town:
    tenant = towns[0]
    number = "62149832025"
    victim, child = move_in(
        engine,
        tenant,
        [
            person(
                "山田",
                "花子",
                ("ヤマダ", "ハナコ"),
                "1985-03-03",
                "female",
                "世帯主",
                my_number=number + str(my_number_check_digit(number)),
            ),
            person("山田", "さくら", ("ヤマダ", "サクラ"), "2015-06-01", "female", "子"),
        ],
        "本町一丁目",
    )
    (abuser,) = move_in(
        engine,
        tenant,
        [person("山田", "一郎", ("ヤマダ", "イチロウ"), "1980-01-02", "male", "世帯主")],
        "栄町二丁目",
    )
    (neighbour,) = move_in(
        engine,
        tenant,
        [person("佐藤", "次郎", ("サトウ", "ジロウ"), "1970-07-07", "male", "世帯主")],
        "本町一丁目",
    )
    return Town(tenant, victim, child, abuser, neighbour)


def measure_body(town: Town, **overrides: Any) -> SupportMeasureIn:
    values: dict[str, Any] = {
        "atena_no": town.victim,
        "kind": "spousal_violence",
        "counterparty": {
            "name": "山田　一郎",
            "kana": "ヤマダ　イチロウ",
            "atena_no": town.abuser,
            "birth_date": "1980-01-02",
        },
        "reason": "警察署の意見書あり",
    }
    values.update(overrides)
    return SupportMeasureIn.model_validate(values)


def start(engine: Engine, town: Town, **overrides: Any) -> SupportMeasure:
    with UnitOfWork(engine) as uow:
        return start_support_measure(uow, town.tenant, measure_body(town, **overrides), actor=OFFICER)


def certificate(subjects: list[str], requester: dict[str, Any], **extra: Any) -> CertificateIn:
    return CertificateIn.model_validate(
        {
            "type": "resident_record",
            "style": "individual",
            "atena_nos": subjects,
            "requester": requester,
            **extra,
        }
    )


def issue(
    engine: Engine,
    town: Town,
    body: CertificateIn,
    *,
    actor: Actor = CLERK,
    override: bool = False,
    reveal: bool = False,
) -> CertificateOut:
    with UnitOfWork(engine) as uow:
        return request_certificate(
            uow, town.tenant, body, actor=actor, principal_may_override=override, reveal_my_number=reveal
        )


def entries(engine: Engine, tenant: Tenant, action_prefix: str) -> list[AuditEntry]:
    with read_session(engine) as session:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.action.startswith(action_prefix))
                .order_by(AuditEntry.seq)
            )
        )
        session.expunge_all()
        return rows


def issued_count(engine: Engine, tenant: Tenant) -> int:
    with read_session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(CertificateIssue)
                .where(CertificateIssue.lg_code == tenant.lg_code)
            )
            or 0
        )


THIRD_PARTY = {"category": "third_party", "name": "債権回収　株式会社"}


# --- lifecycle -------------------------------------------------------------------------------------------


def test_lifecycle_provisional_confirm_extend_end(engine: Engine, town: Town) -> None:
    today = today_jst()
    measure = start(engine, town)
    assert (measure.measure_no, measure.status, measure.starts_on) == (1, SupportStatus.PROVISIONAL, today)
    assert measure.ends_on == rules.default_end(today)
    with read_session(engine) as session:
        assert active_measure_for(session, town.tenant, town.victim, today) is not None
        assert active_measure_for(session, town.tenant, town.child, today) is None

    with UnitOfWork(engine) as uow, pytest.raises(Conflict) as provisional:
        extend_support_measure(uow, town.tenant, 1, ExtendIn(reason="延長"), actor=OFFICER)
    assert provisional.value.code == "support_measure_provisional"

    with UnitOfWork(engine) as uow:
        confirmed = confirm_support_measure(uow, town.tenant, 1, ConfirmIn(), actor=OFFICER)
    assert (confirmed.status, confirmed.confirmed_on, confirmed.ends_on) == (
        SupportStatus.ACTIVE,
        today,
        rules.default_end(today),
    )
    with UnitOfWork(engine) as uow, pytest.raises(Conflict) as again:
        confirm_support_measure(uow, town.tenant, 1, ConfirmIn(), actor=OFFICER)
    assert again.value.code == "support_measure_not_provisional"
    with UnitOfWork(engine) as uow, pytest.raises(Conflict) as early:
        extend_support_measure(uow, town.tenant, 1, ExtendIn(reason="延長"), actor=OFFICER)
    assert early.value.code == "extension_too_early"

    with UnitOfWork(engine) as uow:
        ended = end_support_measure(uow, town.tenant, 1, EndIn(reason="申出の取下げ"), actor=OFFICER)
    assert (ended.status, ended.ended_on, ended.end_reason) == (SupportStatus.ENDED, today, "申出の取下げ")
    with read_session(engine) as session:
        assert active_measure_for(session, town.tenant, town.victim, today) is None
    with UnitOfWork(engine) as uow, pytest.raises(Conflict) as over:
        end_support_measure(uow, town.tenant, 1, EndIn(reason="重複"), actor=OFFICER)
    assert over.value.code == "support_measure_ended"

    trail = entries(engine, town.tenant, "registry:support:")
    assert [(e.action, e.subject, e.actor, e.outcome) for e in trail] == [
        ("registry:support:start", town.victim, "officer1", "ok"),
        ("registry:support:confirm", town.victim, "officer1", "ok"),
        ("registry:support:end", town.victim, "officer1", "ok"),
    ]
    assert trail[0].details["status"] == "provisional"
    assert trail[2].details["reason"] == "申出の取下げ"


def test_start_refusals_write_nothing(engine: Engine, town: Town) -> None:
    future = (today_jst() + dt.timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], type[DomainError], str, str | None]] = [
        ({"starts_on": future}, InvalidInput, "future_date", "starts_on"),
        ({"starts_on": ago(10), "ends_on": ago(11)}, InvalidInput, "invalid_support_period", "ends_on"),
        (
            {"ends_on": (today_jst() + dt.timedelta(days=400)).isoformat()},
            InvalidInput,
            "invalid_support_period",
            "ends_on",
        ),
        ({"starts_on": "令和99年13月1日"}, InvalidInput, "impossible_date", "starts_on"),
        ({"atena_no": "9999999999"}, NotFound, "not_found", None),
        ({"related_measure_no": 77}, NotFound, "not_found", "related_measure_no"),
        (
            {"counterparty": {"name": "山田花子", "atena_no": town.victim}},
            InvalidInput,
            "counterparty_is_subject",
            "counterparty.atena_no",
        ),
    ]
    for overrides, error, code, field in cases:
        with UnitOfWork(engine) as uow, pytest.raises(error) as refused:
            start_support_measure(uow, town.tenant, measure_body(town, **overrides), actor=OFFICER)
        assert refused.value.code == code, overrides
        if field is not None:
            assert refused.value.field == field
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SupportMeasure)) == 0
        assert session.get(TenantSequence, (town.tenant.lg_code, "support_measure")) is None
    assert entries(engine, town.tenant, "registry:support:") == []


def test_a_co_resident_joins_the_victims_application(engine: Engine, town: Town) -> None:
    victim = start(engine, town, provisional=False)
    child = start(engine, town, atena_no=town.child, kind="child_abuse", related_measure_no=victim.measure_no)
    grandchild = start(engine, town, atena_no=town.neighbour, related_measure_no=child.measure_no)
    assert (child.related_measure_no, grandchild.related_measure_no) == (1, 1)  # always the victim's
    with UnitOfWork(engine) as uow:
        end_support_measure(uow, town.tenant, victim.measure_no, EndIn(reason="終了"), actor=OFFICER)
    with UnitOfWork(engine) as uow, pytest.raises(Conflict) as ended:
        start_support_measure(
            uow, town.tenant, measure_body(town, related_measure_no=victim.measure_no), actor=OFFICER
        )
    assert (ended.value.code, ended.value.field) == ("support_measure_ended", "related_measure_no")


# --- alerts and extension --------------------------------------------------------------------------------


def test_alerts_list_expiring_and_recently_lapsed_measures(engine: Engine, town: Town) -> None:
    expiring = start(engine, town, provisional=False, starts_on=ago(340))
    lapsed = start(engine, town, atena_no=town.child, provisional=False, starts_on=ago(380))
    start(engine, town, atena_no=town.neighbour, provisional=False)  # fresh: no alert
    start(
        engine,
        town,
        atena_no=town.abuser,
        provisional=False,
        starts_on=ago(500),
        counterparty={"name": "誰か"},
    )  # lapsed long ago: no alert
    ended = start(engine, town, provisional=False, starts_on=ago(345))
    with UnitOfWork(engine) as uow:
        end_support_measure(uow, town.tenant, ended.measure_no, EndIn(reason="取下げ"), actor=OFFICER)

    with UnitOfWork(engine) as uow:
        page = list_support_measures(uow, town.tenant, actor=OFFICER, alerts=True)
    assert [m.measure_no for m in page.items] == [lapsed.measure_no, expiring.measure_no]
    with UnitOfWork(engine) as uow:
        everything = list_support_measures(uow, town.tenant, actor=OFFICER, per_page=3)
    assert ([m.measure_no for m in everything.items], everything.has_next) == ([1, 2, 3], True)
    with UnitOfWork(engine) as uow:
        mine = list_support_measures(uow, town.tenant, actor=OFFICER, atena_no=town.child)
    assert [m.measure_no for m in mine.items] == [lapsed.measure_no]
    reads = entries(engine, town.tenant, "registry:support:read")
    assert [e.subject for e in reads] == [
        town.child,
        town.victim,
        town.victim,
        town.child,
        town.neighbour,
        town.child,
    ]

    # The expiring one continues seamlessly; the lapsed one restarts today, leaving the gap on record.
    with UnitOfWork(engine) as uow:
        extended = extend_support_measure(
            uow, town.tenant, expiring.measure_no, ExtendIn(reason="継続"), actor=OFFICER
        )
    old_end = rules.default_end(today_jst() - dt.timedelta(days=340))
    assert (extended.starts_on, extended.ends_on, extended.period_no) == (
        today_jst() - dt.timedelta(days=340),
        rules.default_end(old_end + dt.timedelta(days=1)),
        2,
    )
    with UnitOfWork(engine) as uow:
        renewed = extend_support_measure(
            uow, town.tenant, lapsed.measure_no, ExtendIn(reason="再申出"), actor=OFFICER
        )
    assert (renewed.starts_on, renewed.ends_on) == (today_jst(), rules.default_end(today_jst()))
    extend_entries = entries(engine, town.tenant, "registry:support:extend")
    assert [e.details["lapsed"] for e in extend_entries] == [False, True]
    assert extend_entries[1].details["before"]["ends_on"] == lapsed.ends_on.isoformat()
    with UnitOfWork(engine) as uow:
        assert list_support_measures(uow, town.tenant, actor=OFFICER, alerts=True).items == []


# --- certificates ----------------------------------------------------------------------------------------


def test_a_refused_request_writes_only_its_audit_entry(engine: Engine, town: Town) -> None:
    start(engine, town)
    before = entries(engine, town.tenant, "")
    with pytest.raises(Forbidden) as refused:
        issue(engine, town, certificate([town.victim], THIRD_PARTY, purpose="債権回収"))
    assert (refused.value.code, refused.value.status) == ("support_measure_block", 403)
    assert "本町" not in refused.value.message
    after = entries(engine, town.tenant, "")
    assert [e.entry_hash for e in after[: len(before)]] == [e.entry_hash for e in before]
    (denied,) = after[len(before) :]
    assert (denied.action, denied.subject, denied.outcome, denied.actor) == (
        "registry:certificate:issue",
        town.victim,
        "denied",
        "clerk1",
    )
    assert denied.details["code"] == "support_measure_block"
    assert denied.details["measure_nos"] == [1]
    assert issued_count(engine, town.tenant) == 0
    with read_session(engine) as session:
        assert session.get(TenantSequence, (town.tenant.lg_code, "certificate_issue")) is None
        assert verify_chain(session, town.tenant).ok


def test_override_by_the_responsible_officer_is_recorded(engine: Engine, town: Town) -> None:
    start(engine, town, provisional=False)
    body = certificate(
        [town.victim, town.neighbour],
        THIRD_PARTY,
        purpose="訴訟提出",
        override={"reason": "裁判所への提出を確認済み"},
    )
    with pytest.raises(Forbidden):  # a reason without the permission changes nothing
        issue(engine, town, body)
    content = issue(engine, town, body, actor=OFFICER, override=True)
    assert (content.issue_no, content.overridden) == (1, True)
    assert [p.persons[0].atena_no for p in content.pages] == [town.victim, town.neighbour]
    with read_session(engine) as session:
        row = session.get(CertificateIssue, (town.tenant.lg_code, 1))
        assert row is not None
        assert (row.override_reason, row.overridden_measures, row.actor) == (
            "裁判所への提出を確認済み",
            [1],
            "officer1",
        )
    trail = entries(engine, town.tenant, "registry:certificate:issue")
    assert [(e.subject, e.outcome, e.actor) for e in trail] == [
        (town.victim, "denied", "clerk1"),
        (town.victim, "override", "officer1"),
        (town.neighbour, "ok", "officer1"),
    ]
    assert trail[0].details["override_requested"] is True
    assert trail[1].details["override_reason"] == "裁判所への提出を確認済み"
    assert "override_reason" not in trail[2].details


def test_the_counterparty_is_refused_even_with_an_override(engine: Engine, town: Town) -> None:
    start(engine, town)
    for requester in (
        {"category": "third_party", "name": "山田一郎"},
        {"category": "third_party", "name": "代理の名前", "atena_no": town.abuser},
        {"category": "proxy", "name": "ﾔﾏﾀﾞ ｲﾁﾛｳ"},
    ):
        body = certificate([town.victim], requester, purpose="確認", override={"reason": "審査済み"})
        with pytest.raises(Forbidden) as refused:
            issue(engine, town, body, actor=OFFICER, override=True)
        assert refused.value.code == "counterparty_request"
        assert refused.value.field == "requester"
    # Claiming to be 本人 does not help: the claim fails (not her household), and he is still the 相手方.
    own = certificate(
        [town.abuser, town.victim], {"category": "self", "name": "山田一郎", "atena_no": town.abuser}
    )
    with pytest.raises(Forbidden) as claimed:
        issue(engine, town, own)
    assert claimed.value.code == "counterparty_request"
    trail = entries(engine, town.tenant, "registry:certificate:issue")
    assert [(e.subject, e.details["code"]) for e in trail] == [(town.victim, "counterparty_request")] * 4
    assert issued_count(engine, town.tenant) == 0
    # Without a measure in the way, the failed claim is what he is told. (The neighbour lives at her 住所, so
    # while her measure is in force he is refused as its 相手方: test_dv_coresident.py.)
    with UnitOfWork(engine) as uow:
        end_support_measure(uow, town.tenant, 1, EndIn(reason="終了"), actor=OFFICER)
    with pytest.raises(InvalidInput) as mixed:
        issue(engine, town, certificate([town.abuser, town.neighbour], own.requester.model_dump()))
    assert mixed.value.code == "requester_not_in_household"


def test_the_protected_person_obtains_her_own_record(engine: Engine, town: Town) -> None:
    start(engine, town, provisional=False)
    start(engine, town, atena_no=town.child, related_measure_no=1)
    own = {"category": "self", "name": "山田花子", "atena_no": town.victim}
    body = certificate(
        [town.victim, town.child],
        own,
        style="household",
        items={"household": True, "my_number": True, "juminhyo_code": True},
    )
    with pytest.raises(Forbidden) as hidden:
        issue(engine, town, body)
    assert hidden.value.code == "my_number_not_permitted"
    content = issue(engine, town, body, reveal=True)
    (page,) = content.pages
    assert [p.atena_no for p in page.persons] == [town.victim, town.child]
    victim = page.persons[0]
    assert (victim.relationship, victim.head_name) == ("世帯主", "山田　花子")
    assert victim.my_number is not None
    assert victim.my_number.isdigit()
    assert victim.juminhyo_code is not None
    assert (victim.honseki, content.deliver_by_mail, content.overridden) == (None, False, False)
    assert content.item_labels == ["世帯主・続柄", "住民票コード", "個人番号"]
    trail = entries(engine, town.tenant, "registry:certificate:issue")
    assert [(e.subject, e.outcome, e.details.get("measure_nos")) for e in trail] == [
        (town.victim, "ok", [1]),
        (town.child, "ok", [2]),
    ]


def test_the_block_survives_move_out(engine: Engine, town: Town) -> None:
    start(engine, town, provisional=False)
    move_out = schemas.MoveOut.model_validate(
        {
            "type": "move_out",
            "event_date": ago(1),
            "atena_nos": [town.victim, town.child],
            "destination": "秘匿",
        }
    )
    with UnitOfWork(engine) as uow:
        record_event(uow, town.tenant, move_out, actor="test")
    with read_session(engine) as session:
        assert active_measure_for(session, town.tenant, town.victim, today_jst()) is not None
        # Other modules ask through the facade before disclosing an address.
        assert under_support_measure(session, town.tenant, town.victim, today_jst())
        assert not under_support_measure(session, town.tenant, town.child, today_jst())
    # Asked for a 住民票, the block answers first: nobody learns from the refusal that she moved out.
    still_resident = certificate([town.victim], THIRD_PARTY, purpose="確認")
    with pytest.raises(Forbidden) as blocked:
        issue(engine, town, still_resident)
    assert blocked.value.code == "support_measure_block"
    with pytest.raises(Conflict) as wrong_type:
        issue(engine, town, certificate([town.child], THIRD_PARTY, purpose="確認"))
    assert wrong_type.value.code == "not_a_resident"
    removed = certificate([town.victim], THIRD_PARTY, purpose="確認", type="removed_record")
    with pytest.raises(Forbidden) as refused:
        issue(engine, town, removed)
    assert refused.value.code == "support_measure_block"
    by_household = CertificateIn.model_validate(
        {
            "type": "removed_record",
            "household_no": _household_of(engine, town.tenant, town.victim),
            "requester": THIRD_PARTY,
            "purpose": "確認",
        }
    )
    with pytest.raises(Forbidden):
        issue(engine, town, by_household)
    # The child has no measure of her own; her 除票 is issued, and the 除票 items are printed.
    child = issue(engine, town, certificate([town.child], THIRD_PARTY, purpose="確認", type="removed_record"))
    person_out = child.pages[0].persons[0]
    assert (person_out.status, person_out.removal_reason, person_out.move_out_destination) == (
        "転出者",
        "国内転出",
        "秘匿",
    )
    assert child.attestation.startswith("この写しは、除票の原本")


def _household_of(engine: Engine, tenant: Tenant, atena_no: str) -> str:
    with read_session(engine) as session:
        return queries.current_record(session, tenant, atena_no).household_no


def test_an_ended_measure_no_longer_blocks(engine: Engine, town: Town) -> None:
    start(engine, town)
    with UnitOfWork(engine) as uow:
        end_support_measure(uow, town.tenant, 1, EndIn(reason="支援の必要がなくなった"), actor=OFFICER)
    content = issue(engine, town, certificate([town.victim], THIRD_PARTY, purpose="相続手続"))
    assert content.overridden is False


@pytest.mark.parametrize(
    ("extra", "error", "code"),
    [
        ({"items": {"my_number": True}}, InvalidInput, "item_not_allowed"),
        ({"items": {"juminhyo_code": True}}, InvalidInput, "item_not_allowed"),
        ({"purpose": None}, InvalidInput, "request_purpose_required"),
        ({"atena_nos": None}, InvalidInput, "subjects_required"),
        ({"household_no": "0000000019"}, InvalidInput, "subjects_required"),
        ({"style": "household", "atena_nos": ["NEIGHBOUR", "VICTIM"]}, InvalidInput, "mixed_households"),
        ({"atena_nos": ["VICTIM", "VICTIM"]}, InvalidInput, "duplicate_person"),
        ({"type": "removed_record"}, Conflict, "not_removed"),
        ({"atena_nos": ["9999999999"]}, NotFound, "not_found"),
    ],
)
def test_certificate_refusals_write_nothing(
    engine: Engine, town: Town, extra: dict[str, Any], error: type[DomainError], code: str
) -> None:
    names = {"VICTIM": town.victim, "NEIGHBOUR": town.neighbour}
    values: dict[str, Any] = {
        "type": "resident_record",
        "style": "individual",
        "atena_nos": [town.neighbour],
        "requester": THIRD_PARTY,
        "purpose": "確認",
        **extra,
    }
    if values["atena_nos"] is not None:
        values["atena_nos"] = [names.get(a, a) for a in values["atena_nos"]]
    body = CertificateIn.model_validate({k: v for k, v in values.items() if v is not None})
    with pytest.raises(error) as refused:
        issue(engine, town, body, reveal=True)
    assert refused.value.code == code
    assert issued_count(engine, town.tenant) == 0
    assert entries(engine, town.tenant, "registry:certificate:") == []


def test_household_requester_must_share_the_household(engine: Engine, town: Town) -> None:
    body = certificate(
        [town.victim], {"category": "household", "name": "佐藤次郎", "atena_no": town.neighbour}
    )
    with pytest.raises(InvalidInput) as refused:
        issue(engine, town, body)
    assert refused.value.code == "requester_not_in_household"
    missing = certificate([town.victim], {"category": "self", "name": "山田花子"})
    with pytest.raises(InvalidInput) as no_number:
        issue(engine, town, missing)
    assert no_number.value.code == "requester_atena_no_required"
    mother = certificate([town.child], {"category": "household", "name": "山田花子", "atena_no": town.victim})
    assert issue(engine, town, mother).issue_no == 1


def test_a_proxy_copy_with_numbers_is_mailed(engine: Engine, town: Town) -> None:
    body = certificate(
        [town.neighbour], {"category": "proxy", "name": "代理　人"}, items={"juminhyo_code": True}
    )
    content = issue(engine, town, body)
    assert content.deliver_by_mail is True
    assert content.pages[0].persons[0].juminhyo_code is not None


def test_measures_and_issues_are_per_town(engine: Engine, town: Town, towns: tuple[Tenant, Tenant]) -> None:
    start(engine, town)
    issue(engine, town, certificate([town.neighbour], THIRD_PARTY, purpose="確認"))
    other = towns[1]
    with UnitOfWork(engine) as uow, pytest.raises(NotFound):
        get_support_measure(uow, other, 1, actor=OFFICER)
    with UnitOfWork(engine) as uow, pytest.raises(NotFound):
        get_certificate_issue(uow, other, 1, actor=CLERK)
    with UnitOfWork(engine) as uow:
        assert list_support_measures(uow, other, actor=OFFICER).items == []
    with UnitOfWork(engine) as uow:
        assert get_certificate_issue(uow, town.tenant, 1, actor=CLERK).subjects == [town.neighbour]
