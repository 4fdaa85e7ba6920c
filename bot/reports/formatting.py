"""Money and moments in the current locale (``bot.i18n``): '$1,234.50' / '1 234,50 $'."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from bot.i18n import current_babel_locale


def esc(value: object) -> str:
    """Text from users or the database, safe in an HTML message."""
    return escape(str(value), quote=False)


def money(amount: Decimal, *, signed: bool = False) -> str:
    """USD to the cent; ``signed`` puts '+' before a positive amount."""
    text = format_currency(amount, "USD", locale=current_babel_locale())
    return f"+{text}" if signed and amount > 0 else text


def percent(value: Decimal) -> str:
    """A fee percent as configured ('1', '0,5'), without trailing zeros."""
    return format_decimal(value.normalize(), locale=current_babel_locale())


def moment(value: datetime) -> str:
    """Date and time in UTC, e.g. '2026-12-03 22:18 UTC' in the locale's own order."""
    shown = format_datetime(value, "short", tzinfo=UTC, locale=current_babel_locale())
    return f"{shown} UTC"


def day(value: date) -> str:
    return format_date(value, "medium", locale=current_babel_locale())
