"""Ed25519-signed heads of the audit chains: the check against someone who rewrites a whole chain.

A chain that is rewritten consistently (every hash recomputed, the counter adjusted) still verifies link by
link. A signed head — "entry N of town X had hash H", signed with the town's key, which lives outside the
database — makes that detectable: after such a rewrite the entry at N no longer has hash H, and the attacker
cannot sign a new head without the key. Heads are meant to be copied off-site as well (DESIGN §5).

Deleting the evidence must not erase the alarm: beside each key the signer records the newest head it
signed (``<lg_code>.audit-head.json``), so a verifier knows that heads are expected — and up to where — even
when every head row, the chain's tail and the counter are gone (:func:`local_finding`). The signer itself
refuses to sign over such a chain (:func:`sign_town`): a fresh head on the remainder would bless the cut.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
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
from sqlalchemy import Engine, ForeignKeyConstraint, Integer, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from jichitai.platform.audit import AuditEntry
from jichitai.platform.db import LG_CODE, Base, UnitOfWork, as_utc, utcnow
from jichitai.platform.tenancy import Tenant, get_tenant

log = logging.getLogger(__name__)


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


def has_key(key_dir: Path, lg_code: str) -> bool:
    """True when the town has a signing key: it has been signed, so its heads are expected."""
    return _key_path(key_dir, lg_code).exists()


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


def newest_head(session: Session, tenant: Tenant) -> AuditChainHead | None:
    """The town's signed head with the highest sequence number, if any."""
    return session.scalars(
        select(AuditChainHead)
        .where(AuditChainHead.lg_code == tenant.lg_code)
        .order_by(AuditChainHead.seq.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class SignedMark:
    """The newest head the signer signed for a town, as recorded beside its key (outside the database)."""

    seq: int
    entry_hash: str
    signed_at: dt.datetime


def _mark_path(key_dir: Path, lg_code: str) -> Path:
    return key_dir / f"{lg_code}.audit-head.json"


def last_signed(key_dir: Path, lg_code: str) -> SignedMark | None:
    """The newest head recorded as signed for the town, or None (never signed, or signed before records)."""
    path = _mark_path(key_dir, lg_code)
    if not path.exists():
        return None
    data = json.loads(path.read_text("utf-8"))
    return SignedMark(int(data["seq"]), str(data["entry_hash"]), dt.datetime.fromisoformat(data["signed_at"]))


def record_signed(key_dir: Path, head: AuditChainHead) -> None:
    """Record a committed head beside the key (never moving the record back to an older head).

    Written after the commit: a record names only heads that exist. Two signers racing may leave the
    older of their two heads recorded, which weakens the record by one head and never raises a false alarm.
    """
    current = last_signed(key_dir, head.lg_code)
    if current is not None and current.seq >= head.seq:
        return
    path = _mark_path(key_dir, head.lg_code)
    body = {"seq": head.seq, "entry_hash": head.entry_hash, "signed_at": as_utc(head.signed_at).isoformat()}
    tmp = path.with_name(path.name + ".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(body, sort_keys=True))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Finding:
    """What verification found wrong: the first bad entry when one can be named, and the reason."""

    first_bad: int | None
    reason: str


HEADS_DELETED = "signed heads deleted"
TRUNCATED_BEFORE_SIGNED = "chain ends before the last head signed (truncated)"
REWRITTEN_BEFORE_SIGNED = "chain differs from the last head signed (rewritten)"


def _entry_hash(session: Session, tenant: Tenant, seq: int) -> str | None:
    return session.scalar(
        select(AuditEntry.entry_hash).where(AuditEntry.lg_code == tenant.lg_code, AuditEntry.seq == seq)
    )


def last_seq(session: Session, tenant: Tenant) -> int:
    """The number of the chain's last entry (0 for an empty chain)."""
    last = session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.lg_code == tenant.lg_code))
    return last or 0


KEY_SETTLE = dt.timedelta(minutes=1)
"""A key this young may belong to a first signing still in flight (the key is written before its head)."""


@dataclass(frozen=True)
class KeyDirState:
    """What the key directory says about a town: the newest head recorded, and whether it has a key."""

    mark: SignedMark | None
    keyed: bool
    """The town has a signing key older than :data:`KEY_SETTLE`."""


def key_dir_state(key_dir: Path, lg_code: str) -> KeyDirState:
    """Read the key directory for a town. Read it *before* the database: a record is written after its
    head commits, so a transaction begun afterwards is sure to see the head the record names."""
    path = _key_path(key_dir, lg_code)
    mark = last_signed(key_dir, lg_code)
    try:
        age = dt.datetime.now(dt.UTC).timestamp() - path.stat().st_mtime
    except FileNotFoundError:
        return KeyDirState(mark, False)
    return KeyDirState(mark, age >= KEY_SETTLE.total_seconds())


def local_finding(session: Session, tenant: Tenant, state: KeyDirState) -> Finding | None:
    """Check the chain and its heads against what the key directory knows: that heads exist, and the newest.

    A town with a key has been signed, so a chain without any head lost them; the record of the newest
    head signed must still be in the chain, with its hash, and among the heads. Neither needs the chain to
    be walked: the walk (:func:`~jichitai.platform.audit.verify_chain`) and :func:`verify_heads` run first.
    """
    mark = state.mark
    newest = newest_head(session, tenant)
    if mark is not None:
        held = _entry_hash(session, tenant, mark.seq)
        if held is None:
            return Finding(min(last_seq(session, tenant) + 1, mark.seq), TRUNCATED_BEFORE_SIGNED)
        if held != mark.entry_hash:
            return Finding(mark.seq, REWRITTEN_BEFORE_SIGNED)
        if newest is None or newest.seq < mark.seq:
            return Finding(None, HEADS_DELETED)
    elif newest is None and state.keyed:
        return Finding(None, HEADS_DELETED)
    return None


class SigningRefused(Exception):
    """The signer will not sign a town whose evidence is damaged (the message says why)."""

    def __init__(self, lg_code: str, reason: str) -> None:
        super().__init__(f"{lg_code}: {reason}")
        self.lg_code = lg_code
        self.reason = reason


def signing_refusal(session: Session, tenant: Tenant, key_dir: Path) -> str | None:
    """Why the signer must not sign the town's chain as it stands, or None.

    A new head blesses whatever the chain holds: signed after the heads were deleted or the chain was cut
    back, it would hide the cut from every later verification. And a town whose heads exist but whose key
    is missing must not get a new key, which would leave every earlier head unverifiable.
    """
    found = local_finding(session, tenant, key_dir_state(key_dir, tenant.lg_code))
    if found is not None:
        return found.reason
    newest = newest_head(session, tenant)
    if newest is None:
        return None
    if not has_key(key_dir, tenant.lg_code):
        return "signed heads exist but the signing key is missing"
    if _entry_hash(session, tenant, newest.seq) != newest.entry_hash:
        return "chain differs from its signed head (rewritten)"
    return None


def sign_town(engine: Engine, lg_code: str, key_dir: Path) -> AuditChainHead | None:
    """Sign the town's current last entry after checking its evidence, commit, and record the head.

    Raises :class:`SigningRefused` when :func:`signing_refusal` objects (nothing is signed or written).
    """
    with UnitOfWork(engine) as uow:
        tenant = get_tenant(uow.session, lg_code)
        refusal = signing_refusal(uow.session, tenant, key_dir)
        if refusal is not None:
            log.error("audit head not signed", extra={"lg_code": lg_code, "reason": refusal})
            raise SigningRefused(lg_code, refusal)
        head = sign_head(uow.session, tenant, load_or_create_key(key_dir, lg_code))
        uow.commit()
    if head is not None:
        record_signed(key_dir, head)
    return head
