"""Characters stored text may not hold, for every field family, through the API and the screens (issue 11).

Controls, bidirectional controls, other format characters and noncharacters are refused with 422
``invalid_characters``, the field named and the code point in the Japanese message; nothing is written. What
a resident record needs passes unchanged: U+3000 between 氏 and 名, MJ glyphs chosen by an ideographic
variation selector (葛󠄀), 髙, 﨑, 外字 in the private use area, kana with long vowels.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from jichitai.modules.registry.records import schemas
from jichitai.platform.jp import JpValueError, character_problem, check_text
from jichitai.platform.web.templating import input_id
from tests.conftest import TOWN_A, StaffHeaders, make_staff
from tests.modules.registry.test_api_life_story import BASE, days, person, resident
from tests.modules.registry.test_api_refusals import row_counts
from tests.ui import browser, csrf_of, field_errors, sign_in

REFUSED = {
    "C0 control": ["\x01", "\x07", "\t", "\x1b", "\x1f"],
    "DEL and C1 control": ["\x7f", "\x80", "\x85", "\x9b", "\x9f"],
    "line break in a one-line item": ["\n", "\r", "\u2028", "\u2029"],
    "bidi embedding and override": ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e"],
    "bidi isolate": ["\u2066", "\u2067", "\u2068", "\u2069"],
    "bidi mark": ["\u200e", "\u200f", "\u061c"],
    "format character": ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\ufff9"],
    "tag character": ["\U000e0001", "\U000e0041", "\U000e007f"],
    "noncharacter": ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"],
    "lone surrogate": ["\ud800", "\udfff"],
}
EVERY_REFUSED = [ch for chars in REFUSED.values() for ch in chars]
ONE_OF_EACH = [chars[-1] for chars in REFUSED.values() if chars[-1] not in "\ud800\udfff"]
"""One code point of every class a JSON body can carry (the input guard already refuses surrogates)."""

KEPT = [
    "山田\u3000太郎",  # full-width space between 氏 and 名
    "葛\U000e0100飾",  # 葛󠄀: an MJ glyph by its ideographic variation sequence
    "辻\U000e0102",
    "髙橋",
    "山﨑",  # U+FA11, a compatibility ideograph NFC leaves alone
    "\ue000子",  # 外字 in the private use area (printed as 〓 and reported on certificates)
    "\U000f0001",  # supplementary private use
    "渡\ufe00辺",  # a standardized variation selector
    "サトー",
    "ヴァイオリン",
    "ﾔﾏﾀﾞ ﾀﾛｳ",
    "やまだ　ゑみ",
    "José Müller-Łukasz O'Brien",
    "〓",
    "①番地の２",
]


def test_every_refused_class_is_named_by_its_code_point() -> None:
    for kind, chars in REFUSED.items():
        for ch in chars:
            problem = character_problem(f"山{ch}田")
            assert problem is not None, (kind, ch)
            assert f"U+{ord(ch):04X}" in problem, (kind, problem)
            if ch != "\n":
                assert character_problem(f"山{ch}田", multiline=True) == problem
            with pytest.raises(JpValueError) as refused:
                check_text(f"{ch}山田")  # at either end too: nothing is stripped before the check
            assert refused.value.code == "invalid_characters"


def test_what_a_resident_record_needs_is_kept() -> None:
    for text in KEPT:
        assert character_problem(text) is None, text
        assert check_text(text) == text
        assert check_text(text, multiline=True) == text


def test_only_multi_line_items_hold_line_feeds() -> None:
    assert check_text("一行目\r\n二行目\n三行目", multiline=True) == "一行目\n二行目\n三行目"
    assert character_problem("一行目\n二行目") == "使用できない文字 U+000A (改行) が含まれています。"
    assert (
        character_problem("一行目\r二行目", multiline=True)
        == "使用できない文字 U+000D (制御文字) が含まれています。"
    )
    assert (
        character_problem("甲\u202e乙")
        == "使用できない文字 U+202E (文字の方向を変える制御文字) が含まれています。"
    )
    note = schemas.Death.model_validate(
        {"type": "death", "event_date": "2024-04-01", "atena_no": "1", "note": "確認済み\r\n電話連絡あり"}
    )
    assert note.note == "確認済み\n電話連絡あり"


def _set(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """A copy of ``body`` with ``value`` at the field path ``a.b[0].c``."""
    changed = copy.deepcopy(body)
    node: Any = changed
    parts = [int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")]
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return changed


MOVE_IN: dict[str, Any] = {
    "type": "domestic_move_in",
    "event_date": "2024-04-01",
    "note": "備考",
    "previous_address": "宮城県石巻市",
    "address": {"area": "本町一丁目", "number": "1番", "building": "コーポ本町101"},
    "persons": [
        person(
            "山田",
            "太郎",
            ("ヤマダ", "タロウ"),
            "1980-01-01",
            "male",
            "世帯主",
            former_surname="佐藤",
            former_surname_kana="サトウ",
            honseki="岩手県上閉伊郡大槌町本町一丁目1番地",
            honseki_head="山田　一郎",
            foreign={
                "name_roman": "YAMADA TARO",
                "nationality": "ブラジル",
                "category": "中長期在留者",
                "residence_status": "定住者",
                "period_of_stay": "3年",
                "alias_name": "山田",
                "alias_kana": "ヤマダ",
            },
            entitlements={"pension_category": "第1号"},
        )
    ],
}
IRREGULAR = copy.deepcopy(MOVE_IN)
IRREGULAR["persons"][0]["birth_date"] = {"text": "昭和20年頃", "sort_date": "1945-01-01"}
EVENTS = f"{BASE}/events"
MEASURE: dict[str, Any] = {
    "atena_no": "0000000019",
    "kind": "配偶者暴力",
    "counterparty": {"name": "加害　太郎", "kana": "カガイ", "address": "宮城県仙台市"},
    "reason": "警察の意見",
    "notes": "備考",
}
CERTIFICATE: dict[str, Any] = {
    "type": "resident_record",
    "atena_nos": ["0000000019"],
    "requester": {"category": "self", "name": "山田　太郎"},
    "purpose": "年金の手続",
    "override": {"reason": "審査済み"},
}
FIELDS: list[tuple[str, str, dict[str, Any], list[str]]] = [
    (
        "registry_clerk",
        EVENTS,
        MOVE_IN,
        [
            "persons[0].family_name",
            "persons[0].given_name",
            "persons[0].family_kana",
            "persons[0].given_kana",
            "persons[0].former_surname",
            "persons[0].former_surname_kana",
            "persons[0].relationship",
            "persons[0].honseki",
            "persons[0].honseki_head",
            "persons[0].foreign.name_roman",
            "persons[0].foreign.nationality",
            "persons[0].foreign.residence_status",
            "persons[0].foreign.period_of_stay",
            "persons[0].foreign.alias_name",
            "persons[0].foreign.alias_kana",
            "persons[0].entitlements.pension_category",
            "address.area",
            "address.number",
            "address.building",
            "previous_address",
            "note",
        ],
    ),
    ("registry_clerk", EVENTS, IRREGULAR, ["persons[0].birth_date.text"]),
    (
        "registry_clerk",
        EVENTS,
        {"type": "move_out", "event_date": "2024-04-01", "atena_nos": ["1"], "destination": "仙台市"},
        ["destination"],
    ),
    (
        "registry_clerk",
        EVENTS,
        {
            "type": "ex_officio_removal",
            "event_date": "2024-04-01",
            "atena_no": "1",
            "reason_detail": "実態調査",
        },
        ["reason_detail"],
    ),
    (
        "registry_clerk",
        EVENTS,
        {
            "type": "ex_officio_correction",
            "event_date": "2024-04-01",
            "atena_no": "1",
            "reason_detail": "誤記",
            "corrections": {"family_name": "山田", "honseki": "大槌町", "address_building": "101"},
        },
        ["corrections.family_name", "corrections.honseki", "corrections.address_building"],
    ),
    (
        "registry_clerk",
        EVENTS,
        {
            "type": "head_change",
            "event_date": "2024-04-01",
            "household_no": "1",
            "members": [{"atena_no": "1", "relationship": "世帯主"}],
        },
        ["members[0].relationship"],
    ),
    (
        "support_officer",
        f"{BASE}/support-measures",
        MEASURE,
        ["counterparty.name", "counterparty.kana", "counterparty.address", "reason", "notes"],
    ),
    ("support_officer", f"{BASE}/support-measures/1/confirm", {"note": "確認"}, ["note"]),
    ("support_officer", f"{BASE}/support-measures/1/extend", {"reason": "延長"}, ["reason"]),
    ("support_officer", f"{BASE}/support-measures/1/end", {"reason": "取下げ"}, ["reason"]),
    (
        "certificate_clerk",
        f"{BASE}/certificates",
        CERTIFICATE,
        ["requester.name", "purpose", "override.reason"],
    ),
    (
        "admin",
        f"/api/v1/municipalities/{TOWN_A.lg_code}/staff",
        {"login_name": "newcomer", "display_name": "新人　職員", "password": "x" * 16, "roles": []},
        ["display_name"],
    ),
    (
        "admin",
        f"/api/v1/municipalities/{TOWN_A.lg_code}/roles/tax",
        {"name": "税務", "purposes": ["resident_tax"], "permissions": []},
        ["name"],
    ),
]
PURPOSES = {
    "support_officer": "support_measure",
    "certificate_clerk": "certificate",
    "admin": "administration",
}


def test_every_field_family_refuses_through_the_api(
    client: TestClient, engine: Engine, staff: StaffHeaders
) -> None:
    signed_in = {role: staff(role, purpose=PURPOSES.get(role, "resident_registry")) for role, *_ in FIELDS}
    before = row_counts(engine)
    for role, url, body, fields in FIELDS:
        headers = signed_in[role]
        method = client.put if "/roles/" in url else client.post
        for name in fields:
            for ch in ONE_OF_EACH:
                response = method(url, json=_set(body, name, f"ア{ch}イ"), headers=headers)
                assert response.status_code == 422, (name, hex(ord(ch)), response.text)
                error = response.json()["error"]
                assert (error["code"], error["field"]) == ("invalid_characters", name), response.text
                assert f"U+{ord(ch):04X}" in error["message"]
    assert row_counts(engine) == before


def test_municipality_names_and_settings_refuse_through_the_api(
    client: TestClient, operator: dict[str, str]
) -> None:
    town = {"lg_code": "032140", "name": "二戸市", "name_kana": "ニノヘシ", "prefecture": "岩手県"}
    for name in ("name", "name_kana", "prefecture"):
        refused = client.post("/api/v1/municipalities", json=_set(town, name, "二\u202e戸"), headers=operator)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == {
            "code": "invalid_characters",
            "message": "使用できない文字 U+202E (文字の方向を変える制御文字) が含まれています。",
            "field": name,
        }
    setting = client.post(
        "/api/v1/municipalities",
        json={**town, "settings": {"mayor_name": "見本\u200b太郎"}},
        headers=operator,
    )
    assert setting.status_code == 422
    assert setting.json()["error"]["code"] == "invalid_setting"
    assert "mayor_name" in setting.json()["error"]["message"]
    assert "U+200B" in setting.json()["error"]["message"]
    assert client.get("/api/v1/municipalities/032140").status_code == 404  # nothing was registered
    kept = client.post(
        "/api/v1/municipalities",
        json={**town, "name": "二戸市", "settings": {"mayor_name": "髙﨑　葛\U000e0100太郎"}},
        headers=operator,
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["settings"]["mayor_name"] == "髙﨑　葛\U000e0100太郎"


def test_names_a_resident_record_needs_are_stored_unchanged(client: TestClient) -> None:
    body = copy.deepcopy(MOVE_IN)
    body["event_date"] = days(-3)
    body["note"] = "転出証明書を確認\n原本還付"
    body["address"]["building"] = "コーポ\ue000 101号"
    body["persons"] = [
        person("葛\U000e0100西", "髙﨑\u3000ゑみ", ("カサイ", "エミー"), "1980-01-01", "female", "世帯主"),
        person("辻\U000e0102", "\ue000子", ("ツジ", "ハルコ"), "2001-02-03", "female", "子"),
    ]
    response = client.post(EVENTS, json=body)
    assert response.status_code == 201, response.text
    first, second = (resident(client, p["atena_no"])["current"] for p in response.json()["persons"])
    assert (first["family_name"], first["given_name"]) == ("葛\U000e0100西", "髙﨑\u3000ゑみ")
    assert (first["family_kana"], first["given_kana"]) == ("カサイ", "エミー")
    assert (second["family_name"], second["given_name"]) == ("辻\U000e0102", "\ue000子")


@pytest.fixture
def counter(client: TestClient, engine: Engine) -> TestClient:
    """A browser signed in as a 住民記録担当 of town A."""
    make_staff(engine, TOWN_A, "text-clerk", ["registry_clerk"])
    page = browser(client)
    assert sign_in(page, "text-clerk").status_code == 200
    return page


UI = f"/ui/{TOWN_A.lg_code}/registry"


def test_screen_forms_show_the_refused_character_and_write_nothing(
    client: TestClient, counter: TestClient, engine: Engine
) -> None:
    form = counter.get(f"{UI}/events/domestic_move_in/new")
    data = {
        "csrf_token": csrf_of(form),
        "event_date": days(-3),
        "previous_address": "宮城県石巻市",
        "address.area": "本町二丁目",
        "address.number": "1番",
        "persons[0].family_name": "阿部",
        "persons[0].family_kana": "アベ",
        "persons[0].birth_date": "1990-01-01",
        "persons[0].sex": "male",
        "persons[0].relationship": "世帯主",
    }
    before = row_counts(engine)
    for name, ch, kind in (
        ("persons[0].family_name", "\u202e", "文字の方向を変える制御文字"),
        ("address.building", "\u2066", "文字の方向を変える制御文字"),
        ("note", "\u200b", "書式制御文字・ゼロ幅文字"),
    ):
        refused = counter.post(f"{UI}/events/domestic_move_in", data={**data, name: f"阿{ch}部"})
        assert refused.status_code == 422, refused.text
        assert field_errors(refused) == [f"使用できない文字 U+{ord(ch):04X} ({kind}) が含まれています。"]
        assert f'href="#{input_id(name)}"' in refused.text  # the summary links to the input
    certificate = counter.get(f"{UI}/certificates/new")
    refused = counter.post(
        f"{UI}/certificates",
        data={
            "csrf_token": csrf_of(certificate),
            "type": "resident_record",
            "style": "individual",
            "copies": "1",
            "atena_nos": ["0000000019"],
            "requester.category": "third_party",
            "requester.name": "調査\u202d株式会社",
            "purpose": "債権の確認",
        },
    )
    assert refused.status_code == 422, refused.text
    assert field_errors(refused) == [
        "使用できない文字 U+202D (文字の方向を変える制御文字) が含まれています。"
    ]
    assert row_counts(engine) == before
    clean = {**data, "persons[0].family_name": "葛\U000e0100西\u3000髙﨑", "note": "原本確認\r\n還付済み"}
    done = counter.post(f"{UI}/events/domestic_move_in", data=clean, follow_redirects=False)
    assert done.status_code == 303, done.text
    atena = done.headers["location"].split("/persons/")[1].split("?")[0]
    assert resident(client, atena)["current"]["family_name"] == "葛\U000e0100西\u3000髙﨑"
