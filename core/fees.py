"""Withdrawal fees: the rules for a currency and the quote a user confirms.

total_fee = network fee + service fee (fixed + percent of the amount), rounded UP to the cent once,
on the sum, so the house never charges less than its rules say and never more than a cent extra.
The stored split keeps the network fee exact and gives the rounding to the service fee, so
network + service == total holds to the cent (a database check insists on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

from core.config import PaymentsSettings
from core.errors import InvalidAmount
from core.money import MAX_USD, parse_usd, require_usd, round_fee

# Exact arithmetic for amount × percent: a configured percent may carry many digits, and the
# default 28-digit context would round the product before round_fee sees it.
_EXACT = Context(prec=80)


@dataclass(frozen=True, slots=True)
class FeeRules:
    minimum: Decimal
    maximum: Decimal
    network_fee: Decimal
    service_fee_fixed: Decimal
    service_fee_percent: Decimal


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """The breakdown shown before the user confirms; every amount is USD to the cent."""

    currency: str
    amount: Decimal
    network_fee: Decimal
    service_fee: Decimal
    total_fee: Decimal
    final_amount: Decimal
    minimum: Decimal
    service_fee_fixed: Decimal
    service_fee_percent: Decimal


def _lookup(overrides: Mapping[str, Decimal], code: str) -> Decimal | None:
    for key, value in overrides.items():
        if key.strip().upper() == code:
            return value
    return None


def rules_for(
    payments: PaymentsSettings,
    currency_code: str,
    *,
    network_fee_usd: Decimal | None = None,
    min_withdrawal_usd: Decimal | None = None,
) -> FeeRules:
    """The currency's own columns win over the settings' per-currency maps, which win over the
    defaults."""
    code = currency_code.strip().upper()
    network = network_fee_usd
    if network is None:
        network = _lookup(payments.network_fee_by_currency, code)
    minimum = min_withdrawal_usd
    if minimum is None:
        minimum = _lookup(payments.min_withdrawal_by_currency, code)
    return FeeRules(
        minimum=require_usd(payments.min_withdrawal_usd if minimum is None else minimum),
        maximum=require_usd(payments.max_withdrawal_usd),
        network_fee=require_usd(payments.default_network_fee_usd if network is None else network),
        service_fee_fixed=require_usd(payments.service_fee_fixed_usd),
        service_fee_percent=payments.service_fee_percent,
    )


def usd_amount(value: Decimal | str) -> Decimal:
    """A positive USD amount: text goes through the user-input rules, a Decimal must already be
    exact to the cent. Raises InvalidAmount."""
    if isinstance(value, str):
        return parse_usd(value)
    if not isinstance(value, Decimal):
        raise InvalidAmount("not_a_number")
    amount = require_usd(value)
    if amount == 0:
        raise InvalidAmount("zero")
    if amount < 0:
        raise InvalidAmount("negative")
    if amount > MAX_USD:
        raise InvalidAmount("too_large", maximum=MAX_USD)
    return amount


def exact_fee(amount: Decimal, rules: FeeRules) -> Decimal:
    """The fee before rounding, exact (80 significant digits)."""
    with localcontext(_EXACT):
        percent_part = amount * rules.service_fee_percent / 100
        return rules.network_fee + rules.service_fee_fixed + percent_part


def quote(amount: Decimal | str, rules: FeeRules, *, currency: str = "") -> FeeQuote:
    """Raises InvalidAmount: the parse reasons, below_minimum (minimum), above_maximum (maximum),
    fees_exceed_amount (amount, total_fee) when nothing would be left to send."""
    value = usd_amount(amount)
    if value < rules.minimum:
        raise InvalidAmount("below_minimum", minimum=rules.minimum, currency=currency)
    if value > rules.maximum:
        raise InvalidAmount("above_maximum", maximum=rules.maximum, currency=currency)
    total = round_fee(exact_fee(value, rules))
    final = value - total
    if final <= 0:
        raise InvalidAmount("fees_exceed_amount", amount=value, total_fee=total, currency=currency)
    return FeeQuote(
        currency=currency,
        amount=value,
        network_fee=rules.network_fee,
        service_fee=total - rules.network_fee,
        total_fee=total,
        final_amount=final,
        minimum=rules.minimum,
        service_fee_fixed=rules.service_fee_fixed,
        service_fee_percent=rules.service_fee_percent,
    )


__all__ = ["FeeQuote", "FeeRules", "exact_fee", "quote", "rules_for", "usd_amount"]
