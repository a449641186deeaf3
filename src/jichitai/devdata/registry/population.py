"""Loading a synthetic population: the use case behind ``jichitai registry generate`` and ``demo``."""

from __future__ import annotations

from sqlalchemy import Engine

from jichitai.devdata.registry.bulk import load_population
from jichitai.modules.registry.permissions import Action
from jichitai.platform.audit import append_entry
from jichitai.platform.db import UnitOfWork
from jichitai.platform.tenancy import Tenant


def generate_population(
    engine: Engine, tenant: Tenant, residents: int, *, seed: int, actor: str, progress: bool = False
) -> dict[str, int | float]:
    """Load ``residents`` deterministic synthetic current residents (plus 除票 and history) into a town.

    Runs in batches of its own transactions, because a million-resident load in one transaction would hold
    the write lock for minutes; a failed load leaves whole batches only, each internally consistent.
    """
    stats = load_population(engine, tenant, residents, seed, actor=actor, progress=progress)
    with UnitOfWork(engine, tenant=tenant.lg_code) as uow:
        append_entry(
            uow.session,
            tenant,
            actor=actor,
            action=Action.POPULATION_GENERATE,
            details={"seed": seed, **stats},
        )
        uow.commit()
    return stats
