"""Demo seeding of the register (``jichitai demo``): the counter's demo accounts and synthetic residents."""

from __future__ import annotations

from sqlalchemy import Engine

from jichitai.platform.auth.services import create_demo_users
from jichitai.platform.cli_support import ACTOR
from jichitai.platform.tenancy import Tenant

DEMO_STAFF = (
    ("demo-clerk", "住民記録　担当", "registry_clerk"),
    ("demo-cert", "証明　発行", "certificate_clerk"),
    ("demo-tax", "税務　課員", "tax"),
    ("demo-support", "支援　担当", "support_officer"),
)


def seed_demo(engine: Engine, tenant: Tenant, residents: int, seed: int) -> None:
    """The register's demo staff, then ``residents`` deterministic synthetic residents."""
    from jichitai.devdata.registry.population import generate_population

    create_demo_users(engine, tenant, DEMO_STAFF)
    generate_population(engine, tenant, residents, seed=seed, actor=ACTOR, progress=True)
