"""The 交付履歴 of certificates: one row per issue, with the content as printed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.db import LG_CODE, Base, utcnow


class CertificateIssue(Base):
    """One issuance of a certificate (交付履歴, kept for the town's retention period, domain.md §3.1)."""

    __tablename__ = "registry_certificate_issue"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    issue_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """発行番号."""
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    certificate_type: Mapped[str] = mapped_column(String(30))
    style: Mapped[str] = mapped_column(String(20))
    subjects: Mapped[list[str]] = mapped_column(JSON)
    """宛名番号 of the persons printed, in print order."""
    items: Mapped[list[str]] = mapped_column(JSON)
    """The optional items printed (世帯主・続柄, 本籍・筆頭者, 住民票コード, 個人番号, 在留カード等)."""
    copies: Mapped[int] = mapped_column(Integer, default=1)
    requester_category: Mapped[str] = mapped_column(String(20))
    requester_name: Mapped[str] = mapped_column(String(100))
    requester_atena_no: Mapped[str | None] = mapped_column(String(10))
    purpose: Mapped[str | None] = mapped_column(String(400))
    """請求事由 as the requester states it (required of third parties, 法12条の3)."""
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(60))
    request_id: Mapped[str | None] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(String(400))
    """Why the 交付制限 of a 支援措置 was lifted for this issuance (by the responsible officer)."""
    overridden_measures: Mapped[list[int]] = mapped_column(JSON)
    # Since schema 0011 (null on rows issued before): what a reprint, the QR check and the daily summary need.
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    """The business day (JST) of the issuance: the date printed in the 認証文 and counted in the summary."""
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The certificate as issued (``CertificateOut``): a reprint shows exactly this, whatever changed."""
    verify_code: Mapped[str | None] = mapped_column(String(40))
    """The unguessable code of the QR verification page (``/verify/{code}``), not the 発行番号."""
    fee_yen: Mapped[int | None] = mapped_column(Integer)
    """手数料 charged (per copy × copies) from the town's fee setting of the day; null when none was set."""
    reissue_of: Mapped[int | None] = mapped_column(Integer)
    """For a 再交付: the 発行番号 of the original issuance."""
    printed_at: Mapped[dt.datetime | None]
    """When the PDF was first printed; a later print is a 再交付 (a new row)."""
    missing_glyphs: Mapped[list[str] | None] = mapped_column(JSON)
    """Characters the certificate font could not draw, printed with a visible marker (〓)."""

    __table_args__ = (
        ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),
        ForeignKeyConstraint(
            ["lg_code", "reissue_of"],
            ["registry_certificate_issue.lg_code", "registry_certificate_issue.issue_no"],
            name="fk_registry_certificate_issue_reissue_of",
        ),
        Index("ix_registry_certificate_issue_at", "lg_code", "issued_at"),
        Index("ix_registry_certificate_issue_on", "lg_code", "issued_on"),
        Index("uq_registry_certificate_issue_verify_code", "lg_code", "verify_code", unique=True),
    )
