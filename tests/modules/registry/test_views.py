"""The counter screens of the register through the real app on both engines (issue 4).

The screens call the API's services: what they show, record and refuse must match the API, every person shown
is an audited read, and a refused form writes nothing.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from jichitai.modules.registry.records.event_views import EVENT_FORMS
from jichitai.platform.documents import font_status
from tests.conftest import TOWN_A, TOWN_B, StaffHeaders, make_staff
from tests.modules.registry.test_api_life_story import BASE, days, move_in_family, person, post, resident
from tests.modules.registry.test_support_api import measure
from tests.platform.test_auth_api import counts, entries
from tests.ui import browser, csrf_of, field_errors, sign_in

UI = f"/ui/{TOWN_A.lg_code}/registry"
REGISTRY_TABLES = ("registry_event", "registry_person_record", "registry_person", "registry_household")


@pytest.fixture
def counter(client: TestClient, engine: Engine) -> TestClient:
    """A browser signed in as a 住民記録担当 of town A (purpose 住民基本台帳事務)."""
    make_staff(engine, TOWN_A, "ui-clerk", ["registry_clerk"])
    page = browser(client)
    assert sign_in(page, "ui-clerk").status_code == 200
    return page


def tsuzuki(client: TestClient) -> list[str]:
    """都築 (ツヅキ) 太郎 and 花子 move in; their 宛名番号."""
    moved = post(
        client,
        {
            "type": "domestic_move_in",
            "event_date": days(-20),
            "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
            "address": {"area": "末広町", "number": "5番1号"},
            "persons": [
                person("都築", "太郎", ("ツヅキ", "タロウ"), "1970-01-02", "male", "世帯主"),
                person("都築", "花子", ("ツヅキ", "ハナコ"), "1972-03-04", "female", "妻"),
            ],
        },
    )
    return [p["atena_no"] for p in moved["persons"]]


def registry_counts(engine: Engine) -> dict[str, int]:
    return {name: n for name, n in counts(engine).items() if name in REGISTRY_TABLES}


def test_search_by_kana_ignores_voicing_and_records_each_read(
    client: TestClient, counter: TestClient, engine: Engine
) -> None:
    taro, hanako = tsuzuki(client)
    found = counter.get(f"{UI}/search", params={"kana": "ツズキ"})
    assert found.status_code == 200
    assert f'href="{UI}/persons/{taro}"' in found.text
    assert f'href="{UI}/persons/{hanako}"' in found.text
    assert "都築" in found.text
    assert "昭和45年1月2日" in found.text
    reads = entries(engine, action="registry:resident:read", actor="ui-clerk")
    assert sorted(e.subject for e in reads) == sorted([taro, hanako])
    assert {e.purpose for e in reads} == {"resident_registry"}
    by_birth = counter.get(f"{UI}/search", params={"birth_date": "S45.1.2"})
    assert f"{UI}/persons/{taro}" in by_birth.text
    assert f"{UI}/persons/{hanako}" not in by_birth.text
    bad = counter.get(f"{UI}/search", params={"birth_date": "昭和45年2月30日"})
    assert field_errors(bad) == ["存在しない日付です。"]
    assert "results-title" not in bad.text


def test_removed_records_are_searched_on_request(client: TestClient, counter: TestClient) -> None:
    taro, hanako = tsuzuki(client)
    post(client, {"type": "death", "event_date": days(-1), "atena_no": hanako})
    default = counter.get(f"{UI}/search", params={"kana": "ツズキ ハナコ"})
    assert "該当する方はいません" in default.text
    assert "除票のみ" in default.text
    removed = counter.get(f"{UI}/search", params={"kana": "ツズキ ハナコ", "status": "removed"})
    assert f"{UI}/persons/{hanako}" in removed.text
    assert "除票 (死亡者)" in removed.text
    page = counter.get(f"{UI}/persons/{hanako}")
    assert "除票です (死亡者" in page.text
    assert f"{UI}/persons/{taro}" not in removed.text


def test_person_page_shows_record_household_and_history(client: TestClient, counter: TestClient) -> None:
    taro, hanako, ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    page = counter.get(f"{UI}/persons/{hanako}")
    assert page.status_code == 200
    assert "昭和58年3月3日" in page.text
    assert "岩手県大槌町本町一丁目2番3号" in page.text
    order = [
        page.text.index(f"{UI}/persons/{taro}"),
        page.text.index("(この方)"),
        page.text.index(f"{UI}/persons/{ichiro}"),
    ]
    assert order == sorted(order)  # 世帯主, 妻, 子: the certificate order
    assert "国内転入" in page.text
    assert "履歴番号" in page.text
    clerk_view = counter.get(f"{UI}/persons/{taro}")
    assert re.search(r"\b\d{12}\b", clerk_view.text)  # 個人番号 shown for 住民基本台帳事務


def test_person_page_masks_my_number_for_a_tax_user(client: TestClient, engine: Engine) -> None:
    taro = move_in_family(client)["persons"][0]["atena_no"]
    number = resident(client, taro)["current"]["my_number"]
    make_staff(engine, TOWN_A, "ui-tax", ["tax"])
    page = browser(client)
    assert "個人住民税事務" in sign_in(page, "ui-tax", purpose="resident_tax").text
    shown = page.get(f"{UI}/persons/{taro}")
    assert shown.status_code == 200
    assert "************" in shown.text
    assert number not in shown.text
    assert "転居" not in shown.text  # no forms offered without registry:event:record
    refused = page.get(f"{UI}/events/relocation/new", params={"atena_no": taro})
    assert refused.status_code == 403
    assert "権限がありません" in refused.text


def test_a_bad_date_is_shown_inline_and_nothing_is_written(
    client: TestClient, counter: TestClient, engine: Engine
) -> None:
    taro = move_in_family(client)["persons"][0]["atena_no"]
    form = counter.get(f"{UI}/events/relocation/new", params={"atena_no": taro})
    assert form.status_code == 200
    household = resident(client, taro)["current"]["household_no"]
    before = registry_counts(engine)
    refused = counter.post(
        f"{UI}/events/relocation",
        data={
            "csrf_token": csrf_of(form),
            "ctx_person": taro,
            "ctx_household": household,
            "household_no": household,
            "event_date": "令和6年2月30日",
            "address.number": "1番1号",
            "scope": "all",
        },
    )
    assert refused.status_code == 422
    assert field_errors(refused) == ["必須項目です。"]  # the form's own check comes first
    assert 'href="#f-address-area"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    bad_date = counter.post(
        f"{UI}/events/relocation",
        data={
            "csrf_token": csrf_of(form),
            "ctx_person": taro,
            "household_no": household,
            "event_date": "令和6年2月30日",
            "address.area": "末広町",
            "address.number": "1番1号",
        },
    )
    assert bad_date.status_code == 422
    assert field_errors(bad_date) == ["存在しない日付です。"]
    assert 'href="#f-event_date"' in bad_date.text
    assert "何も記録されていません" in bad_date.text
    assert 'value="令和6年2月30日"' in bad_date.text
    assert 'value="末広町"' in bad_date.text
    assert registry_counts(engine) == before


def test_relocation_recorded_through_the_form(client: TestClient, counter: TestClient) -> None:
    taro = move_in_family(client)["persons"][0]["atena_no"]
    form = counter.get(f"{UI}/events/relocation/new", params={"atena_no": taro})
    household = resident(client, taro)["current"]["household_no"]
    done = counter.post(
        f"{UI}/events/relocation",
        data={
            "csrf_token": csrf_of(form),
            "ctx_person": taro,
            "ctx_household": household,
            "household_no": household,
            "event_date": days(-2),
            "address.area": "末広町",
            "address.number": "1番1号",
            "scope": "all",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{UI}/persons/{taro}?done=2"
    page = counter.get(done.headers["location"])
    assert "転居を記録しました (異動番号 2" in page.text
    current = resident(client, taro)["current"]
    assert (current["address"], current["prior_address"]) == (
        "岩手県大槌町末広町1番1号",
        "岩手県大槌町本町一丁目2番3号",
    )
    assert [
        e.subject for e in entries(client.app.state.engine, action="registry:event:record", actor="ui-clerk")
    ]


def test_rows_keep_their_place_on_screen(client: TestClient, counter: TestClient, engine: Engine) -> None:
    form = counter.get(f"{UI}/events/domestic_move_in/new")
    base = {
        "csrf_token": csrf_of(form),
        "event_date": days(-3),
        "previous_address": "宮城県石巻市",
        "address.area": "本町二丁目",
        "address.number": "1番",
    }
    first = {
        "persons[0].family_name": "阿部",
        "persons[0].family_kana": "アベ",
        "persons[0].birth_date": "1990-01-01",
        "persons[0].sex": "male",
        "persons[0].relationship": "世帯主",
    }
    third = {
        "persons[2].family_name": "阿部",
        "persons[2].family_kana": "アベ",
        "persons[2].birth_date": "1990-02-30",
        "persons[2].sex": "female",
        "persons[2].relationship": "妻",
    }
    before = registry_counts(engine)
    refused = counter.post(f"{UI}/events/domestic_move_in", data={**base, **first, **third})
    assert refused.status_code == 422
    assert field_errors(refused) == ["存在しない日付です。"]
    assert 'href="#f-persons-2--birth_date"' in refused.text  # the third row on screen, not the body's second
    assert registry_counts(engine) == before
    fixed = {**third, "persons[2].birth_date": "1990-02-28"}
    done = counter.post(
        f"{UI}/events/domestic_move_in", data={**base, **first, **fixed}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    head = done.headers["location"].split("/persons/")[1].split("?")[0]
    assert (
        len(
            counter.get(f"{UI}/households/{resident(client, head)['current']['household_no']}").text.split(
                "data-row"
            )
        )
        >= 1
    )
    assert resident(client, head)["current"]["relationship"] == "世帯主"


def test_event_forms_need_the_csrf_token(client: TestClient, counter: TestClient, engine: Engine) -> None:
    taro, _hanako = tsuzuki(client)
    before = registry_counts(engine)
    forged = counter.post(f"{UI}/events/death", data={"atena_no": taro, "event_date": days(-1)})
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    assert registry_counts(engine) == before
    assert entries(engine, action="auth:denied", actor="ui-clerk")[-1].details["code"] == "csrf_failed"


def test_another_town_answers_like_a_missing_one(
    client: TestClient, counter: TestClient, staff: StaffHeaders
) -> None:
    other = client.post(
        "/api/v1/municipalities/046060/events",
        json={
            "type": "domestic_move_in",
            "event_date": days(-3),
            "previous_address": "岩手県大槌町",
            "address": {"area": "志津川", "number": "1番"},
            "persons": [person("佐藤", "一", ("サトウ", "ハジメ"), "1990-01-01", "male", "世帯主")],
        },
        headers=staff("registry_clerk", town=TOWN_B, purpose="resident_registry"),
    )
    atena_b = other.json()["persons"][0]["atena_no"]
    theirs = counter.get(f"/ui/046060/persons/{atena_b}")
    nowhere = counter.get(f"/ui/032107/persons/{atena_b}")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.text == nowhere.text
    assert "市区町村が見つかりません。" in theirs.text


def test_certificate_issued_from_the_person_page(client: TestClient, counter: TestClient) -> None:
    taro, hanako, ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    form = counter.get(f"{UI}/certificates/new", params={"atena_no": taro})
    assert form.status_code == 200
    assert form.text.count('name="atena_nos"') == 3
    assert form.text.count(" checked") >= 3
    assert "住民票の写し" in form.text
    issued = counter.post(
        f"{UI}/certificates",
        data={
            "csrf_token": csrf_of(form),
            "ctx_person": taro,
            "type": "resident_record",
            "style": "household",
            "copies": "1",
            "atena_nos": [taro, hanako, ichiro],
            "items.household": "true",
            "requester.category": "self",
            "requester.name": "山田　太郎",
            "requester.atena_no": taro,
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303, issued.text
    page = counter.get(issued.headers["location"])
    assert "住民票の写しを交付しました (発行番号 1)" in page.text
    day = counter.get(f"{UI}/certificates/summary")
    assert day.status_code == 200
    assert "交付件数・手数料の日計" in day.text
    assert "1件" in day.text
    assert "1通" in day.text
    pdf = counter.get(f"{UI}/certificates/1/pdf")
    if not font_status().available:
        assert pdf.status_code == 503
        assert "IPAmj明朝" in pdf.text
        return
    assert (pdf.status_code, pdf.headers["content-type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")
    again = counter.get(f"{UI}/certificates/1/pdf")
    assert again.status_code == 409
    assert "再交付" in again.text
    shown = counter.get(f"{UI}/certificates/1")
    reissued = counter.post(f"{UI}/certificates/1/reissue", data={"csrf_token": csrf_of(shown)})
    assert (reissued.status_code, reissued.headers["content-type"]) == (200, "application/pdf")


def test_certificate_refusals_are_shown_on_the_form(
    client: TestClient, counter: TestClient, staff: StaffHeaders
) -> None:
    taro, hanako, _ichiro = (p["atena_no"] for p in move_in_family(client)["persons"])
    officer = staff("support_officer", purpose="support_measure")
    assert (
        client.post(f"{BASE}/support-measures", json=measure(hanako, taro), headers=officer).status_code
        == 201
    )
    page = counter.get(f"{UI}/persons/{hanako}")
    assert "DV等支援措置 (仮支援措置を含む) がかかっています" in page.text
    household = counter.get(f"{UI}/persons/{taro}")
    assert "支援措置</span>" in household.text  # the member is marked on the household list
    form = counter.get(f"{UI}/certificates/new", params={"atena_no": hanako})
    assert "override.reason" not in form.text  # only for those who may lift a block
    data = {
        "csrf_token": csrf_of(form),
        "ctx_person": hanako,
        "type": "resident_record",
        "style": "individual",
        "copies": "1",
        "atena_nos": [hanako],
        "requester.category": "third_party",
        "requester.name": "調査　株式会社",
        "purpose": "債権の確認",
    }
    blocked = counter.post(f"{UI}/certificates", data=data)
    assert blocked.status_code == 403
    assert "交付・閲覧の制限が設定されています" in blocked.text
    number = counter.post(f"{UI}/certificates", data={**data, "items.my_number": "true"})
    assert number.status_code == 422
    assert "本人・同一世帯の方 (または代理人) の請求でのみ記載できます" in field_errors(number)[0]


def test_every_event_form_opens_with_a_label_for_each_input(client: TestClient, counter: TestClient) -> None:
    taro = move_in_family(client)["persons"][0]["atena_no"]
    for event_type in EVENT_FORMS:
        form = counter.get(f"{UI}/events/{event_type}/new", params={"atena_no": taro})
        assert form.status_code == 200, (event_type, form.text[-500:])
        ids = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', form.text)
        assert ids, event_type
        assert [i for i in ids if f'for="{i}"' not in form.text] == [], event_type
    assert counter.get(f"{UI}/events/no_such_event/new").status_code == 404


def test_a_birth_recorded_through_the_form_opens_the_child(client: TestClient, counter: TestClient) -> None:
    taro = move_in_family(client)["persons"][0]["atena_no"]
    form = counter.get(f"{UI}/events/birth/new", params={"atena_no": taro})
    assert 'value="山田"' in form.text  # the head's surname is offered
    household = resident(client, taro)["current"]["household_no"]
    born = counter.post(
        f"{UI}/events/birth",
        data={
            "csrf_token": csrf_of(form),
            "ctx_person": taro,
            "ctx_household": household,
            "household_no": household,
            "event_date": days(-1),
            "child.family_name": "山田",
            "child.given_name": "次郎",
            "child.family_kana": "ヤマダ",
            "child.given_kana": "ジロウ",
            "child.birth_date": days(-1),
            "child.sex": "male",
            "child.relationship": "子",
        },
        follow_redirects=False,
    )
    assert born.status_code == 303, born.text
    child = born.headers["location"].split("/persons/")[1].split("?")[0]
    assert child != taro
    page = counter.get(born.headers["location"])
    assert "出生を記録しました" in page.text
    assert "山田　次郎" in page.text


def test_an_auditor_lands_on_a_home_page_that_says_where_the_work_is(
    client: TestClient, engine: Engine
) -> None:
    make_staff(engine, TOWN_A, "ui-auditor", ["auditor"])
    page = browser(client)
    home = sign_in(page, "ui-auditor", purpose="audit")
    assert home.status_code == 200
    assert "開ける業務画面はありません" in home.text  # the platform's home: no module entry for an auditor
    assert 'name="kana"' not in home.text
    start = page.get(f"{UI}/")  # the register's own start page says the same in its words
    assert "住民記録の照会や異動の記録はできません" in start.text
    assert page.get(f"{UI}/search", params={"kana": "ヤマダ"}).status_code == 403


def test_the_home_page_lists_each_module_with_the_entries_the_roles_allow(
    client: TestClient, engine: Engine
) -> None:
    make_staff(engine, TOWN_A, "ui-reader", ["registry_clerk"])
    page = browser(client)
    home = sign_in(page, "ui-reader")
    assert "<h2>住民記録</h2>" in home.text
    assert f'href="{UI}/search"' in home.text
    assert page.get(f"{UI}/search", params={"kana": "ヤマダ"}).status_code == 200


def test_the_addresses_before_the_move_answer_308_to_the_new_ones(client: TestClient, engine: Engine) -> None:
    lg = TOWN_A.lg_code
    for old, new in (
        (f"/ui/{lg}/search?kana=%E3%83%A4", f"/ui/{lg}/registry/search?kana=%E3%83%A4"),
        (f"/ui/{lg}/persons/0000000018", f"/ui/{lg}/registry/persons/0000000018"),
        (f"/api/v1/municipalities/{lg}/residents", f"/api/v1/municipalities/{lg}/registry/residents"),
        (f"/api/v1/municipalities/{lg}/events/1", f"/api/v1/municipalities/{lg}/registry/events/1"),
    ):
        for method in ("GET", "POST"):
            moved = client.request(method, old, follow_redirects=False)
            assert moved.status_code == 308, old
            assert moved.headers["location"] == new
            assert moved.headers["deprecation"] == "true"
    # only the root is rewritten: a crafted path cannot send the browser to another site
    moved = client.get(f"/ui/{lg}/search//evil.example/x", follow_redirects=False)
    assert moved.headers["location"].startswith(f"/ui/{lg}/registry/")
