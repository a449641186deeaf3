"""A whole life story through the HTTP API, on both engines (the issue's acceptance scenario)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jichitai.platform.audit import AuditEntry, verify_chain
from jichitai.platform.clock import today_jst
from jichitai.platform.jp import juminhyo_code_check_digit, my_number_check_digit
from jichitai.platform.tenancy import Tenant

BASE = "/api/v1/municipalities/034614/registry"


def days(n: int) -> str:
    return (today_jst() + dt.timedelta(days=n)).isoformat()


def juminhyo(body10: str) -> str:
    return body10 + str(juminhyo_code_check_digit(body10))


def my_number(body11: str) -> str:
    return body11 + str(my_number_check_digit(body11))


def person(
    family: str, given: str, kana: tuple[str, str], birth: str, sex: str, rel: str, **extra: Any
) -> dict[str, Any]:
    return {
        "family_name": family,
        "given_name": given,
        "family_kana": kana[0],
        "given_kana": kana[1],
        "kana_confirmed": True,
        "birth_date": birth,
        "sex": sex,
        "relationship": rel,
        **extra,
    }


def post(client: TestClient, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = client.post(f"{BASE}/events", json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def move_in_family(client: TestClient) -> dict[str, Any]:
    return post(
        client,
        {
            "type": "domestic_move_in",
            "event_date": days(-30),
            "notified_on": days(-25),
            "previous_address": "宮城県仙台市青葉区本町三丁目8番1号",
            "address": {"area": "本町一丁目", "number": "2番3号", "postal_code": "0281115"},
            "persons": [
                person(
                    "山田",
                    "太郎",
                    ("ヤマダ", "タロウ"),
                    "1980-05-05",
                    "male",
                    "世帯主",
                    juminhyo_code=juminhyo("1234567890"),
                    my_number=my_number("62149832025"),
                    honseki="岩手県上閉伊郡大槌町本町一丁目2番地",
                    honseki_head="山田　太郎",
                ),
                person("山田", "花子", ("ヤマダ", "ハナコ"), "昭和58年3月3日", "female", "妻"),
                person("山田", "一郎", ("ヤマダ", "イチロウ"), "2015-06-01", "male", "子"),
            ],
        },
    )


def household(client: TestClient, household_no: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/households/{household_no}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def resident(client: TestClient, atena_no: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/residents/{atena_no}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_life_story(client: TestClient) -> None:
    # 1. A household of three moves in from another town.
    moved_in = move_in_family(client)
    assert moved_in["reason"] == "国内転入"
    assert [p["history_no_before"] for p in moved_in["persons"]] == [None, None, None]
    taro_no, hanako_no, ichiro_no = (p["atena_no"] for p in moved_in["persons"])
    taro = resident(client, taro_no)["current"]
    household_no = taro["household_no"]
    assert taro["relationship"] == "世帯主"
    assert taro["head_name"] == "山田　太郎"
    assert taro["became_resident_on"]["value"] == days(-30)
    assert taro["address_set_on"]["value"] == days(-30)
    assert taro["previous_address"] == "宮城県仙台市青葉区本町三丁目8番1号"
    assert taro["address"] == "岩手県大槌町本町一丁目2番3号"
    assert taro["notified_on"] == days(-25)
    hanako = resident(client, hanako_no)["current"]
    assert hanako["birth_date"]["value"] == "1983-03-03"
    assert hanako["birth_date"]["display"] == "昭和58年3月3日"
    assert len(hanako["juminhyo_code"]) == 11  # issued, none was given
    family = household(client, household_no)
    assert [m["given_name"] for m in family["members"]] == ["太郎", "花子", "一郎"]

    # 2. A child is born.
    born = post(
        client,
        {
            "type": "birth",
            "event_date": days(-20),
            "household_no": household_no,
            "child": person("山田", "さくら", ("ヤマダ", "サクラ"), days(-20), "female", "子"),
        },
    )
    sakura_no = born["persons"][0]["atena_no"]
    family = household(client, household_no)
    assert [m["given_name"] for m in family["members"]] == ["太郎", "花子", "一郎", "さくら"]
    assert resident(client, sakura_no)["current"]["became_resident_on"]["value"] == days(-20)

    # 3. The household moves within the town.
    moved = post(
        client,
        {
            "type": "relocation",
            "event_date": days(-10),
            "household_no": household_no,
            "address": {"area": "栄町二丁目", "number": "5番7号", "building": "コーポ栄 201号"},
        },
    )
    assert sorted(p["atena_no"] for p in moved["persons"]) == sorted(
        [taro_no, hanako_no, ichiro_no, sakura_no]
    )
    taro = resident(client, taro_no)
    assert [h["history_no"] for h in taro["history"]] == [1, 2]
    assert taro["current"]["address"] == "岩手県大槌町栄町二丁目5番7号　コーポ栄 201号"
    assert taro["current"]["prior_address"] == "岩手県大槌町本町一丁目2番3号"
    assert taro["current"]["address_set_on"]["value"] == days(-10)
    assert taro["current"]["became_resident_on"]["value"] == days(-30)
    assert taro["history"][0]["address"] == "岩手県大槌町本町一丁目2番3号"
    assert taro["history"][0]["is_current"] is False

    # 4. The head dies: refused while two or more would remain without a head ...
    events_before = client.get(f"{BASE}/events").json()["items"]
    refused = client.post(
        f"{BASE}/events", json={"type": "death", "event_date": days(-5), "atena_no": taro_no}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "household_head_change_required"
    assert client.get(f"{BASE}/events").json()["items"] == events_before
    # ... so a 世帯主変更 sets the new head first, then the death is recorded.
    post(
        client,
        {
            "type": "head_change",
            "event_date": days(-5),
            "household_no": household_no,
            "members": [
                {"atena_no": hanako_no, "relationship": "世帯主"},
                {"atena_no": taro_no, "relationship": "夫"},
                {"atena_no": ichiro_no, "relationship": "子"},
                {"atena_no": sakura_no, "relationship": "子"},
            ],
        },
    )
    death = post(client, {"type": "death", "event_date": days(-5), "atena_no": taro_no})
    assert death["category"] == "消除"
    taro = resident(client, taro_no)
    assert taro["current"]["status"] == "deceased"
    assert taro["current"]["removal_reason"] == "死亡"
    assert [h["relationship"] for h in taro["history"]] == ["世帯主", "世帯主", "夫", "夫"]
    family = household(client, household_no)
    assert [m["given_name"] for m in family["members"]] == ["花子", "一郎", "さくら"]
    assert {m["head_name"] for m in family["members"]} == {"山田　花子"}

    # 5. A member moves out with a future 転出予定日 and is found as 除票.
    out = post(
        client,
        {
            "type": "move_out",
            "event_date": days(10),
            "atena_nos": [ichiro_no],
            "destination": "東京都千代田区霞が関二丁目1番2号",
        },
    )
    assert out["event_date"]["value"] == days(10)
    ichiro = resident(client, ichiro_no)["current"]
    assert ichiro["status"] == "moved_out"
    assert ichiro["removed_on"] == days(10)
    assert ichiro["move_out_destination"] == "東京都千代田区霞が関二丁目1番2号"
    default = client.get(f"{BASE}/residents", params={"kana": "やまだ いちろう"}).json()
    assert default["items"] == []
    removed = client.get(f"{BASE}/residents", params={"kana": "ヤマダ イチロー", "status": "removed"}).json()
    assert [r["atena_no"] for r in removed["items"]] == [ichiro_no]
    assert [m["given_name"] for m in household(client, household_no)["members"]] == ["花子", "さくら"]


def test_every_written_person_is_in_the_audit_chain(client: TestClient, engine: Engine) -> None:
    moved_in = move_in_family(client)
    with Session(engine) as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.lg_code == "034614", AuditEntry.action == "registry:event:record")
            .order_by(AuditEntry.seq)
        ).all()
        assert [e.subject for e in entries] == [p["atena_no"] for p in moved_in["persons"]]
        assert {e.details["event_no"] for e in entries} == {moved_in["event_no"]}
        assert {(e.role, e.purpose) for e in entries} == {("registry_clerk", "resident_registry")}
        assert all(e.actor.startswith("registry-clerk") for e in entries)
        assert verify_chain(session, Tenant("034614")).ok


def test_cancellation_restores_prior_state_as_new_rows(client: TestClient) -> None:
    taro_no, _hanako_no, ichiro_no = (p["atena_no"] for p in move_in_family(client)["persons"])
    out = post(
        client, {"type": "move_out", "event_date": days(3), "atena_nos": [ichiro_no], "destination": "東京都"}
    )
    cancel = post(
        client,
        {
            "type": "cancellation",
            "event_date": days(0),
            "cancels_event_no": out["event_no"],
            "reason_detail": "届出誤り",
        },
    )
    assert cancel["reason"] == "異動の取消し(増)"
    ichiro = resident(client, ichiro_no)
    assert [h["status"] for h in ichiro["history"]] == ["resident", "moved_out", "resident"]
    assert ichiro["current"]["history_no"] == 3
    again = client.post(
        f"{BASE}/events",
        json={
            "type": "cancellation",
            "event_date": days(0),
            "cancels_event_no": out["event_no"],
            "reason_detail": "x",
        },
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_cancelled"
    # Cancelling the move-in (a 記載) removes all three as 取消し(減), still keeping every row.
    first_event = resident(client, taro_no)["events"][0]["event_no"]
    blocked = client.post(
        f"{BASE}/events",
        json={
            "type": "cancellation",
            "event_date": days(0),
            "cancels_event_no": first_event,
            "reason_detail": "x",
        },
    )
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "later_events_exist"
