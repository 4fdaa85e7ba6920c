"""Withdrawal fees: the quote table, the override order, refusals and the rounding property."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import PaymentsSettings
from core.errors import InvalidAmount
from core.fees import FeeRules, exact_fee, quote, rules_for, usd_amount

D = Decimal


def rules(**overrides: Any) -> FeeRules:
    base: dict[str, Any] = {
        "minimum": D("10.00"),
        "maximum": D("10000.00"),
        "network_fee": D("1.00"),
        "service_fee_fixed": D("0.00"),
        "service_fee_percent": D("1"),
    }
    return FeeRules(**{**base, **overrides})


@pytest.mark.parametrize(
    ("overrides", "amount", "network", "service", "total", "final"),
    [
        ({}, "10", "1.00", "0.10", "1.10", "8.90"),
        # 1 + 0.1001 = 1.1001 -> up to 1.11, never down to 1.10
        ({}, "10.01", "1.00", "0.11", "1.11", "8.90"),
        ({}, D("123.45"), "1.00", "1.24", "2.24", "121.21"),
        # fixed + percent + network: 0.70 + 0.30 + 0.83325 = 1.83325 -> 1.84
        (
            {
                "network_fee": D("0.70"),
                "service_fee_fixed": D("0.30"),
                "service_fee_percent": D("2.5"),
            },
            "33.33",
            "0.70",
            "1.14",
            "1.84",
            "31.49",
        ),
        # an exact cent stays put: 2 + 0.50 = 2.50
        (
            {"network_fee": D("2.00"), "service_fee_percent": D("5")},
            "10",
            "2.00",
            "0.50",
            "2.50",
            "7.50",
        ),
        # no fees at all
        (
            {"network_fee": D("0"), "service_fee_percent": D("0")},
            "10",
            "0.00",
            "0.00",
            "0.00",
            "10.00",
        ),
        # a percent with many digits is still rounded exactly: 10 * 0.0000000000000000000000000001%
        (
            {"network_fee": D("0"), "service_fee_percent": D("0.0000000000000000000000000001")},
            "10",
            "0.00",
            "0.01",
            "0.01",
            "9.99",
        ),
    ],
)
def test_quote_table(
    overrides: dict[str, Any],
    amount: str | Decimal,
    network: str,
    service: str,
    total: str,
    final: str,
) -> None:
    q = quote(amount, rules(**overrides), currency="BTC")
    assert (q.network_fee, q.service_fee, q.total_fee, q.final_amount) == (
        D(network),
        D(service),
        D(total),
        D(final),
    )
    assert q.amount == usd_amount(amount) and q.currency == "BTC"
    assert q.network_fee + q.service_fee == q.total_fee
    assert q.final_amount + q.total_fee == q.amount


def payments(**values: Any) -> PaymentsSettings:
    return PaymentsSettings(**values)


def test_override_order_currency_column_then_map_then_default() -> None:
    settings = payments(
        default_network_fee_usd=D("1.00"),
        network_fee_by_currency={"BTC": D("5.00"), "usdttrc20": D("0.50")},
        min_withdrawal_usd=D("10.00"),
        min_withdrawal_by_currency={"BTC": D("50.00")},
    )
    default = rules_for(settings, "XRP")
    assert (default.network_fee, default.minimum) == (D("1.00"), D("10.00"))
    mapped = rules_for(settings, "btc")
    assert (mapped.network_fee, mapped.minimum) == (D("5.00"), D("50.00"))
    # map keys are matched case-insensitively
    assert rules_for(settings, "USDTTRC20").network_fee == D("0.50")
    column = rules_for(settings, "BTC", network_fee_usd=D("2.50"), min_withdrawal_usd=D("20.00"))
    assert (column.network_fee, column.minimum) == (D("2.50"), D("20.00"))
    # a zero override is an override, not "unset"
    free = rules_for(settings, "BTC", network_fee_usd=D("0.00"), min_withdrawal_usd=D("0.00"))
    assert (free.network_fee, free.minimum) == (D("0.00"), D("0.00"))
    with pytest.raises(InvalidAmount) as info:
        quote("49.99", mapped, currency="BTC")
    assert info.value.reason == "below_minimum" and info.value.params["minimum"] == D("50.00")


@pytest.mark.parametrize(
    ("overrides", "amount", "reason", "params"),
    [
        ({}, "9.99", "below_minimum", {"minimum": D("10.00")}),
        ({}, "10000.01", "above_maximum", {"maximum": D("10000.00")}),
        # 9.95 + 0.10 = 10.05 > 10.00
        ({"network_fee": D("9.95")}, "10", "fees_exceed_amount", {"total_fee": D("10.05")}),
        # final exactly zero is refused too: 9.90 + 0.10 = 10.00
        ({"network_fee": D("9.90")}, "10", "fees_exceed_amount", {"total_fee": D("10.00")}),
        ({}, "NaN", "not_a_number", {}),
        ({}, "1e3", "not_a_number", {}),
        ({}, "Infinity", "not_a_number", {}),
        ({}, "-5", "negative", {}),
        ({}, "0", "zero", {}),
        ({}, "0.001", "too_many_decimals", {}),
        ({}, "10.005", "too_many_decimals", {}),
        ({}, "", "empty", {}),
        ({}, "١٠", "not_a_number", {}),
        ({}, D("NaN"), "not_a_number", {}),
        ({}, D("10.005"), "too_many_decimals", {}),
        ({}, D("-10"), "negative", {}),
        ({}, D("0"), "zero", {}),
        ({}, 10.0, "not_a_number", {}),
    ],
)
def test_quote_refusals(
    overrides: dict[str, Any], amount: Any, reason: str, params: dict[str, Any]
) -> None:
    with pytest.raises(InvalidAmount) as info:
        quote(amount, rules(**overrides))
    assert info.value.reason == reason
    assert params.items() <= info.value.params.items()


cents = st.integers(min_value=0, max_value=5_000).map(lambda n: D(n).scaleb(-2))


@given(
    amount=st.integers(min_value=1, max_value=10**11).map(lambda n: D(n).scaleb(-2)),
    network=cents,
    fixed=cents,
    percent=st.decimals(min_value=0, max_value=D("99.9999"), places=4),
)
def test_fee_rounding_property(
    amount: Decimal, network: Decimal, fixed: Decimal, percent: Decimal
) -> None:
    r = rules(
        minimum=D("0.00"),
        maximum=D("1000000000.00"),
        network_fee=network,
        service_fee_fixed=fixed,
        service_fee_percent=percent,
    )
    exact = Fraction(network) + Fraction(fixed) + Fraction(amount) * Fraction(percent) / 100
    assert Fraction(exact_fee(amount, r)) == exact
    try:
        q = quote(amount, r)
    except InvalidAmount as exc:
        assert exc.reason == "fees_exceed_amount"
        assert Fraction(amount) - Fraction(math.ceil(exact * 100), 100) <= 0
        return
    assert Fraction(q.total_fee) >= exact
    assert Fraction(q.total_fee) - exact < Fraction(1, 100)
    assert q.final_amount + q.total_fee == amount and q.final_amount > 0
    assert q.network_fee + q.service_fee == q.total_fee and q.service_fee >= 0
    assert q.total_fee == q.total_fee.quantize(D("0.01"))
