"""Check digits of the public identifiers a municipal system handles.

Every identifier here ends in a check digit so that a mistyped or misread number is caught
at the counter, not months later in an exchange file.  The formulas differ in small but
important ways (what a remainder of 0 or 1 maps to), so each one has its own function
instead of one "mod 11" helper with flags.  References: domain.md §4.1–§4.4.
"""

from __future__ import annotations

import random
import re
from typing import NoReturn

from jichitai.platform.jp.errors import JpValueError

__all__ = [
    "atena_check_digit",
    "check_juminhyo_code",
    "issue_juminhyo_code",
    "juminhyo_code_check_digit",
    "juminhyo_code_is_valid",
    "lg_code_check_digit",
    "make_atena_number",
    "my_number_check_digit",
    "validate_atena_number",
    "validate_lg_code",
    "validate_my_number",
]

_ASCII_DIGITS = re.compile(r"[0-9]+")

JUMINHYO_CODE_CHECK_DIGIT_MISMATCH = "juminhyo_code_check_digit_mismatch"


def _require_digits(value: str, length: int | None, what: str) -> None:
    """Refuse anything but ASCII digits of the given length.

    ``str.isdigit`` is not used on purpose: it accepts full-width and other Unicode digits,
    which must be normalised by the caller before a number is stored or compared.
    """
    if not isinstance(value, str) or _ASCII_DIGITS.fullmatch(value) is None:
        raise JpValueError("invalid_format", f"{what}は半角数字で入力してください。")
    if length is not None and len(value) != length:
        raise JpValueError("invalid_format", f"{what}は{length}桁の数字で入力してください。")


def _weighted_sum_2_to_7(body: str) -> int:
    """Sum of digits times weights 2,3,4,5,6,7,2,3,… counted from the right.

    This is the weighting of the My Number ordinance (Qn = n+1 for n ≤ 6, n−5 after) and
    of the 宛名番号 rule; it cycles every six digits, so it works for any body length.
    """
    return sum(int(d) * (i % 6 + 2) for i, d in enumerate(reversed(body)))


def _mod11_low_remainders_zero(body: str) -> int:
    """CD = 11 − (Σ mod 11), with remainders 0 and 1 both giving 0 (a single digit)."""
    remainder = _weighted_sum_2_to_7(body) % 11
    return 0 if remainder <= 1 else 11 - remainder


def _raise_check_digit(what: str) -> NoReturn:
    raise JpValueError("invalid_check_digit", f"{what}のチェックディジットが正しくありません。")


# --- 全国地方公共団体コード (§4.1) -------------------------------------------------


def lg_code_check_digit(body5: str) -> int:
    """Check digit of a 全国地方公共団体コード from its first five digits.

    JIS X 0402: weights 6,5,4,3,2, r = Σ mod 11, CD = (11 − r) mod 10.  Unlike My Number,
    r = 0 gives 1 and r = 1 gives 0, so r = 0 and r = 10 share the digit 1.
    """
    _require_digits(body5, 5, "地方公共団体コードの本体")
    remainder = sum(int(d) * w for d, w in zip(body5, (6, 5, 4, 3, 2), strict=True)) % 11
    return (11 - remainder) % 10


def validate_lg_code(code: str) -> str:
    """Return the 6-digit 地方公共団体コード unchanged, or raise :class:`JpValueError`."""
    _require_digits(code, 6, "地方公共団体コード")
    if lg_code_check_digit(code[:5]) != int(code[5]):
        _raise_check_digit("地方公共団体コード")
    return code


# --- 個人番号 (§4.3) -----------------------------------------------------------------


def my_number_check_digit(body11: str) -> int:
    """Check digit of a 個人番号 from its first eleven digits.

    Statutory formula (総務省令第85号 第5条): CD = 11 − (Σ Pn·Qn mod 11), and 0 when the
    remainder is 0 or 1; left-to-right weights 6,5,4,3,2,7,6,5,4,3,2.
    """
    _require_digits(body11, 11, "個人番号の本体")
    return _mod11_low_remainders_zero(body11)


def validate_my_number(s: str) -> str:
    """Return the 12-digit 個人番号 unchanged, or raise :class:`JpValueError`.

    Numbers made of one repeated digit are refused as a format error even where the
    formula would accept them (000000000000): they are placeholders typed into forms,
    never issued numbers.
    """
    _require_digits(s, 12, "個人番号")
    if len(set(s)) == 1:
        raise JpValueError("invalid_format", "個人番号が正しくありません（同じ数字の繰り返しです）。")
    if my_number_check_digit(s[:11]) != int(s[11]):
        _raise_check_digit("個人番号")
    return s


# --- 住民票コード (§4.2) -------------------------------------------------------------


def juminhyo_code_check_digit(body10: str) -> int:
    """Check digit of a 住民票コード from its first ten digits.

    The ministerial notice with the formula was not found (domain.md §4.2, conf med); the
    My Number scheme on ten digits matches the public samples.  Because the formula is
    not confirmed, callers must treat a mismatch as a warning (see
    :func:`check_juminhyo_code`), never as a rejection.
    """
    _require_digits(body10, 10, "住民票コードの本体")
    return _mod11_low_remainders_zero(body10)


def juminhyo_code_is_valid(s: str) -> bool:
    """True when ``s`` is eleven ASCII digits whose last digit matches the assumed formula."""
    if _ASCII_DIGITS.fullmatch(s) is None or len(s) != 11:
        return False
    return juminhyo_code_check_digit(s[:10]) == int(s[10])


def check_juminhyo_code(s: str) -> list[str]:
    """Validate a 住民票コード and return warning codes instead of failing on the CD.

    A wrong shape (not eleven digits) raises, since no real code looks like that.  A check
    digit mismatch only yields ``"juminhyo_code_check_digit_mismatch"``: the codes are
    issued by J-LIS, and refusing a genuine code because our unconfirmed formula is wrong
    would stop a 転入 at the counter.
    """
    _require_digits(s, 11, "住民票コード")
    if juminhyo_code_check_digit(s[:10]) != int(s[10]):
        return [JUMINHYO_CODE_CHECK_DIGIT_MISMATCH]
    return []


def issue_juminhyo_code(rng: random.Random) -> str:
    """Make a random 住民票コード (ten random digits plus check digit) for tests and demos.

    Real codes come from J-LIS pools; the generator is injected so tests are reproducible.
    The first digit is non-zero so the code survives systems that store it as a number.
    """
    body = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))
    return body + str(juminhyo_code_check_digit(body))


# --- 宛名番号 / 世帯番号 (§4.4) -------------------------------------------------------


def atena_check_digit(body: str) -> int:
    """Check digit of a 宛名番号 or 世帯番号 body of any length.

    Mod 11 with weights 2..7 cycling from the right; CD = 11 − r, remainder 0 → 0.  The
    text found (spec j130) does not say what remainder 1 (which would give 10) maps to;
    we use 0, as My Number does, so the CD stays one digit (conf low, domain.md §9 item 7).
    Change it only together with a migration of existing numbers.
    """
    _require_digits(body, None, "宛名番号の本体")
    return _mod11_low_remainders_zero(body)


def make_atena_number(seq: int, width: int = 10) -> str:
    """Build a 宛名番号/世帯番号 from a sequence value: zero-padded body plus check digit.

    The body is ``width − 1`` digits so that the whole number is ``width`` characters,
    which is what fixed-width exchange layouts expect.  Sequence values start at 1.
    """
    if width < 2:
        raise JpValueError("invalid_format", "宛名番号の桁数は2桁以上にしてください。")
    if seq < 1 or seq >= 10 ** (width - 1):
        raise JpValueError("invalid_format", f"宛名番号の連番は1から{10 ** (width - 1) - 1}までです。")
    body = str(seq).zfill(width - 1)
    return body + str(atena_check_digit(body))


def validate_atena_number(s: str, width: int = 10) -> str:
    """Return the 宛名番号/世帯番号 unchanged, or raise :class:`JpValueError`.

    An all-zero body is refused: sequence values start at 1, so it can only be a
    placeholder.
    """
    _require_digits(s, width, "宛名番号")
    if int(s[:-1]) == 0:
        raise JpValueError("invalid_format", "宛名番号が正しくありません。")
    if atena_check_digit(s[:-1]) != int(s[-1]):
        _raise_check_digit("宛名番号")
    return s
