"""Reading the change feed through the PULL API is reading personal data: one audit entry per person shown.

The page of changes is read and the entries appended in the same unit of work, then committed; if the
append fails, nothing is answered (DESIGN §3.4). A person who appears in several changes of the page is one
entry naming those events.
"""

from __future__ import annotations

from dataclasses import dataclass

from jichitai.modules.registry.permissions import Action
from jichitai.modules.registry.records import feed
from jichitai.platform.audit import Actor, append_entries
from jichitai.platform.db import UnitOfWork
from jichitai.platform.modules import Change
from jichitai.platform.tenancy import Tenant


@dataclass(frozen=True)
class ChangesPage:
    """One page of the feed: the changes, where the next page starts, and the feed's head when read."""

    items: list[Change]
    next_after: int
    head: int


def read_changes(uow: UnitOfWork, tenant: Tenant, after: int, limit: int, *, actor: Actor) -> ChangesPage:
    """The changes after ``after`` (at most ``limit``), recording one ``registry:changes:read`` per person."""
    session = uow.session
    items = feed.changes_since(session, tenant, after, limit)
    head = feed.head(session, tenant)
    shown: dict[str, list[int]] = {}
    for change in items:
        for person in change.body["persons"]:
            shown.setdefault(person["atena_no"], []).append(change.position)
    append_entries(
        session,
        tenant,
        [
            actor.entry(
                Action.CHANGES_READ,
                subject=atena_no,
                details={"via": "changes", "after": after, "event_nos": event_nos},
            )
            for atena_no, event_nos in sorted(shown.items())
        ],
    )
    uow.commit()
    return ChangesPage(items, items[-1].position if items else after, head)
