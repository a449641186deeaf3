"""Use cases of DV等支援措置: start (仮支援措置 or 支援措置), confirm, extend, end, and audited reads.

Each write is one transaction with its audit entry (``registry:support:*``, subject = the protected person).
Measures are keyed by 宛名番号 whatever the person's 住民状態, so the block survives 転出, death and 消除.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import queries
from jichitai.modules.registry.records.models import PersonRecord
from jichitai.modules.registry.support import rules
from jichitai.modules.registry.support.models import SupportMeasure, SupportStatus
from jichitai.modules.registry.support.schemas import ConfirmIn, EndIn, ExtendIn, SupportMeasureIn
from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.calendar import load_eras
from jichitai.platform.clock import today_jst
from jichitai.platform.db import UnitOfWork, utcnow
from jichitai.platform.errors import Conflict, InvalidInput, NotFound
from jichitai.platform.jp import JpValueError, parse_date
from jichitai.platform.tenancy import Tenant, next_numbers

ALERT_MARGIN = dt.timedelta(days=32)
"""Ends within this distance of a day are read for the alert list, then filtered by the exact rule."""


def period(measure: SupportMeasure) -> rules.Period:
    """The dates of a stored measure as the rules see them."""
    return rules.Period(
        provisional=measure.status is SupportStatus.PROVISIONAL,
        starts_on=measure.starts_on,
        ends_on=measure.ends_on,
        ended_on=measure.ended_on,
    )


def group_of(measure: SupportMeasure) -> frozenset[int]:
    """The application a measure belongs to: the victim's measure number (co-residents point to it)."""
    return frozenset({measure.related_measure_no or measure.measure_no})


def _date(session: Session, value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return parse_date(value, load_eras(session))
    except JpValueError as exc:
        raise InvalidInput(exc.code, exc.message, field) from exc


def get_measure(
    session: Session, tenant: Tenant, measure_no: int, field: str | None = None
) -> SupportMeasure:
    """The measure with this number in this town, or NotFound."""
    measure = session.get(SupportMeasure, (tenant.lg_code, measure_no))
    if measure is None:
        raise NotFound("支援措置", field)
    return measure


def _facts(measure: SupportMeasure) -> dict[str, Any]:
    return {
        "measure_no": measure.measure_no,
        "status": measure.status.value,
        "starts_on": measure.starts_on.isoformat(),
        "ends_on": measure.ends_on.isoformat(),
        "period_no": measure.period_no,
    }


def _write(
    uow: UnitOfWork, tenant: Tenant, measure: SupportMeasure, actor: Actor, action: str, **more: Any
) -> None:
    measure.updated_at = utcnow()
    measure.updated_by = actor.name
    uow.session.flush()
    details = {**_facts(measure), **more}
    append_entries(uow.session, tenant, [actor.entry(action, subject=measure.atena_no, details=details)])
    uow.commit()


def _open_related(session: Session, tenant: Tenant, measure_no: int | None, today: dt.date) -> int | None:
    """The root measure a co-resident's measure joins; it must be in force (or not yet confirmed)."""
    if measure_no is None:
        return None
    related = get_measure(session, tenant, measure_no, "related_measure_no")
    if rules.state_on(period(related), today) not in rules.IN_FORCE:
        raise Conflict(
            "support_measure_ended", "関連する支援措置は終了または期間満了しています。", "related_measure_no"
        )
    return related.related_measure_no or related.measure_no


def start_support_measure(
    uow: UnitOfWork, tenant: Tenant, body: SupportMeasureIn, *, actor: Actor
) -> SupportMeasure:
    """Record a 支援措置の申出: a 仮支援措置 while it is checked, or a confirmed 支援措置."""
    session = uow.session
    today = today_jst()
    queries.get_person(session, tenant, body.atena_no)
    starts_on = _date(session, body.starts_on, "starts_on") or today
    rules.check_date(starts_on, today, "starts_on")
    ends_on = _date(session, body.ends_on, "ends_on") or rules.default_end(starts_on)
    rules.check_period(starts_on, ends_on)
    counterparty = body.counterparty
    if counterparty.atena_no == body.atena_no:
        raise InvalidInput(
            "counterparty_is_subject", "相手方に支援対象者ご本人は指定できません。", "counterparty.atena_no"
        )
    birth = _date(session, counterparty.birth_date, "counterparty.birth_date")
    related = _open_related(session, tenant, body.related_measure_no, today)
    measure = SupportMeasure(
        lg_code=tenant.lg_code,
        measure_no=next_numbers(session, tenant, "support_measure")[0],
        atena_no=body.atena_no,
        kind=body.kind,
        status=SupportStatus.PROVISIONAL if body.provisional else SupportStatus.ACTIVE,
        starts_on=starts_on,
        confirmed_on=None if body.provisional else starts_on,
        ends_on=ends_on,
        period_no=1,
        related_measure_no=related,
        counterparty_name=counterparty.name,
        counterparty_kana=counterparty.kana,
        counterparty_atena_no=counterparty.atena_no,
        counterparty_birth_date=birth,
        counterparty_address=counterparty.address,
        reason=body.reason,
        notes=body.notes,
        created_by=actor.name,
    )
    session.add(measure)
    _write(
        uow,
        tenant,
        measure,
        actor,
        Action.SUPPORT_START,
        kind=body.kind.value,
        related_measure_no=related,
    )
    return measure


def confirm_support_measure(
    uow: UnitOfWork, tenant: Tenant, measure_no: int, body: ConfirmIn, *, actor: Actor
) -> SupportMeasure:
    """仮支援措置 → 支援措置: the year counts from the day the applicant was told the result."""
    session = uow.session
    today = today_jst()
    measure = get_measure(session, tenant, measure_no)
    if rules.state_on(period(measure), today) is rules.MeasureState.ENDED:
        raise Conflict("support_measure_ended", "この支援措置は終了しています。")
    if measure.status is not SupportStatus.PROVISIONAL:
        raise Conflict("support_measure_not_provisional", "この支援措置は確認済みです。")
    confirmed_on = _date(session, body.confirmed_on, "confirmed_on") or today
    rules.check_date(confirmed_on, today, "confirmed_on")
    if confirmed_on < measure.starts_on:
        raise InvalidInput("invalid_support_period", "確認日が開始日より前になっています。", "confirmed_on")
    ends_on = _date(session, body.ends_on, "ends_on") or rules.default_end(confirmed_on)
    rules.check_period(confirmed_on, ends_on)
    if confirmed_on > measure.ends_on + rules.ONE_DAY:
        measure.starts_on = confirmed_on  # the 仮支援措置 had lapsed: protection restarts today, honestly
    measure.status = SupportStatus.ACTIVE
    measure.confirmed_on = confirmed_on
    measure.ends_on = ends_on
    _write(uow, tenant, measure, actor, Action.SUPPORT_CONFIRM, note=body.note)
    return measure


def extend_support_measure(
    uow: UnitOfWork, tenant: Tenant, measure_no: int, body: ExtendIn, *, actor: Actor
) -> SupportMeasure:
    """延長: the next year from the day after the end (window open), or from today after a lapse."""
    session = uow.session
    today = today_jst()
    measure = get_measure(session, tenant, measure_no)
    before = {"starts_on": measure.starts_on.isoformat(), "ends_on": measure.ends_on.isoformat()}
    extended = rules.extension(period(measure), today)
    ends_on = _date(session, body.ends_on, "ends_on") or extended.ends_on
    rules.check_period(extended.period_starts_on, ends_on)
    measure.starts_on = extended.starts_on
    measure.ends_on = ends_on
    measure.period_no += 1
    _write(
        uow,
        tenant,
        measure,
        actor,
        Action.SUPPORT_EXTEND,
        before=before,
        lapsed=extended.after_lapse,
        reason=body.reason,
    )
    return measure


def end_support_measure(
    uow: UnitOfWork, tenant: Tenant, measure_no: int, body: EndIn, *, actor: Actor
) -> SupportMeasure:
    """End a measure (取下げ, 支援の必要がなくなった等); from ``ended_on`` the block no longer applies."""
    session = uow.session
    today = today_jst()
    measure = get_measure(session, tenant, measure_no)
    if measure.status is SupportStatus.ENDED:
        raise Conflict("support_measure_ended", "この支援措置は終了しています。")
    ended_on = _date(session, body.ended_on, "ended_on") or today
    rules.check_date(ended_on, today, "ended_on")
    if ended_on < measure.starts_on:
        raise InvalidInput("invalid_support_period", "終了日が開始日より前になっています。", "ended_on")
    measure.status = SupportStatus.ENDED
    measure.ended_on = ended_on
    measure.end_reason = body.reason
    _write(uow, tenant, measure, actor, Action.SUPPORT_END, ended_on=ended_on.isoformat(), reason=body.reason)
    return measure


# --- reads ----------------------------------------------------------------------------------------------


def measures_in_force(
    session: Session, tenant: Tenant, atena_nos: Iterable[str], on: dt.date
) -> list[SupportMeasure]:
    """Every measure of these persons that blocks requests on ``on``, by number."""
    wanted = sorted(set(atena_nos))
    if not wanted:
        return []
    stmt = (
        select(SupportMeasure)
        .where(
            SupportMeasure.lg_code == tenant.lg_code,
            SupportMeasure.atena_no.in_(wanted),
            SupportMeasure.starts_on <= on,
            SupportMeasure.ends_on >= on,
        )
        .order_by(SupportMeasure.measure_no)
    )
    return [m for m in session.scalars(stmt) if rules.in_force(period(m), on)]


def registered_names(session: Session, tenant: Tenant, atena_no: str) -> tuple[str, ...]:
    """Every name the register has held for the person, over all their 履歴: 氏名 and フリガナ (with the
    旧氏), 通称 and the alphabet name. Empty when the 宛名番号 is not of this town."""
    rows = session.execute(
        select(
            PersonRecord.family_name,
            PersonRecord.given_name,
            PersonRecord.family_kana,
            PersonRecord.given_kana,
            PersonRecord.former_surname,
            PersonRecord.former_surname_kana,
            PersonRecord.alias_name,
            PersonRecord.alias_kana,
            PersonRecord.name_roman,
        ).where(PersonRecord.lg_code == tenant.lg_code, PersonRecord.atena_no == atena_no)
    ).all()
    names: set[str | None] = set()
    for row in rows:
        names |= {row.family_name + row.given_name, row.family_kana + row.given_kana}
        names |= {row.alias_name, row.alias_kana, row.name_roman}
        if row.former_surname:
            names.add(row.former_surname + row.given_name)
        if row.former_surname_kana:
            names.add(row.former_surname_kana + row.given_kana)
    return tuple(sorted(n for n in names if n))


def counterparty_of(
    session: Session, tenant: Tenant, measure: SupportMeasure, cache: dict[str, tuple[str, ...]] | None = None
) -> rules.Counterparty:
    """The 相手方 of a measure as the rules compare requesters with: as recorded, plus the names the
    register holds for them when the measure gives their 宛名番号 (``cache`` spares repeated reads)."""
    aliases: tuple[str, ...] = ()
    if measure.counterparty_atena_no is not None:
        known = {} if cache is None else cache
        if measure.counterparty_atena_no not in known:
            known[measure.counterparty_atena_no] = registered_names(
                session, tenant, measure.counterparty_atena_no
            )
        aliases = known[measure.counterparty_atena_no]
    return rules.Counterparty(
        measure.counterparty_name,
        measure.counterparty_kana,
        measure.counterparty_atena_no,
        measure.counterparty_birth_date,
        aliases,
    )


def protections_of(
    session: Session, tenant: Tenant, measures: Iterable[SupportMeasure]
) -> list[rules.Protection]:
    """The measures (in force) as the rules judge requests with."""
    cache: dict[str, tuple[str, ...]] = {}
    return [
        rules.Protection(m.measure_no, m.atena_no, counterparty_of(session, tenant, m, cache), group_of(m))
        for m in measures
    ]


def active_measure_for(session: Session, tenant: Tenant, atena_no: str, on: dt.date) -> SupportMeasure | None:
    """The measure protecting the person on ``on`` (the one lasting longest when several), or None."""
    found = measures_in_force(session, tenant, [atena_no], on)
    return max(found, key=lambda m: (m.ends_on, m.measure_no)) if found else None


@dataclass(frozen=True)
class MeasurePage:
    """One page of measures."""

    items: list[SupportMeasure]
    page: int
    per_page: int
    has_next: bool


def _read(uow: UnitOfWork, tenant: Tenant, measures: Sequence[SupportMeasure], actor: Actor) -> None:
    """Reading who is protected is itself personal data: one entry per measure shown."""
    append_entries(
        uow.session,
        tenant,
        [
            actor.entry(Action.SUPPORT_READ, subject=m.atena_no, details={"measure_no": m.measure_no})
            for m in measures
        ],
    )
    uow.commit()


def get_support_measure(uow: UnitOfWork, tenant: Tenant, measure_no: int, *, actor: Actor) -> SupportMeasure:
    """One measure, the read audited."""
    measure = get_measure(uow.session, tenant, measure_no)
    _read(uow, tenant, [measure], actor)
    return measure


def list_support_measures(
    uow: UnitOfWork,
    tenant: Tenant,
    *,
    actor: Actor,
    atena_no: str | None = None,
    alerts: bool = False,
    on: dt.date | None = None,
    page: int = 1,
    per_page: int = 50,
) -> MeasurePage:
    """Measures by number, or with ``alerts`` those due an alert on ``on`` (default today) by end date:
    within a month before their end, or lapsed within the last month. Each one listed is audited."""
    session = uow.session
    day = on or today_jst()
    stmt = select(SupportMeasure).where(SupportMeasure.lg_code == tenant.lg_code)
    if atena_no is not None:
        stmt = stmt.where(SupportMeasure.atena_no == atena_no)
    if alerts:
        stmt = stmt.where(
            SupportMeasure.ends_on >= day - ALERT_MARGIN,
            SupportMeasure.ends_on <= day + ALERT_MARGIN,
        ).order_by(SupportMeasure.ends_on, SupportMeasure.measure_no)
        due = [m for m in session.scalars(stmt) if rules.alert_due(period(m), day)]
        start = (page - 1) * per_page
        rows = due[start : start + per_page + 1]
    else:
        stmt = stmt.order_by(SupportMeasure.measure_no).offset((page - 1) * per_page).limit(per_page + 1)
        rows = list(session.scalars(stmt))
    items = rows[:per_page]
    _read(uow, tenant, items, actor)
    return MeasurePage(items=items, page=page, per_page=per_page, has_next=len(rows) > per_page)
