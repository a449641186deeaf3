"""Password hashing (argon2id via argon2-cffi) and the password policy.

Unknown login names are checked against a dummy hash so that a wrong name and a wrong password take the same
time and give the same answer: the sign-in form must not tell which staff names exist.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jichitai.platform.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 200

_HASHER = PasswordHasher()


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash and verify with ``hasher`` from now on; returns the one it replaces.

    The test suite installs argon2id with the smallest parameters (thousands of staff sign-ins at full cost
    would take minutes); production never calls this, and a hash made with other parameters still verifies,
    since argon2 hashes carry their own parameters.
    """
    global _HASHER
    previous, _HASHER = _HASHER, hasher
    _dummy_hash.cache_clear()
    return previous


def check_policy(password: str, login_name: str, field: str = "password") -> None:
    """Refuse passwords that are too short, too long or contain the login name."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("weak_password", f"パスワードは{MIN_LENGTH}文字以上にしてください。", field)
    if len(password) > MAX_LENGTH:
        raise InvalidInput("weak_password", f"パスワードは{MAX_LENGTH}文字以内にしてください。", field)
    if login_name.lower() in password.lower():
        raise InvalidInput("weak_password", "パスワードにログイン名を含めないでください。", field)
    if len(set(password)) < 5:
        raise InvalidInput("weak_password", "同じ文字の繰り返しが多すぎます。", field)


def hash_password(password: str) -> str:
    """An argon2id hash with the library's current parameters."""
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # made with the current hasher, so an unknown name costs what a known one does
    return _HASHER.hash("not a password of anyone")


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; with no stored hash the work is still done, then False."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _HASHER.check_needs_rehash(stored)
