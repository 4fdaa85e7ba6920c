"""Money parsing, rounding and formatting."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidAmount
from core.money import (
    format_usd,
    parse_amount,
    parse_usd,
    require_usd,
    round_credit,
    round_fee,
    to_decimal,
)

D = Decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", "10.00"),
        ("10.5", "10.50"),
        ("10,5", "10.50"),
        (" 0.01 ", "0.01"),
        ("$25", "25.00"),
        ("007.10", "7.10"),
        ("1000000000", "1000000000.00"),
        # Thousands separators as format_usd writes them, and a '$' either side.
        ("10,000", "10000.00"),
        ("1,234.50", "1234.50"),
        ("$1,234.50", "1234.50"),
        ("1,000,000.5", "1000000.50"),
        ("$ 25", "25.00"),
        ("25$", "25.00"),
        ("25 $", "25.00"),
        ("+$5", "5.00"),
        # A decimal comma stays a decimal comma: never 15 or 150.
        ("1,5", "1.50"),
        ("1,50", "1.50"),
    ],
)
def test_valid_usd(text: str, expected: str) -> None:
    value = parse_usd(text)
    assert value == D(expected) and value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("NaN", "not_a_number"),
        ("nan", "not_a_number"),
        ("Infinity", "not_a_number"),
        ("-Infinity", "not_a_number"),
        ("inf", "not_a_number"),
        ("1e3", "not_a_number"),
        ("1E-2", "not_a_number"),
        ("1_000", "not_a_number"),
        ("1.000,00", "not_a_number"),  # European grouping: refused, not guessed
        ("1,23,456", "not_a_number"),  # wrong grouping
        ("1,2345", "too_many_decimals"),
        ("12,34,5", "not_a_number"),
        ("1,000.", "not_a_number"),
        (",500", "not_a_number"),
        ("1,,000", "not_a_number"),
        ("1 0000", "not_a_number"),  # spaces group in threes: "1 000" is read
        ("$$5", "not_a_number"),
        ("$5$", "not_a_number"),
        ("$", "empty"),
        ("- 5", "not_a_number"),
        ("+-$5", "not_a_number"),
        ("-$5", "negative"),
        ("$-5", "negative"),
        ("$NaN", "not_a_number"),
        ("$1e3", "not_a_number"),
        ("1,000e3", "not_a_number"),
        ("12,345.678", "too_many_decimals"),
        ("١٠", "not_a_number"),  # Arabic-Indic digits
        ("１０", "not_a_number"),  # full-width digits
        ("10\u200b", "not_a_number"),  # zero-width space
        ("0x10", "not_a_number"),
        ("10.", "not_a_number"),
        (".5", "not_a_number"),
        ("1..2", "not_a_number"),
        ("+-1", "not_a_number"),
        ("10 usd", "not_a_number"),
        ("-5", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("0.001", "too_many_decimals"),
        ("10.999", "too_many_decimals"),
        ("1000000000.01", "too_large"),
        ("9" * 40, "too_long"),
    ],
)
def test_nasty_usd_strings(text: str, reason: str) -> None:
    with pytest.raises(InvalidAmount) as info:
        parse_usd(text)
    assert info.value.reason == reason


def test_negative_allowed_only_when_asked() -> None:
    assert parse_usd("-5.25", allow_negative=True) == D("-5.25")
    assert parse_usd("-$1,000", allow_negative=True) == D("-1000.00")
    assert parse_usd("$-5", allow_negative=True) == D("-5.00")
    assert parse_amount("0.00012345", places=8) == D("0.00012345")
    with pytest.raises(InvalidAmount):
        parse_amount("0.000123456", places=8)


def test_a_comma_with_three_digits_is_ambiguous_where_three_decimals_are_allowed() -> None:
    # USD has 2 decimals, so '1,234' can only be 1234 there; with 8 it could be 1.234.
    assert parse_usd("1,234") == D("1234.00")
    with pytest.raises(InvalidAmount) as info:
        parse_amount("1,234", places=8)
    assert info.value.reason == "ambiguous"
    assert parse_amount("1,234.5", places=8) == D("1234.5")
    assert parse_amount("1,5", places=8) == D("1.5")


@given(st.decimals(min_value=D("0.01"), max_value=D("1000000000"), places=2))
def test_formatted_amounts_parse_back(value: Decimal) -> None:
    assert parse_usd(f"{value:.2f}") == value
    assert parse_usd(format_usd(value)) == value  # what the bot writes, as the user copies it
    assert parse_usd(format_usd(value).replace(",", "")) == value
    assert parse_usd(f"{value:,.2f}$") == value


@given(st.integers(min_value=1, max_value=10**9))
def test_grouped_whole_dollars_are_never_read_as_decimals(value: int) -> None:
    assert parse_usd(f"{value:,}") == value
    assert parse_usd(f"${value:,}") == value


SPACES = " \u00a0\u202f"  # what may group thousands (as the Russian texts write them)


def _exact_cents_or_typed_error(text: str) -> None:
    try:
        value = parse_usd(text)
    except InvalidAmount:
        return
    assert value.is_finite() and value > 0 and value.as_tuple().exponent == -2
    spaced = rf"[1-9][0-9]{{0,2}}([{SPACES}][0-9]{{3}})+([.,][0-9]{{1,2}})?"
    number = (
        rf"([0-9]+([.,][0-9]{{1,2}})?|[1-9][0-9]{{0,2}}(,[0-9]{{3}})+(\.[0-9]{{1,2}})?|{spaced})"
    )
    assert re.fullmatch(rf"\s*\+?(\$\s*)?\+?{number}(\s*\$)?\s*", text)
    assert text.count("$") <= 1 and text.count("+") <= 1
    body = re.sub(rf"[^0-9.,{SPACES}]", "", text).strip(SPACES)
    if re.search(rf"[0-9][{SPACES}][0-9]", body):  # grouped by spaces: any separator is decimal
        assert value == D(re.sub(f"[{SPACES}]", "", body).replace(",", "."))
        return
    # The value is the digits typed, with a comma as decimal point only when not grouping.
    digits = re.sub(r"[^0-9.,]", "", text)
    if re.fullmatch(r"[0-9]+,[0-9]{1,2}", digits):
        digits = digits.replace(",", ".")
    assert value == D(digits.replace(",", ""))


@given(st.text(max_size=40))
def test_any_text_is_an_exact_cent_amount_or_a_typed_error(text: str) -> None:
    _exact_cents_or_typed_error(text)


@given(st.from_regex(r"[-+$ 0-9.,eE]{1,12}", fullmatch=True))
def test_amount_shaped_text_is_an_exact_cent_amount_or_a_typed_error(text: str) -> None:
    _exact_cents_or_typed_error(text)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9))
def test_rounding_direction(value: Decimal) -> None:
    # Both round on the cent grid; credits never grow the magnitude, fees never shrink it.
    assert abs(round_credit(value)) <= abs(value)
    assert round_credit(value).as_tuple().exponent == -2 == round_fee(value).as_tuple().exponent
    if value >= 0:
        assert round_credit(value) <= value <= round_fee(value)
        assert round_fee(value) - round_credit(value) <= D("0.01")


def test_rounding_examples() -> None:
    assert round_credit(D("9.999")) == D("9.99")
    assert round_fee(D("0.001")) == D("0.01")
    assert round_fee(D("1.00")) == D("1.00")


@pytest.mark.parametrize("value", [1.5, True, "NaN", "nan", "Infinity", "1e999", "", "abc", None])
def test_to_decimal_refuses_floats_and_non_numbers(value: object) -> None:
    with pytest.raises(InvalidAmount):
        to_decimal(value)


def test_to_decimal_accepts_machine_numbers() -> None:
    assert to_decimal(D("0.17070286")) == D("0.17070286")
    assert to_decimal(" 200 ") == D("200")
    assert to_decimal(5) == D(5)
    assert to_decimal("1E-8") == D("0.00000001")
    with pytest.raises(InvalidAmount):
        to_decimal(D("NaN"))


def test_require_usd() -> None:
    assert require_usd(D("1.5")) == D("1.50")
    with pytest.raises(InvalidAmount):
        require_usd(D("1.005"))


def test_formatting() -> None:
    assert format_usd(D("1234.5")) == "$1,234.50"
    assert format_usd(D("-5"), signed=True) == "-$5.00"
    assert format_usd(D("5"), signed=True) == "+$5.00"
