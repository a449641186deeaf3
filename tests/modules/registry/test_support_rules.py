"""Pure rules of DV等支援措置: periods (民法143条), states on a day, extension, who may obtain a record."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.rules import (
    Counterparty,
    MeasureState,
    Outcome,
    Period,
    Protection,
    Requester,
)
from jichitai.platform.errors import Conflict, DomainError, InvalidInput

D = dt.date
days = st.dates(min_value=D(1950, 1, 1), max_value=D(2150, 12, 31))


def active(starts: dt.date, ends: dt.date | None = None, ended_on: dt.date | None = None) -> Period:
    return Period(False, starts, ends or rules.default_end(starts), ended_on)


# --- periods ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ends"),
    [
        (D(2024, 1, 1), D(2024, 12, 31)),
        (D(2024, 4, 1), D(2025, 3, 31)),
        (D(2024, 2, 29), D(2025, 2, 28)),  # no 29 Feb next year: the end of that February
        (D(2024, 3, 1), D(2025, 2, 28)),
        (D(2023, 3, 1), D(2024, 2, 29)),  # the year ending in a leap February keeps the 29th
        (D(2024, 2, 28), D(2025, 2, 27)),
        (D(2023, 2, 28), D(2024, 2, 27)),
        (D(2024, 12, 31), D(2025, 12, 30)),
    ],
)
def test_default_end_is_the_day_before_the_anniversary(starts: dt.date, ends: dt.date) -> None:
    assert rules.default_end(starts) == ends


@given(days)
def test_a_year_lasts_365_or_366_days_and_ends_before_the_anniversary(starts: dt.date) -> None:
    ends = rules.default_end(starts)
    assert (ends - starts).days + 1 in (365, 366)
    following = ends + dt.timedelta(days=1)
    if (starts.month, starts.day) == (2, 29):
        assert following == D(starts.year + 1, 3, 1)
    else:
        assert following == D(starts.year + 1, starts.month, starts.day)


@given(days, days)
def test_default_end_never_goes_backwards(a: dt.date, b: dt.date) -> None:
    first, second = sorted((a, b))
    assert rules.default_end(first) <= rules.default_end(second)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (D(2025, 3, 31), -1, D(2025, 2, 28)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2024, 12, 15), 1, D(2025, 1, 15)),
        (D(2025, 1, 15), -1, D(2024, 12, 15)),
        (D(2024, 5, 31), 12, D(2025, 5, 31)),
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert rules.add_months(day, months) == expected


@pytest.mark.parametrize(
    ("ends", "opens"),
    [
        (D(2025, 3, 31), D(2025, 3, 1)),
        (D(2025, 2, 28), D(2025, 2, 1)),
        (D(2025, 3, 30), D(2025, 2, 28)),
        (D(2024, 3, 30), D(2024, 2, 29)),
        (D(2025, 12, 31), D(2025, 12, 1)),
        (D(2026, 1, 14), D(2025, 12, 15)),
    ],
)
def test_the_window_is_the_last_month_of_the_period(ends: dt.date, opens: dt.date) -> None:
    assert rules.window_opens(ends) == opens


@given(days)
def test_the_window_opens_within_a_month_before_the_end(ends: dt.date) -> None:
    assert 0 < (ends - rules.window_opens(ends)).days <= 30


def test_check_period() -> None:
    starts = D(2024, 4, 1)
    rules.check_period(starts, starts)
    rules.check_period(starts, D(2025, 3, 31))
    with pytest.raises(InvalidInput) as early:
        rules.check_period(starts, D(2024, 3, 31))
    with pytest.raises(InvalidInput) as long:
        rules.check_period(starts, D(2025, 4, 1))
    assert early.value.code == long.value.code == "invalid_support_period"
    assert early.value.field == "ends_on"


def test_check_date() -> None:
    rules.check_date(D(2025, 1, 1), D(2025, 1, 1), "starts_on")
    rules.check_date(rules.EARLIEST, D(2025, 1, 1), "starts_on")
    with pytest.raises(InvalidInput) as future:
        rules.check_date(D(2025, 1, 2), D(2025, 1, 1), "starts_on")
    assert (future.value.code, future.value.field) == ("future_date", "starts_on")
    with pytest.raises(InvalidInput) as ancient:
        rules.check_date(D(2003, 12, 31), D(2025, 1, 1), "ended_on")
    assert (ancient.value.code, ancient.value.field) == ("invalid_support_period", "ended_on")


# --- state on a day --------------------------------------------------------------------------------------


def test_states_through_a_measures_life() -> None:
    period = active(D(2024, 4, 1))  # ends 2025-03-31, window from 2025-03-01
    assert rules.state_on(period, D(2024, 3, 31)) is MeasureState.NOT_STARTED
    assert rules.state_on(period, D(2024, 4, 1)) is MeasureState.ACTIVE
    assert rules.state_on(period, D(2025, 2, 28)) is MeasureState.ACTIVE
    assert rules.state_on(period, D(2025, 3, 1)) is MeasureState.EXPIRING
    assert rules.state_on(period, D(2025, 3, 31)) is MeasureState.EXPIRING
    assert rules.state_on(period, D(2025, 4, 1)) is MeasureState.LAPSED
    provisional = Period(True, D(2024, 4, 1), D(2025, 3, 31))
    assert rules.state_on(provisional, D(2025, 3, 15)) is MeasureState.PROVISIONAL
    assert rules.state_on(provisional, D(2025, 4, 1)) is MeasureState.LAPSED
    ended = active(D(2024, 4, 1), ended_on=D(2024, 9, 1))
    assert rules.state_on(ended, D(2024, 8, 31)) is MeasureState.ACTIVE
    assert rules.state_on(ended, D(2024, 9, 1)) is MeasureState.ENDED


@given(
    days, st.integers(0, 400), st.integers(-30, 800), st.booleans(), st.one_of(st.none(), st.integers(0, 500))
)
def test_in_force_exactly_between_start_and_end_until_ended(
    starts: dt.date, length: int, offset: int, provisional: bool, ended_after: int | None
) -> None:
    ends = min(starts + dt.timedelta(days=length), rules.default_end(starts))
    ended_on = None if ended_after is None else starts + dt.timedelta(days=ended_after)
    period = Period(provisional, starts, ends, ended_on)
    on = starts + dt.timedelta(days=offset)
    expected = starts <= on <= ends and (ended_on is None or on < ended_on)
    assert rules.in_force(period, on) is expected


def test_alerts_from_a_month_before_until_a_month_after_the_end() -> None:
    period = active(D(2024, 4, 1))  # ends 2025-03-31
    assert not rules.alert_due(period, D(2025, 2, 28))
    assert rules.alert_due(period, D(2025, 3, 1))
    assert rules.alert_due(period, D(2025, 3, 31))
    assert rules.alert_due(period, D(2025, 4, 30))  # lapsed, still shown for a month
    assert not rules.alert_due(period, D(2025, 5, 1))
    assert rules.alert_due(Period(True, D(2024, 4, 1), D(2025, 3, 31)), D(2025, 3, 10))
    assert not rules.alert_due(active(D(2024, 4, 1), ended_on=D(2025, 3, 5)), D(2025, 3, 10))


# --- extension -------------------------------------------------------------------------------------------


def test_extension_inside_the_window_continues_without_a_gap() -> None:
    period = active(D(2024, 4, 1))
    extended = rules.extension(period, D(2025, 3, 1))
    assert extended == rules.Extension(D(2024, 4, 1), D(2025, 4, 1), D(2026, 3, 31), after_lapse=False)
    assert rules.extension(period, D(2025, 3, 31)).ends_on == D(2026, 3, 31)


def test_extension_of_a_period_ending_on_29_february() -> None:
    period = active(D(2023, 3, 1))  # ends 2024-02-29
    extended = rules.extension(period, D(2024, 2, 20))
    assert (extended.period_starts_on, extended.ends_on) == (D(2024, 3, 1), D(2025, 2, 28))


def test_extension_after_a_lapse_starts_a_new_year_on_the_day_of_the_request() -> None:
    period = active(D(2024, 4, 1))
    extended = rules.extension(period, D(2025, 6, 10))
    assert extended == rules.Extension(D(2025, 6, 10), D(2025, 6, 10), D(2026, 6, 9), after_lapse=True)


@pytest.mark.parametrize(
    ("period", "on", "code"),
    [
        (active(D(2024, 4, 1)), D(2025, 2, 28), "extension_too_early"),
        (active(D(2024, 4, 1)), D(2024, 4, 2), "extension_too_early"),
        (Period(True, D(2024, 4, 1), D(2025, 3, 31)), D(2025, 3, 10), "support_measure_provisional"),
        (Period(True, D(2024, 4, 1), D(2025, 3, 31)), D(2025, 6, 10), "support_measure_provisional"),
        (active(D(2024, 4, 1), ended_on=D(2025, 1, 1)), D(2025, 3, 10), "support_measure_ended"),
    ],
)
def test_extension_refusals(period: Period, on: dt.date, code: str) -> None:
    with pytest.raises(Conflict) as refused:
        rules.extension(period, on)
    assert refused.value.code == code


@given(days, st.integers(0, 30))
def test_an_extension_in_the_window_leaves_no_unprotected_day(starts: dt.date, before_end: int) -> None:
    period = active(starts)
    on = max(period.ends_on - dt.timedelta(days=before_end), rules.window_opens(period.ends_on))
    extended = rules.extension(period, on)
    assert extended.period_starts_on == period.ends_on + dt.timedelta(days=1)
    after = Period(False, extended.starts_on, extended.ends_on)
    for day in (on, period.ends_on, extended.period_starts_on, extended.ends_on):
        assert rules.in_force(after, day)
    assert (extended.ends_on - extended.period_starts_on).days + 1 in (365, 366)


# --- who may obtain the record ---------------------------------------------------------------------------

VICTIM = "0000000019"
CHILD = "0000000027"
OTHER = "0000000035"
ABUSER = "0000000043"
ABUSER_PARTY = Counterparty("山田　一郎", "ヤマダ　イチロウ", ABUSER, D(1980, 1, 2))


def protection(atena_no: str = VICTIM, measure_no: int = 1, group: int = 1) -> Protection:
    return Protection(measure_no, atena_no, ABUSER_PARTY, frozenset({group}))


def judge(
    requester: Requester,
    protections: list[Protection] | None = None,
    *,
    subject: str = VICTIM,
    groups: list[frozenset[int]] | None = None,
    may_override: bool = False,
    reason: str | None = None,
) -> rules.Verdict:
    found = [protection()] if protections is None else protections
    return rules.judge(
        subject, found, requester, groups or [], may_override=may_override, override_reason=reason
    )


@pytest.mark.parametrize(
    ("requester", "expected"),
    [
        (Requester("誰か", ABUSER), True),
        (Requester("山田一郎"), True),
        (Requester("山田 一郎", birth_date=D(1980, 1, 2)), True),
        (Requester("ﾔﾏﾀﾞ ｲﾁﾛｳ"), True),  # half-width kana folds to the recorded フリガナ
        (Requester("山田一郎", birth_date=D(1990, 5, 5)), False),  # a namesake with another birth date
        (Requester("山田二郎"), False),
        (Requester("", None), False),
    ],
)
def test_is_counterparty(requester: Requester, expected: bool) -> None:
    assert rules.is_counterparty(requester, ABUSER_PARTY) is expected


def test_no_kana_recorded_matches_names_only() -> None:
    party = Counterparty("山田一郎")
    assert rules.is_counterparty(Requester("山田　一郎"), party)
    assert not rules.is_counterparty(Requester("ヤマダイチロウ"), party)


def test_nobody_protected_means_no_restriction() -> None:
    verdict = judge(Requester("第三者"), [])
    assert verdict == rules.Verdict(VICTIM, Outcome.OK)
    other = judge(Requester("第三者"), subject=OTHER)
    assert other.outcome is Outcome.OK


def test_the_protected_person_obtains_their_own_record() -> None:
    verdict = judge(Requester("山田花子", VICTIM, verified=True))
    assert (verdict.outcome, verdict.measure_nos) == (Outcome.OK, (1,))


def test_an_unverified_number_is_not_the_protected_person() -> None:
    assert judge(Requester("山田花子", VICTIM)).outcome is Outcome.DENIED


def test_a_protected_co_resident_of_the_same_application_is_let_through() -> None:
    same = judge(Requester("山田花子", CHILD, verified=True), groups=[frozenset({1})])
    assert same.outcome is Outcome.OK
    unrelated = judge(Requester("山田花子", CHILD, verified=True), groups=[frozenset({7})])
    assert unrelated.outcome is Outcome.DENIED
    two = [protection(), protection(measure_no=2, group=2)]
    partly = judge(Requester("山田花子", CHILD, verified=True), two, groups=[frozenset({1})])
    assert partly.outcome is Outcome.DENIED


def test_anyone_else_is_refused_unless_overridden_with_a_reason() -> None:
    clerk = Requester("代理　太郎")
    assert judge(clerk).outcome is Outcome.DENIED
    assert judge(clerk, reason="審査済み").outcome is Outcome.DENIED  # a reason without the permission
    assert judge(clerk, may_override=True).outcome is Outcome.DENIED  # the permission without a reason
    assert judge(clerk, may_override=True, reason="   ").outcome is Outcome.DENIED
    lifted = judge(clerk, may_override=True, reason="裁判所提出のため審査済み")
    assert (lifted.outcome, lifted.code, lifted.measure_nos) == (Outcome.OVERRIDE, rules.BLOCK_CODE, (1,))


@given(
    st.sampled_from([Requester("山田一郎"), Requester("x", ABUSER), Requester("x", ABUSER, verified=True)]),
    st.booleans(),
    st.one_of(st.none(), st.text(max_size=20)),
)
def test_the_counterparty_is_refused_whatever_the_override(
    requester: Requester, may_override: bool, reason: str | None
) -> None:
    verdict = judge(requester, may_override=may_override, reason=reason)
    assert (verdict.outcome, verdict.code) == (Outcome.DENIED, rules.COUNTERPARTY_CODE)


def test_refusal_puts_the_counterparty_first_and_hides_the_details() -> None:
    assert rules.refusal([rules.Verdict(VICTIM, Outcome.OK), rules.Verdict(CHILD, Outcome.OVERRIDE)]) is None
    block = rules.Verdict(VICTIM, Outcome.DENIED, rules.BLOCK_CODE, (1,))
    party = rules.Verdict(CHILD, Outcome.DENIED, rules.COUNTERPARTY_CODE, (2,))
    error = rules.refusal([block, party])
    assert isinstance(error, DomainError)
    assert (error.code, error.status) == (rules.COUNTERPARTY_CODE, 403)
    only_block = rules.refusal([block])
    assert only_block is not None
    assert (only_block.code, only_block.status) == (rules.BLOCK_CODE, 403)
    assert "住所" not in only_block.message
    assert "山田" not in only_block.message
