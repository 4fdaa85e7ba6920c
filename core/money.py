"""The one place that parses, rounds and formats money.

Rules:
- Money is ``Decimal``; a float never enters (``to_decimal`` refuses it).
- USD has 2 decimals. Crypto amounts keep the currency's own decimals (at most 18).
- Rounding is explicit and always in the house's disfavour where it matters:
  credits to a user round DOWN (``round_credit``), fees charged to a user round UP (``round_fee``).
- User input is matched against an ASCII pattern *before* ``Decimal`` sees it, so NaN, Infinity,
  exponents, ``1_000``, non-ASCII digits and absurd lengths never become numbers. What the bot
  writes in any language reads back (``$1,234.50``; ``1 234,50 $`` with a space, a no-break
  space or a narrow no-break space between the groups); a lone decimal comma (``1,5``) stays
  1.50, never 15.
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

# ASCII only: str.isdigit() and Decimal() both accept Arabic-Indic and other digits, these
# patterns do not. Plain digits with one optional '.' or ',' decimal separator ('12.50', '12,5')...
_PLAIN_RE = re.compile(r"(?P<int>[0-9]+)(?:[.,](?P<frac>[0-9]+))?")
# ... or digits grouped in threes by commas, as format_usd writes them, with a '.' decimal
# separator only ('10,000', '1,234.50'). '1,23,456' and '1.234,50' match neither.
_GROUPED_RE = re.compile(r"(?P<int>[1-9][0-9]{0,2}(?:,[0-9]{3})+)(?:\.(?P<frac>[0-9]+))?")
# ... or grouped by spaces (the Russian way: plain, no-break or narrow no-break), with either
# decimal separator ('1 234,50', '10 000', '1 234.50'): a space is never a decimal point.
_SPACES = " \u00a0\u202f"
_SPACED_RE = re.compile(
    rf"(?P<int>[1-9][0-9]{{0,2}}(?:[{_SPACES}][0-9]{{3}})+)(?:[.,](?P<frac>[0-9]+))?"
)
# A sign and a '$' in either order before the number ('-$5', '$-5', '$ 25'), or a '$' after it
# ('25$'); one '$' at most.
_DOLLAR_RE = re.compile(
    rf"(?P<sign>[+-]?)(?:\$\s*)?(?P<sign2>[+-]?)(?P<body>[0-9](?:[0-9.,{_SPACES}]*[0-9])?)(?:\s*\$)?"
)
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
    if raw in ("", "$"):
        raise InvalidAmount("empty")
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidAmount("too_long")
    outer = _DOLLAR_RE.fullmatch(raw)
    if outer is None or (outer["sign"] and outer["sign2"]) or raw.count("$") > 1:
        raise InvalidAmount("not_a_number")
    sign = outer["sign"] or outer["sign2"]
    integer, frac = _split_number(outer["body"], places)
    if sign == "-" and not allow_negative:
        raise InvalidAmount("negative")
    if len(frac) > places:
        raise InvalidAmount("too_many_decimals", places=places)
    value = Decimal(f"{sign}{integer}.{frac or '0'}")
    if maximum is not None and abs(value) > maximum:
        raise InvalidAmount("too_large", maximum=maximum)
    if value == 0 and not allow_zero:
        raise InvalidAmount("zero")
    return _quantize(value, places, ROUND_HALF_UP)


def _split_number(body: str, places: int) -> tuple[str, str]:
    """(integer digits, decimal digits) of an unsigned number a person typed.

    '1,234' reads as 1234 only where a 3-decimal reading cannot be meant (USD has 2): for an
    amount with more places it could be 1.234, so it is refused as ambiguous, never guessed.
    """
    spaced = _SPACED_RE.fullmatch(body)
    if spaced is not None:
        return re.sub(f"[{_SPACES}]", "", spaced["int"]), spaced["frac"] or ""
    grouped = _GROUPED_RE.fullmatch(body)
    plain = _PLAIN_RE.fullmatch(body)
    if grouped is not None:
        if plain is not None and places >= 3:  # '1,234': 1234 or 1.234
            raise InvalidAmount("ambiguous")
        return grouped["int"].replace(",", ""), grouped["frac"] or ""
    if plain is not None:
        return plain["int"], plain["frac"] or ""
    raise InvalidAmount("not_a_number")


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
