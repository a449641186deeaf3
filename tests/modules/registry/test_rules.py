"""The registry's pure rules, as units."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jichitai.modules.registry.records import rules
from jichitai.platform.errors import Conflict, InvalidInput

TODAY = dt.date(2026, 11, 29)


def member(no: str, rel: str, born: str = "1980-01-01") -> rules.Member:
    return rules.Member(no, rel, dt.date.fromisoformat(born))


def test_future_dates_only_for_move_out() -> None:
    rules.check_event_dates("move_out", TODAY + dt.timedelta(days=30), None, TODAY)
    for event_type in sorted(set(rules.EVENT_KINDS) - {"move_out"}):
        with pytest.raises(InvalidInput) as info:
            rules.check_event_dates(event_type, TODAY + dt.timedelta(days=1), None, TODAY)
        assert info.value.code == "future_event_date"
    with pytest.raises(InvalidInput):
        rules.check_event_dates("death", TODAY, TODAY + dt.timedelta(days=1), TODAY)


def test_head_stays() -> None:
    members = [member("1", "世帯主"), member("2", "妻"), member("3", "子")]
    assert rules.after_departure(members, ["3"]) == rules.HeadDecision(None, ("1", "2"))


def test_head_leaves_one_member_who_becomes_head() -> None:
    members = [member("1", "世帯主"), member("2", "妻")]
    assert rules.after_departure(members, ["1"]).new_head == "2"


def test_head_leaves_alone() -> None:
    assert rules.after_departure([member("1", "世帯主")], ["1"]) == rules.HeadDecision(None, ())


def test_head_leaving_two_members_is_refused() -> None:
    members = [member("1", "世帯主"), member("2", "妻"), member("3", "子")]
    with pytest.raises(Conflict) as info:
        rules.after_departure(members, ["1"])
    assert info.value.code == "household_head_change_required"


@given(st.integers(min_value=0, max_value=6), st.booleans())
def test_head_rule_property(others: int, head_leaves: bool) -> None:
    members = [member("0", "世帯主")] + [member(str(i + 1), "子") for i in range(others)]
    leaving = ["0"] if head_leaves else []
    if head_leaves and others >= 2:
        with pytest.raises(Conflict):
            rules.after_departure(members, leaving)
        return
    decision = rules.after_departure(members, leaving)
    assert decision.new_head == ("1" if head_leaves and others == 1 else None)
    assert len(decision.remaining) == others + (0 if head_leaves else 1)


def test_exactly_one_head() -> None:
    assert rules.check_household_relationships({"a": "世帯主", "b": "妻"}) == "a"
    for labels in ({"a": "妻"}, {"a": "世帯主", "b": "世帯主"}):
        with pytest.raises(InvalidInput):
            rules.check_household_relationships(labels)


def test_certificate_order() -> None:
    members = [
        member("6", "同居人", "1990-01-01"),
        member("5", "母", "1930-01-01"),
        member("4", "子", "2012-01-01"),
        member("3", "子", "2010-01-01"),
        member("2", "妻", "1981-01-01"),
        member("1", "世帯主", "1980-01-01"),
        member("7", "子の妻", "2009-01-01"),
    ]
    ordered = [m.atena_no for m in rules.certificate_order(members)]
    assert ordered[:2] == ["1", "2"]
    assert ordered.index("3") < ordered.index("4") < ordered.index("5") < ordered.index("6")
    assert ordered.index("7") < ordered.index("5")


def test_cancellation_reasons() -> None:
    assert rules.cancellation_reason("消除") == ("異動の取消し(増)", "記載")
    assert rules.cancellation_reason("記載") == ("異動の取消し(減)", "消除")
    assert rules.cancellation_reason("修正") == ("異動の取消し(修正)", "修正")


def test_entitlement_output_covers_every_entitlement_column() -> None:
    from jichitai.modules.registry.records.models import ENTITLEMENT_COLUMNS
    from jichitai.modules.registry.records.responses import EntitlementsOut

    assert set(EntitlementsOut.model_fields) == set(ENTITLEMENT_COLUMNS)
    assert len(ENTITLEMENT_COLUMNS) == 18
