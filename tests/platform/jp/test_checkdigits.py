"""Check digits: the documented examples, plus properties against an independent oracle."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.platform.jp import (
    JpValueError,
    atena_check_digit,
    check_juminhyo_code,
    issue_juminhyo_code,
    juminhyo_code_check_digit,
    juminhyo_code_is_valid,
    lg_code_check_digit,
    make_atena_number,
    my_number_check_digit,
    validate_atena_number,
    validate_lg_code,
    validate_my_number,
)

PROPERTY = settings(database=None, deadline=None)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


# Oracles written from the statute's left-to-right weights, independent of the code under test.
def lg_remainder(body5: str) -> int:
    return sum(int(d) * w for d, w in zip(body5, (6, 5, 4, 3, 2), strict=True)) % 11


def my_number_remainder(body11: str) -> int:
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    return sum(int(d) * w for d, w in zip(body11, weights, strict=True)) % 11


def error_code(exc: pytest.ExceptionInfo[JpValueError]) -> str:
    return exc.value.code


# --- 地方公共団体コード ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "cd"),
    [("13101", 6), ("13104", 1), ("13113", 0)],
)
def test_lg_code_check_digit_documented_examples(body: str, cd: int) -> None:
    assert lg_code_check_digit(body) == cd


@pytest.mark.parametrize("code", ["131016", "131041", "131130"])
def test_validate_lg_code_accepts_documented_codes(code: str) -> None:
    assert validate_lg_code(code) == code


@pytest.mark.parametrize("code", ["131017", "131040", "131131", "131019"])
def test_validate_lg_code_rejects_wrong_check_digit(code: str) -> None:
    with pytest.raises(JpValueError) as exc:
        validate_lg_code(code)
    assert error_code(exc) == "invalid_check_digit"
    assert "チェックディジット" in exc.value.message


@pytest.mark.parametrize("code", ["", "13101", "1310160", "13101a", "１３１０１６", " 131016"])
def test_validate_lg_code_rejects_bad_format(code: str) -> None:
    with pytest.raises(JpValueError) as exc:
        validate_lg_code(code)
    assert error_code(exc) == "invalid_format"


def test_lg_code_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="チェックディジット"):
        validate_lg_code("131017")


@PROPERTY
@given(digits(5))
def test_lg_code_body_plus_its_check_digit_validates(body: str) -> None:
    code = body + str(lg_code_check_digit(body))
    assert validate_lg_code(code) == code
    assert lg_code_check_digit(body) == (11 - lg_remainder(body)) % 10


@PROPERTY
@given(digits(5), st.integers(0, 5), st.integers(1, 9))
def test_lg_code_single_digit_change_detected_except_remainder_0_vs_10(
    body: str, position: int, shift: int
) -> None:
    code = body + str(lg_code_check_digit(body))
    mutated = code[:position] + str((int(code[position]) + shift) % 10) + code[position + 1 :]
    blind_spot = position < 5 and {lg_remainder(body), lg_remainder(mutated[:5])} == {0, 10}
    if blind_spot:
        assert validate_lg_code(mutated) == mutated
    else:
        with pytest.raises(JpValueError):
            validate_lg_code(mutated)


def test_lg_code_known_blind_spot_remainders_0_and_10_share_digit_1() -> None:
    # JIS X 0402 maps r=0 and r=10 to the same digit, so this one-digit typo passes.
    assert validate_lg_code("131041") == "131041"
    assert validate_lg_code("131091") == "131091"


# --- 個人番号 ----------------------------------------------------------------------------


def test_my_number_documented_example() -> None:
    assert my_number_check_digit("62149832025") == 7
    assert validate_my_number("621498320257") == "621498320257"


def test_my_number_documented_wrong_check_digit() -> None:
    with pytest.raises(JpValueError) as exc:
        validate_my_number("621498320258")
    assert error_code(exc) == "invalid_check_digit"


def test_my_number_remainder_one_gives_zero() -> None:
    assert my_number_check_digit("20000000000") == 0
    assert validate_my_number("200000000000") == "200000000000"
    with pytest.raises(JpValueError):
        validate_my_number("200000000001")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "62149832025",
        "6214983202570",
        "62149832025a",
        "６２１４９８３２０２５７",
        "000000000000",
        "111111111111",
    ],
)
def test_my_number_rejects_bad_format(value: str) -> None:
    with pytest.raises(JpValueError) as exc:
        validate_my_number(value)
    assert error_code(exc) == "invalid_format"


@PROPERTY
@given(digits(11))
def test_my_number_check_digit_matches_statute(body: str) -> None:
    remainder = my_number_remainder(body)
    assert my_number_check_digit(body) == (0 if remainder <= 1 else 11 - remainder)


@PROPERTY
@given(digits(11).filter(lambda b: len(set(b)) > 1))
def test_my_number_generated_numbers_validate(body: str) -> None:
    number = body + str(my_number_check_digit(body))
    assert validate_my_number(number) == number


@PROPERTY
@given(digits(11), st.integers(0, 11), st.integers(1, 9))
def test_my_number_single_digit_change_detected_except_remainder_0_vs_1(
    body: str, position: int, shift: int
) -> None:
    number = body + str(my_number_check_digit(body))
    mutated = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    blind_spot = position < 11 and {my_number_remainder(body), my_number_remainder(mutated[:11])} == {0, 1}
    if blind_spot and len(set(mutated)) > 1:
        assert validate_my_number(mutated) == mutated
    else:
        with pytest.raises(JpValueError):
            validate_my_number(mutated)


def test_my_number_known_blind_spot() -> None:
    # Remainders 0 and 1 both give check digit 0, so these differ in one digit and both pass.
    assert validate_my_number("200000000000") == "200000000000"
    assert validate_my_number("200000000050") == "200000000050"


# --- 住民票コード ------------------------------------------------------------------------


def test_juminhyo_code_documented_example() -> None:
    assert juminhyo_code_check_digit("1234567890") == 3
    assert juminhyo_code_is_valid("12345678903")
    assert check_juminhyo_code("12345678903") == []


def test_juminhyo_code_mismatch_is_a_warning_not_an_error() -> None:
    assert not juminhyo_code_is_valid("12345678904")
    assert check_juminhyo_code("12345678904") == ["juminhyo_code_check_digit_mismatch"]


@pytest.mark.parametrize("value", ["", "1234567890", "123456789031", "1234567890a", "１２３４５６７８９０３"])
def test_juminhyo_code_bad_format_raises_and_is_not_valid(value: str) -> None:
    assert not juminhyo_code_is_valid(value)
    with pytest.raises(JpValueError) as exc:
        check_juminhyo_code(value)
    assert error_code(exc) == "invalid_format"


@PROPERTY
@given(digits(10))
def test_juminhyo_code_uses_my_number_scheme_on_ten_digits(body: str) -> None:
    # conf med (domain.md §4.2): the same formula as My Number, with a leading zero the
    # ten-digit body weighs exactly like an eleven-digit one.
    assert juminhyo_code_check_digit(body) == my_number_check_digit("0" + body)


@PROPERTY
@given(st.integers(min_value=0, max_value=2**64))
def test_issued_juminhyo_codes_are_valid(seed: int) -> None:
    code = issue_juminhyo_code(random.Random(seed))
    assert len(code) == 11
    assert code.isascii()
    assert code.isdigit()
    assert code[0] != "0"
    assert juminhyo_code_is_valid(code)
    assert check_juminhyo_code(code) == []
    assert issue_juminhyo_code(random.Random(seed)) == code


def test_issue_juminhyo_code_varies_with_the_generator() -> None:
    rng = random.Random(1)
    assert len({issue_juminhyo_code(rng) for _ in range(50)}) == 50


# --- 宛名番号 / 世帯番号 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        (1, "0000000019"),  # Σ = 1·2 = 2, r 2 → 9
        (123456789, "1234567892"),  # Σ = 174, r 9 → 2
        (14, "0000000140"),  # r 0 → 0 (documented)
        (6, "0000000060"),  # r 1 → 0 (our choice, conf low)
        (5, "0000000051"),  # Σ = 10, r 10 → 1
    ],
)
def test_make_atena_number(seq: int, expected: str) -> None:
    assert make_atena_number(seq) == expected
    assert validate_atena_number(expected) == expected


def test_atena_check_digit_remainder_one_maps_to_zero() -> None:
    assert atena_check_digit("6") == 0
    assert atena_check_digit("000000006") == 0


def test_make_atena_number_other_width() -> None:
    assert make_atena_number(1, width=8) == "00000019"
    assert validate_atena_number("00000019", width=8) == "00000019"


@pytest.mark.parametrize(("seq", "width"), [(0, 10), (-1, 10), (10**9, 10), (1, 1), (100, 3)])
def test_make_atena_number_refuses_out_of_range(seq: int, width: int) -> None:
    with pytest.raises(JpValueError) as exc:
        make_atena_number(seq, width=width)
    assert error_code(exc) == "invalid_format"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("0000000018", "invalid_check_digit"),
        ("1234567893", "invalid_check_digit"),
        ("0000000000", "invalid_format"),
        ("000000019", "invalid_format"),
        ("00000000190", "invalid_format"),
        ("000000001X", "invalid_format"),
    ],
)
def test_validate_atena_number_refusals(value: str, code: str) -> None:
    with pytest.raises(JpValueError) as exc:
        validate_atena_number(value)
    assert error_code(exc) == code


@PROPERTY
@given(st.integers(min_value=1, max_value=10**9 - 1))
def test_atena_numbers_round_trip(seq: int) -> None:
    number = make_atena_number(seq)
    assert len(number) == 10
    assert int(number[:-1]) == seq
    assert validate_atena_number(number) == number
    assert number[-1] == str(my_number_check_digit(number[:-1].zfill(11)))


@PROPERTY
@given(st.integers(min_value=1, max_value=10**9 - 1), st.integers(1, 9))
def test_atena_number_wrong_check_digit_is_refused(seq: int, shift: int) -> None:
    number = make_atena_number(seq)
    wrong = number[:-1] + str((int(number[-1]) + shift) % 10)
    with pytest.raises(JpValueError) as exc:
        validate_atena_number(wrong)
    assert error_code(exc) == "invalid_check_digit"
