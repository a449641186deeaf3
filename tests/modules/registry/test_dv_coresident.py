"""DV等支援措置 through a co-resident (issue 11 item 1), on both engines.

A certificate prints its subjects' address, which is also the address of everyone living with them. The
相手方 named in a measure must not learn the protected person's address by asking for the certificate of a
member of her 世帯, of someone at the same 住所 in another 世帯, or of the household she moved into — neither
when the certificate is requested, nor when one issued before the measure started is printed or reissued.
Everyone else keeps getting those certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import Engine, func, select, update

from jichitai.modules.registry.certificates.documents import PrintedCertificate, print_certificate
from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.certificates.rules import CertificateOut
from jichitai.modules.registry.certificates.services import request_certificate
from jichitai.modules.registry.records import queries, schemas
from jichitai.modules.registry.records.services.record import record_event
from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.models import SupportMeasure
from jichitai.modules.registry.support.schemas import CertificateIn, EndIn
from jichitai.modules.registry.support.services import end_support_measure
from jichitai.platform.audit import Actor, AuditEntry
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.errors import Forbidden
from jichitai.platform.tenancy import Tenant

from ...conftest import StaffHeaders
from ...pdf_tools import require_mj_font
from .factories import Family, certificate, family, support_measure
from .test_api_life_story import BASE, move_in_family

CLERK = Actor("clerk1", role="certificate_clerk", purpose="certificate")
OFFICER = Actor("officer1", role="support_officer", purpose="certificate")
ABUSER = {"category": "third_party", "name": "加害　太郎"}
"""The 相手方 of the factory's measure (加害　太郎, カガイ　タロウ, 1980-01-02), as a third party."""
STRANGER = {"category": "third_party", "name": "調査　株式会社"}
EVENT = TypeAdapter(schemas.EventBody)


@dataclass(frozen=True)
class Scene:
    """試験 太郎 (世帯主), 花子 (protected from 加害　太郎) and 一郎 in one 世帯; 下宿 太郎 in a 世帯 of
    his own at the same 住所; 遠方 太郎 and 花子 in a 世帯 at another 住所."""

    tenant: Tenant
    home: Family
    lodger: Family
    elsewhere: Family
    measure_no: int

    @property
    def victim(self) -> str:
        return self.home.atena_nos[1]

    @property
    def child(self) -> str:
        return self.home.atena_nos[2]


def address_of(engine: Engine, tenant: Tenant, atena_no: str) -> dict[str, Any]:
    with read_session(engine) as session:
        record = queries.current_record(session, tenant, atena_no)
        return {"area": record.address_area, "number": record.address_number}


@pytest.fixture
def scene(engine: Engine, towns: tuple[Tenant, Tenant]) -> Scene:
    tenant = towns[0]
    home = family(engine, tenant, members=3)
    here = address_of(engine, tenant, home.head)
    lodger = family(engine, tenant, members=1, family_name="下宿", family_kana="ゲシュク", address=here)
    elsewhere = family(engine, tenant, members=2, family_name="遠方", family_kana="エンポウ")
    measure_no = support_measure(engine, tenant, home.atena_nos[1])
    return Scene(tenant, home, lodger, elsewhere, measure_no)


def body(subjects: list[str], requester: dict[str, Any], **extra: Any) -> CertificateIn:
    values = {"type": "resident_record", "style": "individual", "atena_nos": subjects, "purpose": "確認"}
    return CertificateIn.model_validate({**values, "requester": requester, **extra})


def issue(
    engine: Engine, tenant: Tenant, request: CertificateIn, *, actor: Actor = CLERK, override: bool = False
) -> CertificateOut:
    with UnitOfWork(engine) as uow:
        return request_certificate(
            uow, tenant, request, actor=actor, principal_may_override=override, reveal_my_number=False
        )


def refused(
    engine: Engine, tenant: Tenant, request: CertificateIn, *, actor: Actor = CLERK, override: bool = False
) -> Forbidden:
    with pytest.raises(Forbidden) as error:
        issue(engine, tenant, request, actor=actor, override=override)
    return error.value


def print_issue(
    engine: Engine, tenant: Tenant, issue_no: int, *, reissue: bool = False
) -> PrintedCertificate:
    with UnitOfWork(engine) as uow:
        return print_certificate(uow, tenant, issue_no, actor=CLERK, reveal_my_number=False, reissue=reissue)


def print_refused(engine: Engine, tenant: Tenant, issue_no: int, *, reissue: bool = False) -> Forbidden:
    with pytest.raises(Forbidden) as error:
        print_issue(engine, tenant, issue_no, reissue=reissue)
    return error.value


def trail(engine: Engine, tenant: Tenant, action: str) -> list[tuple[str | None, str, dict[str, Any]]]:
    with read_session(engine) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return [(e.subject, e.outcome, e.details) for e in rows]


def issue_count(engine: Engine, tenant: Tenant) -> int:
    with read_session(engine) as session:
        query = (
            select(func.count())
            .select_from(CertificateIssue)
            .where(CertificateIssue.lg_code == tenant.lg_code)
        )
        return int(session.scalar(query) or 0)


def log_row(engine: Engine, tenant: Tenant, issue_no: int) -> CertificateIssue:
    with read_session(engine) as session:
        row = session.get(CertificateIssue, (tenant.lg_code, issue_no))
        assert row is not None
        session.expunge(row)
        return row


def end_measure(engine: Engine, tenant: Tenant, measure_no: int) -> None:
    with UnitOfWork(engine) as uow:
        end_support_measure(uow, tenant, measure_no, EndIn(reason="支援の必要がなくなった"), actor=OFFICER)


def record(engine: Engine, tenant: Tenant, event: dict[str, Any]) -> None:
    with UnitOfWork(engine) as uow:
        record_event(uow, tenant, EVENT.validate_python(event), actor="test")


# --- the same 世帯 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "subjects"),
    [("individual", ["child"]), ("household", ["child"]), ("household", ["head", "child"])],
)
def test_the_counterparty_is_refused_a_household_members_certificate(
    engine: Engine, scene: Scene, style: str, subjects: list[str]
) -> None:
    names = {"head": scene.home.head, "child": scene.child}
    asked = [names[s] for s in subjects]
    error = refused(engine, scene.tenant, body(asked, ABUSER, style=style))
    assert (error.code, error.status, error.field) == ("counterparty_request", 403, "requester")
    assert "本町" not in error.message
    assert issue_count(engine, scene.tenant) == 0
    # One denied entry, about the protected person the certificate would have revealed.
    ((subject, outcome, details),) = trail(engine, scene.tenant, "registry:certificate:issue")
    assert (subject, outcome) == (scene.victim, "denied")
    assert details["code"] == "counterparty_request"
    assert details["measure_nos"] == [scene.measure_no]
    assert details["co_resident_of"] == asked
    assert details["requester_name"] == "加害　太郎"


def test_no_override_lifts_the_counterparty_refusal_for_a_co_resident(engine: Engine, scene: Scene) -> None:
    request = body([scene.child], ABUSER, override={"reason": "審査済み"})
    error = refused(engine, scene.tenant, request, actor=OFFICER, override=True)
    assert error.code == "counterparty_request"
    assert issue_count(engine, scene.tenant) == 0


def test_the_counterparty_is_refused_the_whole_household_by_number(engine: Engine, scene: Scene) -> None:
    # Asked by 世帯番号 the victim is a subject herself: refused as before, as the 相手方's request.
    request = CertificateIn.model_validate(
        {
            "type": "resident_record",
            "household_no": scene.home.household_no,
            "requester": ABUSER,
            "purpose": "確認",
        }
    )
    assert refused(engine, scene.tenant, request).code == "counterparty_request"


# --- the same 住所, another 世帯 -------------------------------------------------------------------------


def test_the_counterparty_is_refused_a_certificate_of_someone_at_the_same_address(
    engine: Engine, scene: Scene
) -> None:
    error = refused(engine, scene.tenant, body([scene.lodger.head], ABUSER))
    assert error.code == "counterparty_request"
    ((subject, _outcome, details),) = trail(engine, scene.tenant, "registry:certificate:issue")
    assert (subject, details["co_resident_of"]) == (scene.victim, [scene.lodger.head])


def test_another_room_of_the_same_lot_is_the_same_place(engine: Engine, scene: Scene) -> None:
    # The 方書 narrows the 住所 down but does not hide the building: a room of its own is refused too.
    here = address_of(engine, scene.tenant, scene.home.head)
    upstairs = family(
        engine,
        scene.tenant,
        members=1,
        family_name="二階",
        family_kana="ニカイ",
        address={**here, "building": "二階"},
    )
    assert refused(engine, scene.tenant, body([upstairs.head], ABUSER)).code == "counterparty_request"


def test_a_protected_person_who_moved_in_with_others(engine: Engine, scene: Scene) -> None:
    tenant = scene.tenant
    alone = family(engine, tenant, members=1, family_name="避難", family_kana="ヒナン")
    support_measure(
        engine, tenant, alone.head, counterparty={"name": "乱暴　次郎", "kana": "ランボウ　ジロウ"}
    )
    requester = {"category": "third_party", "name": "乱暴　次郎"}
    # Before she joins them, the friends' certificate tells him nothing about her.
    assert issue(engine, tenant, body([scene.elsewhere.head], requester)).issue_no == 1
    relocation = {
        "type": "relocation",
        "event_date": today_jst().isoformat(),
        "household_no": alone.household_no,
        "address": address_of(engine, tenant, scene.elsewhere.head),
        "members": [{"atena_no": alone.head, "relationship": "同居人"}],
        "to_household_no": scene.elsewhere.household_no,
    }
    record(engine, tenant, relocation)
    for asked in ([scene.elsewhere.head], [scene.elsewhere.atena_nos[1]]):
        assert refused(engine, tenant, body(asked, requester)).code == "counterparty_request"
    # The 相手方 of the first measure is not hers: he is not refused these.
    assert issue(engine, tenant, body([scene.elsewhere.head], ABUSER)).issue_no == 2


# --- how the 相手方 is recognised ------------------------------------------------------------------------


NAME_VARIANTS = [
    "加害太郎",
    " 加害  太郎 ",
    "加害\u3000\u3000太郎",  # full-width spaces
    "加害\u200b太郎",  # zero-width space
    "加\u00ad害太郎",  # soft hyphen
    "\ufeff加害\u2060太郎\u200d",  # BOM, word joiner, zero-width joiner
    "\u202e加害太郎\u202c",  # bidirectional override
    "加害太\uf92c",  # CJK compatibility ideograph 郎 (NFKC folds it)
    "加害\U000e0100太郎",  # an ideographic variation selector
    "ｶｶﾞｲ ﾀﾛｳ",  # half-width katakana
    "かがい　たろう",  # hiragana
    "カガイタロウ",
    "カガイ・タロー",  # 中黒 and a long-vowel mark
    "ｶｶﾞｲ\u200bたろう",  # mixed widths and scripts, with a zero-width space
]


@pytest.mark.parametrize("name", NAME_VARIANTS)
def test_the_counterparty_is_recognised_however_the_name_is_typed(
    engine: Engine, scene: Scene, name: str
) -> None:
    # Built from a plain name and then changed without validation: the check must not rely on the input
    # layer to strip (or refuse) invisible characters.
    plain = body([scene.child], {"category": "third_party", "name": "仮名"})
    request = plain.model_copy(update={"requester": plain.requester.model_copy(update={"name": name})})
    assert refused(engine, scene.tenant, request).code == "counterparty_request"


def test_a_recorded_name_with_invisible_characters_still_matches(engine: Engine, scene: Scene) -> None:
    # A measure recorded before the input guard refused such characters (written straight to the table).
    with UnitOfWork(engine) as uow:
        uow.session.execute(
            update(SupportMeasure)
            .where(SupportMeasure.measure_no == scene.measure_no)
            .values(counterparty_name="加害\u200b\u3000太郎", counterparty_kana="ｶｶﾞｲ\u00adﾀﾛｳ")
        )
        uow.commit()
    for name in ("加害太郎", "かがいたろう"):
        request = body([scene.lodger.head], {"category": "third_party", "name": name})
        assert refused(engine, scene.tenant, request).code == "counterparty_request"


def test_a_namesake_born_on_another_day_is_not_the_counterparty(engine: Engine, scene: Scene) -> None:
    namesake = {**ABUSER, "birth_date": "1990-05-05"}
    assert issue(engine, scene.tenant, body([scene.child], namesake)).issue_no == 1
    same_day = {**ABUSER, "birth_date": "1980-01-02"}
    assert refused(engine, scene.tenant, body([scene.child], same_day)).code == "counterparty_request"


def test_a_counterparty_recorded_by_atena_no(engine: Engine, scene: Scene) -> None:
    tenant = scene.tenant
    abuser = family(engine, tenant, members=1, family_name="乱暴", family_kana="ランボウ")
    measure_no = support_measure(
        engine, tenant, scene.lodger.head, counterparty={"name": "氏名不詳", "atena_no": abuser.head}
    )
    for requester in (
        {"category": "third_party", "name": "別の名前", "atena_no": abuser.head},
        {"category": "third_party", "name": "乱暴太郎"},  # the name the register holds, not the recorded one
        {"category": "proxy", "name": "らんぼう たろう"},
        {"category": "household", "name": "乱暴　太郎", "atena_no": abuser.head},
    ):
        error = refused(engine, tenant, body([scene.child], requester))
        assert error.code == "counterparty_request", requester
    denied = trail(engine, tenant, "registry:certificate:issue")
    assert {(s, tuple(d["measure_nos"])) for s, _o, d in denied} == {(scene.lodger.head, (measure_no,))}
    # His own certificate reveals no protected person: he gets it.
    own = {"category": "self", "name": "乱暴　太郎", "atena_no": abuser.head}
    assert issue(engine, tenant, body([abuser.head], own)).issue_no == 1


def test_a_counterparty_who_changed_name_is_still_recognised(engine: Engine, scene: Scene) -> None:
    tenant = scene.tenant
    abuser = family(engine, tenant, members=1, family_name="乱暴", family_kana="ランボウ")
    support_measure(
        engine, tenant, scene.victim, counterparty={"name": "乱暴　太郎", "atena_no": abuser.head}
    )
    correction = {
        "type": "ex_officio_correction",
        "event_date": today_jst().isoformat(),
        "atena_no": abuser.head,
        "corrections": {"family_name": "改名", "family_kana": "カイメイ"},
        "reason_detail": "氏の変更",
    }
    record(engine, tenant, correction)
    for name in ("改名太郎", "乱暴太郎", "カイメイ　タロウ"):
        request = body([scene.child], {"category": "third_party", "name": name})
        assert refused(engine, tenant, request).code == "counterparty_request", name


def test_the_rules_fold_the_same_variants() -> None:
    party = rules.Counterparty("ＪＯＨＮ　ＳＭＩＴＨ", "ジョン・スミス")
    for name in ("John Smith", "john\u200bsmith", "じょん すみす", "ｼﾞｮﾝ･ｽﾐｽ"):
        assert rules.is_counterparty(rules.Requester(name), party), name
    assert not rules.is_counterparty(rules.Requester("Jane Smith"), party)
    assert rules.name_key("\u200b\u00ad\ufeff") == ""
    assert not rules.is_counterparty(rules.Requester("\u200b"), rules.Counterparty("\u00ad"))


# --- a certificate issued before the measure -------------------------------------------------------------


def test_printing_an_earlier_issue_is_refused_once_the_address_is_protected(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    tenant = towns[0]
    home = family(engine, tenant, members=3)
    victim, child = home.atena_nos[1], home.atena_nos[2]
    to_abuser = certificate(engine, tenant, child, requester=ABUSER, purpose="確認")
    of_the_victim = certificate(engine, tenant, victim, requester=STRANGER, purpose="確認")
    by_the_victim = certificate(engine, tenant, victim)
    measure_no = support_measure(engine, tenant, victim)

    error = print_refused(engine, tenant, to_abuser)
    assert (error.code, error.status, error.field) == ("counterparty_request", 403, "requester")
    assert "印刷できません" in error.message
    # A subject protected since the issuance blocks the print for anyone but her.
    blocked = print_refused(engine, tenant, of_the_victim)
    assert (blocked.code, blocked.status) == ("support_measure_block", 403)
    assert [log_row(engine, tenant, n).printed_at for n in (to_abuser, of_the_victim)] == [None, None]
    assert trail(engine, tenant, "registry:certificate:print") == [
        (
            victim,
            "denied",
            {
                "code": "counterparty_request",
                "issue_no": to_abuser,
                "measure_nos": [measure_no],
                "co_resident_of": [child],
            },
        ),
        (
            victim,
            "denied",
            {"code": "support_measure_block", "issue_no": of_the_victim, "measure_nos": [measure_no]},
        ),
    ]
    # Her own certificate prints (past the check: without the font it would be refused for the font only).
    require_mj_font()
    assert print_issue(engine, tenant, by_the_victim).issue_no == by_the_victim


def test_a_requester_number_a_third_party_wrote_does_not_make_them_the_protected_person(
    engine: Engine, scene: Scene
) -> None:
    end_measure(engine, scene.tenant, scene.measure_no)
    claimed = {**STRANGER, "atena_no": scene.victim}  # not checked for a third party
    issue_no = issue(engine, scene.tenant, body([scene.victim], claimed)).issue_no
    support_measure(engine, scene.tenant, scene.victim)
    assert print_refused(engine, scene.tenant, issue_no).code == "support_measure_block"


def test_a_reissue_is_refused_once_the_address_is_protected(engine: Engine, scene: Scene) -> None:
    require_mj_font()
    tenant = scene.tenant
    end_measure(engine, tenant, scene.measure_no)
    to_abuser = issue(engine, tenant, body([scene.lodger.head], ABUSER)).issue_no
    print_issue(engine, tenant, to_abuser)
    measure_no = support_measure(engine, tenant, scene.victim)
    error = print_refused(engine, tenant, to_abuser, reissue=True)
    assert (error.code, error.field) == ("counterparty_request", "requester")
    assert "再交付できません" in error.message
    assert issue_count(engine, tenant) == 1
    ((subject, outcome, details),) = trail(engine, tenant, "registry:certificate:reissue")
    assert (subject, outcome, details["code"], details["reissue_of"], details["measure_nos"]) == (
        scene.victim,
        "denied",
        "counterparty_request",
        to_abuser,
        [measure_no],
    )


def test_a_print_checks_the_address_printed_not_only_where_the_subject_lives_now(
    engine: Engine, scene: Scene
) -> None:
    tenant = scene.tenant
    end_measure(engine, tenant, scene.measure_no)
    to_abuser = issue(engine, tenant, body([scene.lodger.head], ABUSER)).issue_no
    # The lodger moves away; the certificate still prints the address where the victim lives.
    relocation = {
        "type": "relocation",
        "event_date": today_jst().isoformat(),
        "household_no": scene.lodger.household_no,
        "address": {"area": "栄町二丁目", "number": "9番9号"},
    }
    record(engine, tenant, relocation)
    support_measure(engine, tenant, scene.victim)
    assert print_refused(engine, tenant, to_abuser).code == "counterparty_request"


# --- 転出: the 除票 shows where the household went -------------------------------------------------------


def test_after_move_out_the_co_residents_removed_record_is_refused_but_his_own_is_not(
    engine: Engine, towns: tuple[Tenant, Tenant]
) -> None:
    tenant = towns[0]
    home = family(engine, tenant, members=3)
    abuser, victim, child = home.atena_nos
    support_measure(engine, tenant, victim, counterparty={"name": "試験　太郎", "atena_no": abuser})
    move_out = {
        "type": "move_out",
        "event_date": today_jst().isoformat(),
        "atena_nos": [victim, child],
        "destination": "秘匿",
    }
    record(engine, tenant, move_out)
    own = {"category": "self", "name": "試験　太郎", "atena_no": abuser}
    assert issue(engine, tenant, body([abuser], own)).issue_no == 1
    removed = body([child], {"category": "third_party", "name": "試験太郎"}, type="removed_record")
    assert refused(engine, tenant, removed).code == "counterparty_request"


# --- controls ---------------------------------------------------------------------------------------------


def test_an_unrelated_requester_still_gets_the_co_residents_certificates(
    engine: Engine, scene: Scene
) -> None:
    require_mj_font()
    tenant = scene.tenant
    for asked in ([scene.child], [scene.home.head, scene.child], [scene.lodger.head]):
        content = issue(engine, tenant, body(asked, STRANGER, style="household"))
        assert content.overridden is False
        assert print_issue(engine, tenant, content.issue_no).pdf.startswith(b"%PDF")
    # The victim's own household certificate, for her.
    own = {"category": "self", "name": "試験　花子", "atena_no": scene.victim}
    household = issue(
        engine, tenant, body([scene.home.head, scene.victim, scene.child], own, style="household")
    )
    assert [p.atena_no for p in household.pages[0].persons] == [scene.home.head, scene.victim, scene.child]
    assert trail(engine, tenant, "registry:certificate:print") == [
        (a, "ok", {"issue_no": n, "certificate_type": "resident_record"})
        for n, a in ((1, scene.child), (2, scene.home.head), (2, scene.child), (3, scene.lodger.head))
    ]


def test_an_ended_measure_no_longer_blocks(engine: Engine, scene: Scene) -> None:
    require_mj_font()
    tenant = scene.tenant
    before = issue(engine, tenant, body([scene.lodger.head], STRANGER)).issue_no
    end_measure(engine, tenant, scene.measure_no)
    content = issue(engine, tenant, body([scene.child], ABUSER))
    assert print_issue(engine, tenant, content.issue_no).pdf.startswith(b"%PDF")
    assert print_issue(engine, tenant, before).issue_no == before
    assert [o for _s, o, _d in trail(engine, tenant, "registry:certificate:issue")] == ["ok", "ok"]


def test_a_measure_protecting_someone_elsewhere_changes_nothing(engine: Engine, scene: Scene) -> None:
    # A measure protecting someone at another 住所 does not concern these certificates.
    support_measure(engine, scene.tenant, scene.elsewhere.head)
    assert issue(engine, scene.tenant, body([scene.lodger.head], STRANGER)).issue_no == 1
    end_measure(engine, scene.tenant, scene.measure_no)
    assert issue(engine, scene.tenant, body([scene.lodger.head], ABUSER)).issue_no == 2


# --- through HTTP ---------------------------------------------------------------------------------------


def test_through_the_api(client: TestClient, staff: StaffHeaders) -> None:
    taro, hanako, ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    clerk = staff("certificate_clerk")
    abuser = {"category": "third_party", "name": "ﾗﾝﾎﾞｳ ｼﾞﾛｳ"}
    request = {
        "type": "resident_record",
        "style": "individual",
        "atena_nos": [ichiro],
        "requester": abuser,
        "purpose": "確認",
    }
    earlier = client.post(f"{BASE}/certificates", json=request, headers=clerk)
    assert earlier.status_code == 201, earlier.text
    measure = {
        "atena_no": hanako,
        "kind": "spousal_violence",
        "counterparty": {"name": "乱暴　次郎", "kana": "ランボウ　ジロウ"},
        "reason": "警察署の意見書あり",
    }
    officer = staff("support_officer", purpose="support_measure")
    assert client.post(f"{BASE}/support-measures", json=measure, headers=officer).status_code == 201
    for asked in ([ichiro], [taro]):
        answer = client.post(f"{BASE}/certificates", json={**request, "atena_nos": asked}, headers=clerk)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "counterparty_request")
    printed = client.get(f"{BASE}/certificates/{earlier.json()['issue_no']}/pdf", headers=clerk)
    assert (printed.status_code, printed.json()["error"]["code"]) == (403, "counterparty_request")
    stranger = {**request, "requester": STRANGER}
    assert client.post(f"{BASE}/certificates", json=stranger, headers=clerk).status_code == 201
