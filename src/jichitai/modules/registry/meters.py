"""What the register tells the platform's metering (the cost split): certificates issued, and residents."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jichitai.modules.registry.certificates.models import CertificateIssue
from jichitai.modules.registry.records.queries import count_residents
from jichitai.platform.modules import MeterSpec
from jichitai.platform.tenancy import Tenant


def _next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def certificates_issued(session: Session, tenant: Tenant, month: dt.date) -> int:
    """Issuances (再交付 included) whose business day falls in the month starting on ``month``."""
    stmt = select(func.count()).where(
        CertificateIssue.lg_code == tenant.lg_code,
        CertificateIssue.issued_on >= month,
        CertificateIssue.issued_on < _next_month(month),
    )
    return int(session.scalar(stmt) or 0)


def residents(session: Session, tenant: Tenant, month: dt.date) -> int:
    """Current residents when measured (the month's last measurement stands for its end)."""
    del month
    return count_residents(session, tenant)


METERS = (
    MeterSpec("certificates", "証明書の交付件数", "件", measure=certificates_issued),
    MeterSpec("population", "住民数 (月末)", "人", measure=residents, usage=False, population=True),
)
