"""Wiring: the one place that knows every module, so the platform never has to.

Importing the modules' ``models`` registers their tables on the shared metadata (for Alembic and tests);
:data:`ROUTERS` lists the routers the app mounts (JSON API and screens).
"""

from __future__ import annotations

from sqlalchemy import MetaData

from jichitai.modules.registry import api as registry_api
from jichitai.modules.registry import certificate_api as registry_certificate_api
from jichitai.modules.registry import models as registry_models
from jichitai.modules.registry import support_api as registry_support_api
from jichitai.modules.registry import verification as registry_verification
from jichitai.modules.registry import views as registry_views
from jichitai.platform import audit, audit_heads, audit_queries, calendar, tenancy
from jichitai.platform.auth import models as auth_models
from jichitai.platform.db import Base
from jichitai.platform.offsite import custody as offsite_custody
from jichitai.platform.offsite import drills as offsite_drills
from jichitai.platform.offsite import journal as offsite_journal
from jichitai.platform.offsite import shipper as offsite_shipper
from jichitai.platform.web import audit_api

ROUTERS = (
    registry_api.router,
    registry_support_api.router,
    registry_certificate_api.router,
    registry_verification.router,
    audit_api.router,
    registry_views.router,
)


TABLE_MODULES = (
    audit,
    audit_heads,
    audit_queries,
    auth_models,
    calendar,
    tenancy,
    offsite_journal,
    offsite_shipper,
    offsite_custody,
    offsite_drills,
    registry_models,
)
"""Modules whose import registers tables on :data:`Base.metadata`."""


def metadata() -> MetaData:
    """The metadata with every table of the platform and the modules (registered by the imports above)."""
    return Base.metadata
