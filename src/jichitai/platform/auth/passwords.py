"""Password hashing (argon2id via argon2-cffi) and the password policy.

Unknown login names are checked against a dummy hash so that a wrong name and a wrong password take the same
time and give the same answer: the sign-in form must not tell which staff names exist.

The policy applies to every password set from now on (existing hashes keep working): length, variety, no
login name and no name of the town (in kanji, kana or romaji, in any case or width), and a strength estimate
by zxcvbn, which knows common passwords, words, dates, keyboard runs and the names given to it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import jaconv
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from jichitai.platform.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 200
MIN_SCORE = 3
"""Least zxcvbn score (0–4) a new password must reach: 3 is "safely unguessable" (about 10^8 guesses)."""
ESTIMATED = 72
"""Characters zxcvbn looks at (its own limit: its work grows fast with length, and longer is strong)."""
_SUFFIXES = {"市": ("し",), "町": ("ちょう", "まち"), "村": ("そん", "むら"), "区": ("く",)}
"""How the kind of a municipality is read at the end of its kana name."""
_KUNREI = (
    ("shi", "si"),
    ("sh", "sy"),
    ("chi", "ti"),
    ("ch", "ty"),
    ("tsu", "tu"),
    ("fu", "hu"),
    ("ji", "zi"),
    ("j", "zy"),
)
"""Hepburn → Kunrei-shiki, in this order (``shi`` before ``sh``)."""

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


def fold(text: str) -> str:
    """The form in which names are looked for inside a password: full-width and half-width alike (NFKC),
    case-free, katakana as hiragana, and only letters and digits (so ``O-tsu_chi`` is ``otsuchi``)."""
    folded = jaconv.kata2hira(unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def town_words(name: str, name_kana: str) -> list[str]:
    """How a town's name may be written in a password: kanji, kana and romaji, with and without 市町村区.

    ``town_words("大槌町", "オオツチチョウ")`` includes 大槌町, 大槌, おおつちちょう, おおつち, ootsuchi,
    otsuchi, ohtsuchi and otuti; words shorter than two kanji or kana or three letters are left out (too
    common to refuse).
    """
    kanji = fold(name)
    kana = fold(name_kana)
    words = {kanji, kana}
    for suffix, readings in _SUFFIXES.items():
        if kanji.endswith(suffix) and len(kanji) > 2:
            words.add(kanji[: -len(suffix)])
            words |= {kana[: -len(r)] for r in readings if kana.endswith(r) and len(kana) > len(r) + 1}
    for word in [w for w in words if w and all("\u3040" <= c <= "\u309f" for c in w)]:
        words |= _romaji(word)
    return sorted(w for w in words if len(w) >= (3 if w.isascii() else 2))


def _romaji(kana: str) -> set[str]:
    """Hepburn as jaconv writes it, with long vowels written out, shortened or as "oh", and Kunrei-shiki."""
    hepburn = jaconv.kana2alphabet(kana).replace("-", "")
    spellings = {hepburn, hepburn.replace("ou", "o").replace("oo", "o").replace("uu", "u")}
    spellings.add(hepburn.replace("ou", "oh").replace("oo", "oh"))
    kunrei = hepburn
    for old, new in _KUNREI:
        kunrei = kunrei.replace(old, new)
    return spellings | {kunrei, kunrei.replace("ou", "o").replace("oo", "o").replace("uu", "u")}


def _refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput("weak_password", message, field)


def check_policy(
    password: str, login_name: str, field: str = "password", *, town: Iterable[str] = ()
) -> None:
    """Refuse a new password that is too short or too long, repeats itself, contains the login name or a
    name of the town (``town``: :func:`town_words`), or that zxcvbn estimates guessable (score below
    :data:`MIN_SCORE`), common passwords and the names given to it included."""
    if len(password) < MIN_LENGTH:
        raise _refuse(f"パスワードは{MIN_LENGTH}文字以上にしてください。", field)
    if len(password) > MAX_LENGTH:
        raise _refuse(f"パスワードは{MAX_LENGTH}文字以内にしてください。", field)
    folded = fold(password)
    login = fold(login_name)
    # folded, a short name (``a_`` is ``a``) would refuse every password holding that letter: it must appear
    # as typed; from three letters on, in any width, case or separator
    if login_name.casefold() in password.casefold() or (len(login) >= 3 and login in folded):
        raise _refuse("パスワードにログイン名を含めないでください。", field)
    words = {fold(w) for w in town}
    if any(w and w in folded for w in words):
        raise _refuse("パスワードに市区町村名を含めないでください。", field)
    if len(set(password)) < 5:
        raise _refuse("同じ文字の繰り返しが多すぎます。", field)
    # the parts of the login name (``k.sato``: ``sato``) make a password weaker, not refused outright
    parts = re.split(r"[._-]", login_name)
    estimate = zxcvbn(unicodedata.normalize("NFKC", password)[:ESTIMATED], user_inputs=[*parts, *words])
    if estimate["score"] < MIN_SCORE:
        raise _refuse(
            "推測されやすいパスワードです (よく使われるパスワード・単語・日付・キーボードの並びなど)。"
            "無関係な単語を4つ以上つなげるなど、長く推測しにくいものにしてください。",
            field,
        )


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
