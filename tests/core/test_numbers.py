"""core.numbers: sizes are read from the text's shape before anything is computed."""

import time
from fractions import Fraction

import pytest

from core.numbers import MAX_DIGITS, NumberTooLarge, decimal_digits, fraction_digits, parse_decimal, parse_int


@pytest.mark.parametrize(
    "text, value",
    [("12", 12), ("-0.25", Fraction(-1, 4)), ("3.", 3), (".5", Fraction(1, 2)), ("1.5e3", 1500),
     ("1e-5", Fraction(1, 10**5)), ("+7", 7), ("0007", 7), ("1_000", 1000)],
)  # fmt: skip
def test_plain_decimals_are_read_exactly(text, value):
    assert parse_decimal(text) == value


@pytest.mark.parametrize(
    "text", ["1e99999999", "1e-80000", "1e5000", "9" * 5000, "0." + "0" * 200 + "1", "1e" + "9" * 50]
)
def test_numbers_past_the_bound_are_refused_at_once_with_a_reason(text):
    started = time.monotonic()
    with pytest.raises(NumberTooLarge, match=f"more than {MAX_DIGITS} digits"):
        parse_decimal(text)
    assert time.monotonic() - started < 0.1  # Fraction("1e99999999") would take minutes


@pytest.mark.parametrize("text", ["", ".", "e5", "1e", "abc", "1.2.3", "nan", "inf", "0x10", "1/2", "--1"])
def test_text_that_is_not_a_plain_decimal_is_a_value_error_not_a_refusal(text):
    with pytest.raises(ValueError) as info:
        parse_decimal(text)
    assert not isinstance(info.value, NumberTooLarge)


def test_digit_count_is_computed_from_lengths_only():
    assert decimal_digits("1e100") == 101
    assert decimal_digits("1.25") == 3  # 125 / 100
    assert decimal_digits("1e-3") == 4  # 1 / 1000
    assert decimal_digits("1e" + "9" * 1000) > MAX_DIGITS  # an exponent of 1,000 digits is not even read
    assert decimal_digits("x") is None


def test_integers_are_bounded_before_int_which_raises_past_4300_digits():
    assert parse_int(" -42 ") == -42
    with pytest.raises(NumberTooLarge):
        parse_int("9" * 5000)
    with pytest.raises(NumberTooLarge):
        parse_int("123", max_digits=2)
    with pytest.raises(ValueError):
        parse_int("1.5")


def test_fraction_digits_bounds_the_larger_side():
    assert fraction_digits(Fraction(1, 1000)) >= 4
    assert fraction_digits(10**99) >= 100
