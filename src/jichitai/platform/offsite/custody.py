"""This installation as a custodian of other towns' off-site copies (DESIGN §5).

A partner installation grants a depositing town a custody token (``jichitai custody grant``); the town's
shipper then stores its chunks here over HTTP (:mod:`jichitai.platform.web.custody_api`). The depositor is
not a tenant of this installation: grants are installation-level rows keyed by its code, and what it
deposits lives as files under ``custody_dir/<lg_code>/`` (a :class:`.DirectoryCustodian`). The partner
only ever holds ciphertext, wrapped data keys and clear chain heads; it never has a key that opens them.

Deletion is the one dangerous call a depositor can make, so a chunk may be deleted only when the
custodian itself sees a newer complete snapshot that supersedes it (:func:`superseded`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.db import Base, UnitOfWork, utcnow
from jichitai.platform.errors import Conflict, InvalidInput, Unauthenticated
from jichitai.platform.offsite.custodian import CHUNK_ID, parse_chunk_id
from jichitai.platform.tenancy import parse_lg_code

TOKEN_PREFIX = "jcus_"


class CustodyGrant(Base):
    """A depositing town allowed to store its off-site copy here, and the hash of its token."""

    __tablename__ = "custody_grant"

    depositor: Mapped[str] = mapped_column(String(6), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def grant(uow: UnitOfWork, lg_code: str, label: str = "") -> str:
    """Allow ``lg_code`` to deposit here; returns the token (shown once; a new grant replaces the old)."""
    code = parse_lg_code(lg_code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = uow.session.get(CustodyGrant, code)
    if row is None:
        row = CustodyGrant(depositor=code, label=label, token_hash=_digest(token))
        uow.session.add(row)
    else:
        row.token_hash, row.label, row.revoked_at, row.created_at = _digest(token), label, None, utcnow()
    uow.commit()
    return token


def revoke(uow: UnitOfWork, lg_code: str) -> None:
    """Stop accepting the town's token (what it deposited stays until the operator removes it)."""
    row = uow.session.get(CustodyGrant, parse_lg_code(lg_code))
    if row is None or row.revoked_at is not None:
        raise Conflict("custody_not_granted", "この団体には保管を許可していません。")
    row.revoked_at = utcnow()
    uow.commit()


def grants(session: Session) -> list[CustodyGrant]:
    """Every grant, by depositor (detached, so they outlive the read session)."""
    rows = list(session.scalars(select(CustodyGrant).order_by(CustodyGrant.depositor)))
    for row in rows:
        session.expunge(row)
    return rows


def check_token(session: Session, lg_code: str, token: str | None) -> None:
    """Refuse (401) unless ``token`` is the live custody token of ``lg_code``; same answer for every miss."""
    row = session.get(CustodyGrant, lg_code)
    live = row is not None and row.revoked_at is None
    expected = row.token_hash if row is not None and live else _digest(secrets.token_hex())
    if not (hmac.compare_digest(_digest(token or ""), expected) and live and token):
        raise Unauthenticated("custody_unauthorized", "保管の認証に失敗しました。")


def check_chunk_id(value: str) -> str:
    """A chunk id as custodians accept it (also a safe file name)."""
    if not CHUNK_ID.fullmatch(value):
        raise InvalidInput("invalid_chunk_id", "チャンク番号の形式が正しくありません。", "chunk_id")
    return value


def superseded(held: list[str], cid: str) -> bool:
    """True when a complete snapshot newer than ``cid`` is held, so deleting ``cid`` loses no state."""
    kind, _, to = parse_chunk_id(cid)
    manifests = [at for k, _, at in map(parse_chunk_id, held) if k == "snapshot"]
    if kind == "journal":
        return any(at >= to for at in manifests)
    return any(at > to for at in manifests)
