"""Ed25519-signed heads of the audit chains: the check against someone who rewrites a whole chain.

A chain that is rewritten consistently (every hash recomputed, the counter adjusted) still verifies link by
link. A signed head — "entry N of town X had hash H", signed with the town's key, which lives outside the
database — makes that detectable: after such a rewrite the entry at N no longer has hash H, and the attacker
cannot sign a new head without the key. Heads are meant to be copied off-site as well (DESIGN §5).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from sqlalchemy import ForeignKeyConstraint, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.audit import AuditEntry
from jichitai.platform.db import LG_CODE, Base, utcnow
from jichitai.platform.tenancy import Tenant


class AuditChainHead(Base):
    """A signed statement of a chain's position: entry ``seq`` of the town had ``entry_hash``."""

    __tablename__ = "audit_chain_head"

    lg_code: Mapped[str] = mapped_column(LG_CODE, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))

    __table_args__ = (ForeignKeyConstraint(["lg_code"], ["municipality.lg_code"]),)


def signed_message(lg_code: str, seq: int, entry_hash: str) -> bytes:
    """The exact bytes a head's signature covers."""
    return f"jichitai-audit-head:{lg_code}:{seq}:{entry_hash}".encode()


def _key_path(key_dir: Path, lg_code: str) -> Path:
    return key_dir / f"{lg_code}.audit-ed25519.pem"


def load_key(key_dir: Path, lg_code: str) -> Ed25519PrivateKey | None:
    """The town's signing key, or None when it has none yet."""
    path = _key_path(key_dir, lg_code)
    if not path.exists():
        return None
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def load_or_create_key(key_dir: Path, lg_code: str) -> Ed25519PrivateKey:
    """The town's signing key from ``key_dir`` (PEM, mode 0600), created on first use."""
    existing = load_key(key_dir, lg_code)
    if existing is not None:
        return existing
    path = _key_path(key_dir, lg_code)
    key_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key


def sign_head(session: Session, tenant: Tenant, key: Ed25519PrivateKey) -> AuditChainHead | None:
    """Sign the chain's current last entry (nothing to sign for an empty chain or an already signed head)."""
    last = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.lg_code == tenant.lg_code)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    if last is None or session.get(AuditChainHead, (tenant.lg_code, last.seq)) is not None:
        return None
    head = AuditChainHead(
        lg_code=tenant.lg_code,
        seq=last.seq,
        entry_hash=last.entry_hash,
        signature=key.sign(signed_message(tenant.lg_code, last.seq, last.entry_hash)),
    )
    session.add(head)
    session.flush()
    return head


@dataclass(frozen=True)
class HeadVerdict:
    """Heads checked, and the first head that no longer matches (or whose signature is false)."""

    checked: int
    first_bad: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every signed head is genuine and still matches the chain."""
        return self.first_bad is None


def verify_heads(session: Session, tenant: Tenant, public_key: Ed25519PublicKey | None) -> HeadVerdict:
    """Check every signed head of the town against its key and against the chain as it is now."""
    heads = session.scalars(
        select(AuditChainHead).where(AuditChainHead.lg_code == tenant.lg_code).order_by(AuditChainHead.seq)
    ).all()
    if heads and public_key is None:
        return HeadVerdict(0, heads[0].seq, "no key to check the signed heads")
    for count, head in enumerate(heads):
        assert public_key is not None
        try:
            public_key.verify(head.signature, signed_message(tenant.lg_code, head.seq, head.entry_hash))
        except InvalidSignature:
            return HeadVerdict(count, head.seq, "signature of the head is not genuine")
        entry = session.get(AuditEntry, (tenant.lg_code, head.seq))
        if entry is None or entry.entry_hash != head.entry_hash:
            return HeadVerdict(count, head.seq, "chain differs from its signed head (rewritten)")
    return HeadVerdict(len(heads))
