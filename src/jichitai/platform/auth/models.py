"""Tables of staff accounts, per-town roles, operator accounts and login credentials (sessions, tokens).

Staff users and roles are municipal rows (``lg_code`` first, row-level security). Operators belong to the
installation, not to a town, so they have a table of their own and no way to hold a town's role.
A credential is looked up by the SHA-256 of its secret before any tenant is known, so ``auth_credential`` is
an installation table keyed by that hash; the secret itself is never stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from jichitai.platform.db import LG_CODE, Base, utcnow


class AccountColumns:
    """What every account that signs in keeps: name, password hash, lockout and lifecycle times."""

    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class StaffUser(AccountColumns, Base):
    """A member of a town's staff who may sign in; disabled accounts are kept (the audit log names them)."""

    __tablename__ = "staff_user"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    login_name: Mapped[str] = mapped_column(String(40), primary_key=True)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


class Role(Base):
    """A town's role: which purposes (事務) it may act for and which permissions it grants."""

    __tablename__ = "staff_role"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    purposes: Mapped[list[str]] = mapped_column(JSON)
    permissions: Mapped[list[str]] = mapped_column(JSON)

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


class RoleGrant(Base):
    """A role held by a staff user of the same town."""

    __tablename__ = "staff_role_grant"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    login_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    role_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        ForeignKeyConstraint(["lg_code", "login_name"], ["staff_user.lg_code", "staff_user.login_name"]),
        ForeignKeyConstraint(["lg_code", "role_code"], ["staff_role.lg_code", "staff_role.code"]),
    )


class OperatorAccount(AccountColumns, Base):
    """An operator of the shared installation: manages municipalities, never reads residents' records."""

    __tablename__ = "operator_account"

    login_name: Mapped[str] = mapped_column(String(40), primary_key=True)


class Credential(Base):
    """A browser session (cookie + CSRF token) or an API bearer token, revocable; stored as a hash.

    ``lg_code`` is empty for operators. Sessions expire when idle and at an absolute limit; tokens at their
    own expiry. Revocation sets ``revoked_at``; rows are kept as evidence of who could act when.
    """

    __tablename__ = "auth_credential"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "session" or "token"
    token_id: Mapped[str] = mapped_column(String(16), unique=True)
    lg_code: Mapped[str | None] = mapped_column(LG_CODE)
    login_name: Mapped[str] = mapped_column(String(40))
    label: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(40))
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_auth_credential_owner", "lg_code", "login_name"),)
