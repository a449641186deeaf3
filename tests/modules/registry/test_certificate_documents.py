"""Certificates as PDF through HTTP, on both engines (issue 4): what a viewer shows, who sees 個人番号, the QR
check, 再交付, fees and the daily summary, names with variation sequences and glyphs the font lacks.

The PDF is read back with poppler (``pdftotext``, ``pdftoppm``) as a person's viewer would; see
tests/pdf_tools.py for when these tests are skipped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from jichitai.modules.registry.certificates.documents import (
    certificate_pdf,
    fees_on,
    issuance_summary,
    verify_certificate,
)
from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.support.schemas import CertificateType
from jichitai.platform import documents
from jichitai.platform.audit import Actor, AuditEntry
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, read_session
from jichitai.platform.tenancy import MunicipalitySetting, get_tenant

from ...conftest import TOWN_A, TOWN_B, StaffHeaders, anonymous
from ...pdf_tools import page_png, pdf_text, require_mj_font, require_poppler
from .test_api_life_story import BASE, days, move_in_family, person, post, resident

MY_NUMBER = "621498320257"  # 山田太郎's, from move_in_family
ATTESTATION = "この写しは、住民票の原本と相違ないことを証明する。"


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_mj_font()
    require_poppler()


def family(client: TestClient) -> tuple[list[str], str]:
    """山田太郎 (世帯主), 花子 (妻, 昭和58年), 一郎 (子, 2015), and their 世帯番号."""
    atena = [p["atena_no"] for p in move_in_family(client)["persons"]]
    return atena, resident(client, atena[0])["current"]["household_no"]


def issue(client: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post(f"{BASE}/certificates", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def own_household(atena: list[str], household_no: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "resident_record",
        "style": "household",
        "household_no": household_no,
        "requester": {"category": "self", "name": "山田　太郎", "atena_no": atena[0]},
        **extra,
    }


def print_pdf(client: TestClient, issue_no: int, headers: dict[str, str] | None = None) -> bytes:
    response = client.get(f"{BASE}/certificates/{issue_no}/pdf", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def log_row(engine: Engine, issue_no: int) -> CertificateIssue:
    with read_session(engine) as session:
        row = session.get(CertificateIssue, (TOWN_A.lg_code, issue_no))
        assert row is not None
        session.expunge(row)
        return row


def actions(engine: Engine, action: str) -> list[tuple[str | None, dict[str, Any]]]:
    with read_session(engine) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return [(e.subject, e.details) for e in rows]


def set_fee(engine: Engine, key: str, value: int, effective_from: dt.date) -> None:
    with UnitOfWork(engine) as uow:
        uow.session.add(
            MunicipalitySetting(lg_code=TOWN_A.lg_code, key=key, effective_from=effective_from, value=value)
        )
        uow.commit()


def test_household_certificate_reads_in_a_viewer(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    atena, household_no = family(client)
    items = {"household": True, "honseki": True, "juminhyo_code": True, "my_number": True}
    content = issue(client, own_household(atena, household_no, items=items))
    assert [w["code"] for w in content["warnings"]] == ["fee_not_set"]  # the fixture town set no fee
    assert (content["fee_per_copy"], content["fee_yen"]) == (None, None)
    pdf = print_pdf(client, content["issue_no"])
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    for expected in (
        "住民票の写し",
        "世帯連記式",
        "山田太郎",
        "山田花子",
        "山田一郎",
        "昭和55年5月5日",
        "昭和58年3月3日",
        "平成27年6月1日",
        "岩手県大槌町本町一丁目2番3号",
        "岩手県上閉伊郡大槌町本町一丁目2番地",
        ATTESTATION,
        "岩手県大槌町町長見本太郎",
        content["issued_on"],
        "発行番号第1号",
        MY_NUMBER,
        f"/verify/{content['verify_code']}",
    ):
        assert expected in text, expected
    # 世帯連記式 order (§1.5): 世帯主, 妻, 子; a household of three fits one page with every item.
    assert text.index("山田太郎") < text.index("山田花子") < text.index("山田一郎")
    assert "1/1頁" in text
    assert page_png(pdf, tmp_path).startswith(b"\x89PNG\r\n\x1a\n")
    # The first print is part of the issuance: stamped and audited once per person.
    assert log_row(engine, content["issue_no"]).printed_at is not None
    assert [s for s, _ in actions(engine, "registry:certificate:print")] == [atena[0], atena[1], atena[2]]


def test_my_number_only_when_asked_allowed_and_visible(
    client: TestClient, engine: Engine, staff: StaffHeaders, tmp_path: Path
) -> None:
    atena, household_no = family(client)
    # Not asked: neither the label nor the number.
    plain = pdf_text(
        print_pdf(client, issue(client, own_household(atena, household_no))["issue_no"]), tmp_path
    )
    assert "個人番号" not in plain
    assert MY_NUMBER not in plain
    # Third parties never get it (nor 住民票コード); their certificate prints without.
    third = {"category": "third_party", "name": "調査　株式会社"}
    asked = {"type": "resident_record", "style": "individual", "atena_nos": [atena[0]], "requester": third}
    refused = client.post(
        f"{BASE}/certificates", json={**asked, "purpose": "債権", "items": {"my_number": True}}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "item_not_allowed")
    third_text = pdf_text(
        print_pdf(client, issue(client, {**asked, "purpose": "債権"})["issue_no"]), tmp_path
    )
    assert "山田太郎" in third_text
    assert MY_NUMBER not in third_text
    # A clerk whose role may not see 個人番号 can neither issue it nor print a certificate that carries it.
    clerk = staff("certificate_clerk")
    with_number = own_household(atena, household_no, items={"my_number": True})
    denied = client.post(f"{BASE}/certificates", json=with_number, headers=clerk)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "my_number_not_permitted")
    issued = issue(client, with_number)
    blocked = client.get(f"{BASE}/certificates/{issued['issue_no']}/pdf", headers=clerk)
    assert (blocked.status_code, blocked.json()["error"]["code"]) == (403, "my_number_not_permitted")
    assert log_row(engine, issued["issue_no"]).printed_at is None  # the refusal wrote nothing
    assert MY_NUMBER in pdf_text(print_pdf(client, issued["issue_no"]), tmp_path)


def test_the_qr_page_confirms_only_existence_date_and_town(client: TestClient) -> None:
    atena, household_no = family(client)
    content = issue(client, own_household(atena, household_no))
    public = anonymous(client)
    page = public.get(f"/verify/{content['verify_code']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "証明書の発行を確認しました" in page.text
    assert content["issued_on"] in page.text
    assert "岩手県大槌町" in page.text
    for private in ("山田", "本町", "住民票の写し", str(content["issue_no"]) + "号"):
        assert private not in page.text
    assert public.get(f"/verify/{content['verify_code'].lower()}").status_code == 200  # typed by hand
    code = content["verify_code"]
    assert code.startswith(TOWN_A.lg_code)
    assert len(code) == 30
    other_town = TOWN_B.lg_code + code[6:]
    for unknown in (code[:-1] + ("A" if code[-1] != "A" else "B"), other_town, "0", "x" * 200, "1" * 30):
        answer = public.get(f"/verify/{unknown}")
        assert answer.status_code == 404, unknown
        assert "確認できません" in answer.text


def test_reprints_are_reissues_logged_and_audited(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    atena, household_no = family(client)
    content = issue(client, own_household(atena, household_no))
    never_printed = client.post(f"{BASE}/certificates/{content['issue_no']}/reissue")
    assert (never_printed.status_code, never_printed.json()["error"]["code"]) == (
        409,
        "certificate_not_printed",
    )
    print_pdf(client, content["issue_no"])
    again = client.get(f"{BASE}/certificates/{content['issue_no']}/pdf")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "certificate_already_printed")
    # The household moves within the town; the 再交付 still shows the certificate as issued.
    post(
        client,
        {
            "type": "relocation",
            "event_date": days(0),
            "household_no": household_no,
            "address": {"area": "栄町二丁目", "number": "5番1号"},
        },
    )
    reissued = client.post(f"{BASE}/certificates/{content['issue_no']}/reissue")
    assert reissued.status_code == 201, reissued.text
    assert reissued.headers["content-type"] == "application/pdf"
    assert reissued.headers["x-jichitai-issue-no"] == "2"
    text = pdf_text(reissued.content, tmp_path)
    assert "再交付" in text
    assert "原発行番号第1号" in text
    assert "発行番号第2号" in text
    assert "本町一丁目2番3号" in text
    assert "栄町二丁目" not in text
    row = log_row(engine, 2)
    assert (row.reissue_of, row.fee_yen, row.subjects) == (1, 0, atena)
    assert row.printed_at is not None
    assert row.verify_code not in (None, content["verify_code"])
    # A reissue of the reissue still points at the original.
    assert client.post(f"{BASE}/certificates/2/reissue").headers["x-jichitai-issue-no"] == "3"
    assert log_row(engine, 3).reissue_of == 1
    trail = actions(engine, "registry:certificate:reissue")
    assert [(s, d["issue_no"], d["reissue_of"]) for s, d in trail] == [(a, 2, 1) for a in atena] + [
        (a, 3, 1) for a in atena
    ]
    log = client.get(f"{BASE}/certificates/2").json()
    assert (log["reissue_of"], log["fee_yen"]) == (1, 0)
    assert anonymous(client).get(f"/verify/{row.verify_code}").status_code == 200


def test_fees_come_from_the_dated_setting_and_add_up_in_the_summary(
    client: TestClient, engine: Engine
) -> None:
    atena, household_no = family(client)
    today = today_jst()
    set_fee(engine, "fee_juminhyo", 200, today - dt.timedelta(days=400))
    set_fee(engine, "fee_juminhyo", 300, today)  # the new fee applies from today
    set_fee(engine, "fee_juminhyo", 350, today + dt.timedelta(days=1))
    first = issue(client, own_household(atena, household_no, copies=2))
    assert (first["fee_per_copy"], first["fee_yen"], first["warnings"]) == (300, 600, [])
    issue(client, own_household(atena, household_no))
    print_pdf(client, first["issue_no"])
    client.post(f"{BASE}/certificates/{first['issue_no']}/reissue")
    # The household moves out: its 転出証明書 is free unless the town sets a fee.
    post(
        client,
        {
            "type": "move_out",
            "event_date": days(5),
            "atena_nos": atena,
            "destination": "東京都千代田区霞が関二丁目1番2号",
        },
    )
    moving = issue(client, {**own_household(atena, household_no), "type": "move_out"})
    assert (moving["fee_per_copy"], moving["fee_yen"]) == (0, 0)
    summary = client.get(f"{BASE}/certificates/summary", params={"day": today.isoformat()}).json()
    lines = {line["type"]: line for line in summary["lines"]}
    assert lines["resident_record"] == {
        "type": "resident_record",
        "type_label": "住民票の写し",
        "fee_per_copy": 300,
        "issues": 2,
        "copies": 3,
        "reissues": 1,
        "fee_yen": 900,
        "fee_unset": 0,
        "unprinted": 1,
    }
    assert (lines["move_out"]["issues"], lines["move_out"]["fee_yen"]) == (1, 0)
    assert lines["record_entries"]["fee_per_copy"] is None
    assert (summary["issues"], summary["copies"], summary["reissues"], summary["fee_yen"]) == (3, 4, 1, 900)
    assert summary["day_label"].startswith("令和")
    yesterday = client.get(
        f"{BASE}/certificates/summary", params={"day": (today - dt.timedelta(days=1)).isoformat()}
    )
    assert yesterday.json()["issues"] == 0
    assert {line["type"]: line["fee_per_copy"] for line in yesterday.json()["lines"]}[
        "resident_record"
    ] == 200
    assert client.get(f"{BASE}/certificates/summary").json()["issues"] == 3  # today by default
    for bad in ("2026-13-01", "yesterday"):
        assert client.get(f"{BASE}/certificates/summary", params={"day": bad}).status_code == 422
    old = client.get(f"{BASE}/certificates/summary", params={"day": "0001-01-01"})
    assert (old.status_code, old.json()["issues"]) == (200, 0)


def test_move_out_certificate(client: TestClient, tmp_path: Path) -> None:
    atena, household_no = family(client)
    not_yet = client.post(
        f"{BASE}/certificates",
        json={
            **own_household(atena, household_no),
            "type": "move_out",
            "household_no": None,
            "atena_nos": atena,
        },
    )
    assert (not_yet.status_code, not_yet.json()["error"]["code"]) == (409, "not_removed")
    post(
        client,
        {
            "type": "move_out",
            "event_date": days(7),
            "atena_nos": atena,
            "destination": "東京都千代田区霞が関二丁目1番2号",
        },
    )
    items = {"household": True, "juminhyo_code": True, "my_number": True}
    content = issue(client, {**own_household(atena, household_no), "type": "move_out", "items": items})
    text = pdf_text(print_pdf(client, content["issue_no"]), tmp_path)
    planned = dt.date.fromisoformat(days(7))
    for expected in (
        "転出証明書",
        "東京都千代田区霞が関二丁目1番2号",
        "転出予定日",
        f"{planned.month}月{planned.day}日",
        "上記の者は、転出の届出をしたことを証明する。",
        "国民健康保険",
        MY_NUMBER,
        "山田一郎",
    ):
        assert expected in text, expected
    # The same persons are a 除票 now: no 住民票の写し.
    gone = client.post(f"{BASE}/certificates", json=own_household(atena, household_no))
    assert gone.status_code == 409


def test_record_entries_and_removed_record(client: TestClient, tmp_path: Path) -> None:
    atena, _ = family(client)
    entries = issue(
        client,
        {
            "type": "record_entries",
            "style": "individual",
            "atena_nos": [atena[1]],
            "requester": {"category": "self", "name": "山田　花子", "atena_no": atena[1]},
        },
    )
    text = pdf_text(print_pdf(client, entries["issue_no"]), tmp_path)
    assert "住民票記載事項証明書" in text
    assert "上記の事項は、住民票に記載されていることを証明する。" in text
    assert "山田花子" in text
    assert "住民となった日" not in text  # only the items of the 記載事項証明書
    post(client, {"type": "death", "event_date": days(-1), "atena_no": atena[2]})
    removed = issue(
        client,
        {
            "type": "removed_record",
            "style": "individual",
            "atena_nos": [atena[2]],
            "requester": {"category": "third_party", "name": "相続　太郎"},
            "purpose": "相続手続",
        },
    )
    text = pdf_text(print_pdf(client, removed["issue_no"]), tmp_path)
    assert "除票の写し" in text
    assert "この写しは、除票の原本と相違ないことを証明する。" in text
    assert "消除事由死亡" in text


def test_variant_and_missing_glyphs(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    """辻 with IVS prints its registered glyph; a character the font lacks prints 〓 and is reported."""
    moved = post(
        client,
        {
            "type": "domestic_move_in",
            "event_date": days(-3),
            "previous_address": "宮城県石巻市",
            "address": {"area": "本町一丁目", "number": "9番9号"},
            "persons": [
                person("辻\U000e0102", "太郎", ("ツジ", "タロウ"), "1970-01-01", "male", "世帯主"),
                person("辻\U000e0102", "\ue000子", ("ツジ", "ハルコ"), "1972-02-02", "female", "妻"),
            ],
        },
    )
    tsuji, haruko = (p["atena_no"] for p in moved["persons"])
    requester = {"category": "self", "name": "辻　太郎", "atena_no": tsuji}
    clean = issue(
        client,
        {"type": "resident_record", "style": "individual", "atena_nos": [tsuji], "requester": requester},
    )
    assert clean["warnings"] == [w for w in clean["warnings"] if w["code"] == "fee_not_set"]
    clean_pdf = print_pdf(client, clean["issue_no"])
    assert "辻\U000e0102太郎" in pdf_text(clean_pdf, tmp_path)
    assert "〓" not in pdf_text(clean_pdf, tmp_path)
    both = issue(
        client,
        {
            "type": "resident_record",
            "style": "household",
            "atena_nos": [tsuji, haruko],
            "requester": requester,
        },
    )
    glyph = [w for w in both["warnings"] if w["code"] == "glyph_missing"]
    assert len(glyph) == 1
    assert "U+E000" in glyph[0]["message"]
    assert log_row(engine, both["issue_no"]).missing_glyphs == ["\ue000"]
    assert client.get(f"{BASE}/certificates/{both['issue_no']}").json()["missing_glyphs"] == ["\ue000"]
    text = pdf_text(print_pdf(client, both["issue_no"]), tmp_path)
    assert "辻\U000e0102〓子" in text
    assert "〓は、証明書用の書体(IPAmj明朝)にない文字を表します" in text
    # The variant glyph itself: the same page with a plain 辻 looks different.
    plain = documents.html_to_pdf(
        f"<html><head><style>{documents.font_face_css()} body{{font-family:MJ;font-size:80pt}}</style></head>"
        "<body>辻</body></html>"
    )
    variant = documents.html_to_pdf(
        f"<html><head><style>{documents.font_face_css()} body{{font-family:MJ;font-size:80pt}}</style></head>"
        "<body>辻\U000e0102</body></html>"
    )
    assert page_png(plain, tmp_path) != page_png(variant, tmp_path)


def test_without_the_font_the_issue_is_kept_and_printing_refused(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    atena, household_no = family(client)
    monkeypatch.setattr(documents, "find_mj_font", lambda: None)
    content = issue(client, own_household(atena, household_no))
    assert "certificate_font_missing" in [w["code"] for w in content["warnings"]]
    refused = client.get(f"{BASE}/certificates/{content['issue_no']}/pdf")
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "certificate_font_missing")
    assert log_row(engine, content["issue_no"]).printed_at is None
    assert actions(engine, "registry:certificate:print") == []


def test_routes_need_the_permission_and_the_town(client: TestClient, staff: StaffHeaders) -> None:
    atena, household_no = family(client)
    content = issue(client, own_household(atena, household_no))
    tax = staff("tax")
    for method, path in (
        ("GET", f"{BASE}/certificates/{content['issue_no']}/pdf"),
        ("POST", f"{BASE}/certificates/{content['issue_no']}/reissue"),
        ("GET", f"{BASE}/certificates/summary"),
    ):
        assert client.request(method, path, headers=tax).status_code == 403
        other = staff("registry_clerk", town=TOWN_B)
        assert client.request(method, path, headers=other).status_code == 404
    other_town = "/api/v1/municipalities/046060"
    own_b = staff("registry_clerk", town=TOWN_B, purpose="resident_registry")
    assert (
        client.get(f"{other_town}/certificates/{content['issue_no']}/pdf", headers=own_b).status_code == 404
    )
    assert client.get(f"{BASE}/certificates/99/pdf").status_code == 404


def test_a_reissue_is_refused_once_a_support_measure_protects_a_subject(
    client: TestClient, engine: Engine, staff: StaffHeaders
) -> None:
    atena, household_no = family(client)
    taro, hanako = atena[0], atena[1]
    by_taro = issue(client, own_household(atena, household_no))
    hanako_asks = {
        "type": "resident_record",
        "style": "individual",
        "atena_nos": [hanako],
        "requester": {"category": "self", "name": "山田　花子", "atena_no": hanako},
    }
    by_hanako = issue(client, hanako_asks)
    for content in (by_taro, by_hanako):
        print_pdf(client, content["issue_no"])
    officer = staff("support_officer")
    measure = {
        "atena_no": hanako,
        "kind": "spousal_violence",
        "counterparty": {"name": "山田　太郎", "atena_no": taro},
        "reason": "配偶者暴力相談支援センターの意見",
    }
    assert client.post(f"{BASE}/support-measures", json=measure, headers=officer).status_code == 201
    refused = client.post(f"{BASE}/certificates/{by_taro['issue_no']}/reissue")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "support_measure_block")
    assert [(s, d["code"]) for s, d in actions(engine, "registry:certificate:reissue")] == [
        (hanako, "support_measure_block")
    ]
    # The protected person's own certificate may be printed again for her.
    assert client.post(f"{BASE}/certificates/{by_hanako['issue_no']}/reissue").status_code == 201


def test_the_services_the_screens_call(client: TestClient, engine: Engine) -> None:
    """The counter screens call the services directly, with the signatures the module docstring gives."""
    atena, household_no = family(client)
    content = issue(client, own_household(atena, household_no))
    clerk = Actor("clerk-ui", role="registry_clerk", purpose="certificate")
    with UnitOfWork(engine) as uow:
        tenant = get_tenant(uow.session, TOWN_A.lg_code)
        pdf = certificate_pdf(uow, tenant, content["issue_no"], actor=clerk, reissue=False)
    assert pdf.startswith(b"%PDF")
    with UnitOfWork(engine) as uow:
        again = certificate_pdf(
            uow, tenant, content["issue_no"], actor=clerk, reissue=True, base_url="https://example.jp"
        )
    assert again.startswith(b"%PDF")
    with read_session(engine) as session:
        found = verify_certificate(session, content["verify_code"])
        assert found is not None
        assert (found.issued_on, found.issued_on_label, found.town) == (
            today_jst(),
            content["issued_on"],
            "岩手県大槌町",
        )
        assert verify_certificate(session, "034614" + "A" * 24) is None
        summary = issuance_summary(session, tenant, today_jst())
        assert (summary.issues, summary.reissues) == (1, 1)
        fees = fees_on(session, tenant, today_jst())
        assert fees[CertificateType.MOVE_OUT] == 0
        assert fees[CertificateType.RESIDENT_RECORD] is None
