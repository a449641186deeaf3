"""Reads of personal data are use cases too: each one records who read whom in the same transaction.

DESIGN §3.4: every person shown — a search hit, a detail, a household member, a person an event changed — is
an audit entry with the actor, role and purpose of the request. The caller does its reads inside the unit of
work, then calls one of these, which append the entries and commit; if the append fails, nothing is answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import queries
from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import Tenant

READ = Action.RESIDENT_READ


def search_residents(
    uow: UnitOfWork,
    tenant: Tenant,
    criteria: queries.SearchCriteria,
    *,
    page: int,
    per_page: int,
    actor: Actor,
) -> queries.Page:
    """Search, and record the search plus one read per person shown (criteria names, not values)."""
    result = queries.search_residents(uow.session, tenant, criteria, page=page, per_page=per_page)
    used = sorted(
        name
        for name, value in vars(criteria).items()
        if value is not None and name not in ("status", "match")
    )
    facts: dict[str, Any] = {"via": "search", "criteria": used, "status": criteria.status.value, "page": page}
    append_entries(
        uow.session,
        tenant,
        [
            actor.entry(Action.RESIDENT_SEARCH, details={**facts, "shown": len(result.items)}),
            *(actor.entry(READ, subject=r.atena_no, details=facts) for r in result.items),
        ],
    )
    uow.commit()
    return result


def note_reads(
    uow: UnitOfWork, tenant: Tenant, atena_nos: Iterable[str], *, actor: Actor, details: dict[str, Any]
) -> None:
    """Record that the persons ``atena_nos`` were shown to ``actor``, then commit."""
    append_entries(uow.session, tenant, [actor.entry(READ, subject=no, details=details) for no in atena_nos])
    uow.commit()


def note_event_listing(uow: UnitOfWork, tenant: Tenant, event_nos: list[int], *, actor: Actor) -> None:
    """Record an event listing with the events shown, and one read per person those events name (their
    details carry names and addresses, so each person shown is read, as in a search), then commit."""
    details = {"via": "event_list", "event_nos": event_nos}
    named = queries.persons_of_events(uow.session, tenant, event_nos) if event_nos else []
    append_entries(
        uow.session,
        tenant,
        [
            actor.entry(Action.EVENT_READ, details={**details, "shown": len(named)}),
            *(actor.entry(READ, subject=atena_no, details=details) for atena_no in named),
        ],
    )
    uow.commit()
