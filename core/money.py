"""The one place that parses, rounds and formats money.

Rules:
- Money is ``Decimal``; a float never enters (``to_decimal`` refuses it).
- USD has 2 decimals. Crypto amounts keep the currency's own decimals (at most 18).
- Rounding is explicit and always in the house's disfavour where it matters:
  credits to a user round DOWN (``round_credit``), fees charged to a user round UP (``round_fee``).
- User input is matched against an ASCII pattern *before* ``Decimal`` sees it, so NaN, Infinity,
  exponents, ``1_000``, non-ASCII digits and absurd lengths never become numbers.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Context, Decimal, InvalidOperation
from typing import Any

from core.errors import InvalidAmount

USD_PLACES = 2
CENT = Decimal("0.01")
MAX_CRYPTO_PLACES = 18
# NUMERIC(20, 2): 18 integer digits; user input is capped far below that.
MAX_USD = Decimal("1000000000")
MAX_INPUT_LENGTH = 32

# Digits, one optional '.' or ',' decimal separator, nothing else. ASCII only: str.isdigit() and
# Decimal() both accept Arabic-Indic and other digits, this pattern does not.
_AMOUNT_RE = re.compile(r"(?P<sign>[+-]?)(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]+))?")
# Machine-written numbers (provider JSON strings) may use an exponent; still ASCII only.
_MACHINE_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


# Wide enough for 40 integer digits at 18 decimals: the default 28 digits would raise
# InvalidOperation inside quantize() for long inputs instead of a typed error.
_WIDE = Context(prec=80)


def _places(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _quantize(value: Decimal, places: int, rounding: str) -> Decimal:
    return value.quantize(
        _places(min(places, MAX_CRYPTO_PLACES)), rounding=rounding, context=_WIDE
    )


def parse_amount(
    text: str,
    *,
    places: int = USD_PLACES,
    allow_negative: bool = False,
    allow_zero: bool = False,
    maximum: Decimal | None = MAX_USD,
) -> Decimal:
    """Parse an amount typed by a person. Raises InvalidAmount with a reason a user can act on."""
    if not isinstance(text, str):
        raise InvalidAmount("not_text")
    raw = text.strip()
    if raw.startswith("$"):
        raw = raw[1:].lstrip()
    if not raw:
        raise InvalidAmount("empty")
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidAmount("too_long")
    match = _AMOUNT_RE.fullmatch(raw)
    if match is None:
        raise InvalidAmount("not_a_number")
    if match["sign"] == "-" and not allow_negative:
        raise InvalidAmount("negative")
    frac = match["frac"] or ""
    if len(frac) > places:
        raise InvalidAmount("too_many_decimals", places=places)
    value = Decimal(f"{match['sign']}{match['int']}.{frac or '0'}")
    if maximum is not None and abs(value) > maximum:
        raise InvalidAmount("too_large", maximum=maximum)
    if value == 0 and not allow_zero:
        raise InvalidAmount("zero")
    return _quantize(value, places, ROUND_HALF_UP)


def parse_usd(text: str, *, allow_negative: bool = False) -> Decimal:
    """A USD amount from user input: positive (unless allowed), at most 2 decimals."""
    return parse_amount(text, places=USD_PLACES, allow_negative=allow_negative)


def to_decimal(value: Any) -> Decimal:
    """A finite Decimal from a machine value (provider JSON parsed with parse_float=Decimal, DB).

    Accepts Decimal, int and numeric strings; refuses float, bool, NaN, Infinity and garbage.
    """
    if isinstance(value, (bool, float)):
        raise InvalidAmount("not_a_number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        raw = value.strip()
        if not raw or len(raw) > 64 or not _MACHINE_RE.fullmatch(raw):
            raise InvalidAmount("not_a_number")
        try:
            result = Decimal(raw)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
            raise InvalidAmount("not_a_number") from exc
    else:
        raise InvalidAmount("not_a_number")
    if not result.is_finite() or abs(result.adjusted()) > 40:
        raise InvalidAmount("not_a_number")
    return result


def require_usd(value: Decimal) -> Decimal:
    """Check a USD amount computed by code: finite and already exact to the cent."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidAmount("not_a_number")
    if abs(value.adjusted()) > 40:
        raise InvalidAmount("too_large")
    exact = _quantize(value, USD_PLACES, ROUND_HALF_UP)
    if value != exact:
        raise InvalidAmount("too_many_decimals", places=USD_PLACES)
    return exact


def round_credit(value: Decimal) -> Decimal:
    """What we credit a user: rounded DOWN to the cent (never credit a fraction we did not get)."""
    return _quantize(to_decimal(value), USD_PLACES, ROUND_DOWN)


def round_fee(value: Decimal) -> Decimal:
    """What we charge a user: rounded UP to the cent (a fee is never silently shaved to zero)."""
    return _quantize(to_decimal(value), USD_PLACES, ROUND_UP)


def format_usd(value: Decimal, *, signed: bool = False) -> str:
    """'$1,234.50'; with signed=True '+$5.00' / '−$5.00'."""
    amount = _quantize(to_decimal(value), USD_PLACES, ROUND_HALF_UP)
    body = f"${abs(amount):,.2f}"
    if amount < 0:
        return f"-{body}"
    return f"+{body}" if signed else body
