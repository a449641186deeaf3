"""住民記録 (resident registry), the hub module.

This module's public facade for other modules: they may call what is listed in ``__all__`` and nothing
else (reading another module's tables is forbidden; tests/test_boundaries.py enforces it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from jichitai.modules.registry.records.feed import changes_since, household_as_of, person_as_of
from jichitai.modules.registry.records.queries import count_residents
from jichitai.modules.registry.support.services import measures_in_force
from jichitai.platform.tenancy import Tenant


def under_support_measure(session: Session, tenant: Tenant, atena_no: str, on: dt.date) -> bool:
    """Whether a DV等支援措置 (or 仮支援措置) protects the person on ``on``, whatever their status.

    Other modules must ask before they disclose the person's address (notices, 証明, data requests).
    """
    return bool(measures_in_force(session, tenant, [atena_no], on))


__all__ = [
    "changes_since",
    "count_residents",
    "household_as_of",
    "person_as_of",
    "under_support_measure",
]
