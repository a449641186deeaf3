"""The auditors' reads of the trail on both engines: filters, JST days and nights, paging, mass readers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jichitai.platform import audit
from jichitai.platform.audit import Entry, append_entries, verify_chain
from jichitai.platform.audit_queries import (
    AuditFilter,
    MassReader,
    list_entries,
    mass_readers,
    night_utc_hours,
    parse_time_bound,
)
from jichitai.platform.clock import JST
from jichitai.platform.db import UnitOfWork
from jichitai.platform.errors import InvalidInput
from jichitai.platform.tenancy import Tenant

READ = "registry:resident:read"
RECORD = "registry:event:record"

LOG = [
    # JST time, actor, action, subject, outcome
    ("2025-11-30T23:59:59", "suzuki", READ, "0000000009", "ok"),
    ("2025-12-01T09:00:00", "suzuki", READ, "0000000001", "ok"),
    ("2025-12-01T09:01:00", "suzuki", READ, "0000000002", "ok"),
    ("2025-12-01T09:02:00", "suzuki", READ, "0000000001", "ok"),
    ("2025-12-01T10:00:00", "suzuki", RECORD, "0000000001", "ok"),
    ("2025-12-01T21:59:59", "suzuki", READ, "0000000003", "ok"),
    ("2025-12-01T22:00:00", "tanaka", READ, "0000000004", "ok"),
    ("2025-12-01T23:30:00", "tanaka", READ, "0000000005", "ok"),
    ("2025-12-02T02:00:00", "tanaka", READ, "0000000006", "ok"),
    ("2025-12-02T05:59:59", "sato", READ, "0000000001", "denied"),
    ("2025-12-02T06:00:00", "sato", RECORD, "0000000007", "ok"),
    ("2025-12-02T09:00:00", "sato", "registry%resident", None, "ok"),
]
"""Town A's entries after its creation entry (seq 1), so entry ``i`` of this list has seq ``i + 2``. They lie
in the past, so the creation entries (written at the real time of the run) fall outside every window."""


def jst(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


@pytest.fixture
def logged(
    engine: Engine, towns: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> tuple[Tenant, Tenant]:
    """Town A with :data:`LOG` written at those times; town B with a copy of the same reads by others."""
    town, other = towns
    for when, actor, action, subject, outcome in LOG:
        monkeypatch.setattr(audit, "utcnow", lambda w=when: jst(w).astimezone(dt.UTC))
        for tenant, who in ((town, actor), (other, f"b-{actor}")):
            with UnitOfWork(engine) as uow:
                entry = Entry(actor=who, action=action, subject=subject, outcome=outcome)
                append_entries(uow.session, tenant, [entry])
                uow.commit()
    return town, other


def seqs(engine: Engine, tenant: Tenant, criteria: AuditFilter, **paging: int) -> list[int]:
    with Session(engine) as session:
        return [e.seq for e in list_entries(session, tenant, criteria, **paging).items]


def seq_of(when: str) -> int:
    return next(i for i, row in enumerate(LOG) if row[0] == when) + 2


def test_entries_come_newest_first_in_pages(engine: Engine, logged: tuple[Tenant, Tenant]) -> None:
    town, _ = logged
    with Session(engine) as session:
        first = list_entries(session, town, AuditFilter(), per_page=5)
        last = list_entries(session, town, AuditFilter(), page=3, per_page=5)
        beyond = list_entries(session, town, AuditFilter(), page=4, per_page=5)
    assert ([e.seq for e in first.items], first.has_next) == ([13, 12, 11, 10, 9], True)
    assert ([e.seq for e in last.items], last.has_next) == ([3, 2, 1], False)
    assert (beyond.items, beyond.has_next) == ([], False)


def test_who_read_a_person_is_the_subject_filter(engine: Engine, logged: tuple[Tenant, Tenant]) -> None:
    town, other = logged
    assert seqs(engine, town, AuditFilter(subject="0000000001")) == [11, 6, 5, 3]
    assert seqs(engine, town, AuditFilter(subject="0000000001", action=READ)) == [11, 5, 3]
    assert seqs(engine, town, AuditFilter(subject="0000000001", action=READ, outcome="ok")) == [5, 3]
    with Session(engine) as session:
        actors = {e.actor for e in list_entries(session, other, AuditFilter(subject="0000000001")).items}
    assert actors == {"b-suzuki", "b-sato"}  # the other town's log only


def test_actor_action_prefix_and_outcome(engine: Engine, logged: tuple[Tenant, Tenant]) -> None:
    town, _ = logged
    assert seqs(engine, town, AuditFilter(actor="tanaka")) == [10, 9, 8]
    assert seqs(engine, town, AuditFilter(action="registry:event")) == [12, 6]
    assert seqs(engine, town, AuditFilter(action="platform:")) == [1]
    assert seqs(engine, town, AuditFilter(outcome="denied")) == [11]
    # LIKE wildcards in the prefix are taken literally.
    assert seqs(engine, town, AuditFilter(action="registry%")) == [13]
    assert seqs(engine, town, AuditFilter(action="registry_")) == []
    assert seqs(engine, town, AuditFilter(actor="nobody")) == []


def test_a_jst_day_is_a_whole_japanese_calendar_day(engine: Engine, logged: tuple[Tenant, Tenant]) -> None:
    town, _ = logged
    day = AuditFilter(
        since=parse_time_bound("2025-12-01", end=False, field_name="since"),
        until=parse_time_bound("2025-12-01", end=True, field_name="until"),
    )
    assert seqs(engine, town, day) == list(
        range(seq_of("2025-12-01T23:30:00"), seq_of("2025-12-01T09:00:00") - 1, -1)
    )
    instant = AuditFilter(
        since=parse_time_bound("2025-12-01T22:00:00+09:00", end=False, field_name="since"),
        until=parse_time_bound("2025-12-01T13:30:00Z", end=True, field_name="until"),
    )
    assert seqs(engine, town, instant) == [seq_of("2025-12-01T22:00:00")]  # since inclusive, until exclusive


def test_night_only_uses_the_jst_clock(engine: Engine, logged: tuple[Tenant, Tenant]) -> None:
    """(Narrowed to registry actions: the creation entry of seq 1 carries the real time of the test run.)"""
    town, _ = logged
    night = [seq_of(t) for t in ("2025-12-02T05:59:59", "2025-12-02T02:00:00", "2025-12-01T23:30:00")]
    night.append(seq_of("2025-12-01T22:00:00"))
    night.append(seq_of("2025-11-30T23:59:59"))
    assert seqs(engine, town, AuditFilter(night_only=True, action="registry")) == night
    small_hours = AuditFilter(night_only=True, night_start=0, night_end=6, action="registry")
    assert seqs(engine, town, small_hours) == night[:2]
    evening = AuditFilter(night_only=True, night_start=21, night_end=23, actor="suzuki")
    assert seqs(engine, town, evening) == [seq_of("2025-12-01T21:59:59")]


def test_night_hours_in_utc() -> None:
    assert night_utc_hours(22, 6) == [13, 14, 15, 16, 17, 18, 19, 20]
    assert night_utc_hours(9, 10) == [0]
    assert night_utc_hours(0, 1) == [15]


def test_mass_readers_counts_successful_reads_in_the_window(
    engine: Engine, logged: tuple[Tenant, Tenant]
) -> None:
    town, other = logged
    since, until = jst("2025-12-01T00:00:00"), jst("2025-12-03T00:00:00")
    with Session(engine) as session:
        assert mass_readers(session, town, since, until, 3) == [
            MassReader("suzuki", 4, 3),
            MassReader("tanaka", 3, 3),
        ]
        assert mass_readers(session, town, since, until, 4) == [MassReader("suzuki", 4, 3)]
        assert mass_readers(session, town, since, jst("2025-12-01T09:02:00"), 1) == [
            MassReader("suzuki", 2, 2)
        ]
        assert mass_readers(session, town, since, until, 5) == []
        assert [r.actor for r in mass_readers(session, other, since, until, 3)] == ["b-suzuki", "b-tanaka"]
        with pytest.raises(InvalidInput) as refused:
            mass_readers(session, town, until, since, 1)
    assert (refused.value.code, refused.value.field) == ("invalid_range", "since")


def test_reading_does_not_disturb_the_chain(engine: Engine, logged: tuple[Tenant, Tenant]) -> None:
    with Session(engine) as session:
        for tenant in logged:
            assert verify_chain(session, tenant).ok


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2025-12-01", False, "2025-11-30T15:00:00+00:00"),
        ("2025-12-01", True, "2025-12-01T15:00:00+00:00"),
        ("2025-12-01T22:00", False, "2025-12-01T13:00:00+00:00"),
        ("2025-12-01 22:00:00", True, "2025-12-01T13:00:00+00:00"),
        ("2025-12-01T22:00:00+09:00", False, "2025-12-01T13:00:00+00:00"),
        ("2025-12-01T13:00:00Z", False, "2025-12-01T13:00:00+00:00"),
        ("2025-12-01T13:00:00.5+00:00", False, "2025-12-01T13:00:00.500000+00:00"),
    ],
)
def test_time_bounds(text: str, end: bool, expected: str) -> None:
    assert parse_time_bound(text, end=end, field_name="since").isoformat() == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("2026-02-30", "invalid_format"),
        ("2025-12-01T25:00", "invalid_format"),
        ("yesterday", "invalid_format"),
        ("0001-01-01", "invalid_range"),
        ("9999-12-31", "invalid_range"),
        ("1800-01-01", "invalid_range"),
    ],
)
def test_bad_time_bounds_are_refused(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_time_bound(text, end=True, field_name="until")
    assert (refused.value.code, refused.value.field) == (code, "until")


def test_impossible_filters_are_refused() -> None:
    with pytest.raises(InvalidInput) as backwards:
        AuditFilter(since=jst("2025-12-02T00:00:00"), until=jst("2025-12-01T00:00:00"))
    with pytest.raises(InvalidInput) as hour:
        AuditFilter(night_start=24)
    with pytest.raises(InvalidInput) as empty_night:
        AuditFilter(night_only=True, night_start=3, night_end=3)
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditFilter(since=dt.datetime(2026, 12, 1))  # noqa: DTZ001 - the point of the test
    assert [(e.value.code, e.value.field) for e in (backwards, hour, empty_night)] == [
        ("invalid_range", "since"),
        ("invalid_range", "night_start"),
        ("invalid_range", "night_end"),
    ]


def test_describe_records_only_the_given_criteria() -> None:
    criteria = AuditFilter(subject="0000000001", since=jst("2025-12-01T00:00:00"), night_only=True)
    assert criteria.describe() == {
        "subject": "0000000001",
        "since": "2025-11-30T15:00:00+00:00",
        "night": [22, 6],
    }
