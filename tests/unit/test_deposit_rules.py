"""The money rules (core.deposits.rules) over every shape of reply: an exhaustive table of
statuses × policies × amounts × paid amounts around the tolerance bounds (plain loops: cheaper
than hypothesis and stronger), a few hypothesis examples for the continuous amounts, then the
table."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.deposits.rules import (
    Action,
    Decision,
    MoneyPolicy,
    ceiling,
    decide_paid,
    invoice_value,
    late_money,
    pro_rata,
)
from core.deposits.schedule import Schedule

D = Decimal
Status = Literal["finished", "partially_paid"]
Partial = Literal["credit", "hold"]
STATUSES: tuple[Status, ...] = ("finished", "partially_paid")
PARTIALS: tuple[Partial, ...] = ("credit", "hold")
STEP = D("1e-8")  # the last coin digit
# Smallest and largest, cents that round, tolerance products with many decimal places.
USD = (D("0.01"), D("0.03"), D("10.00"), D("33.33"), D("9999.99"), D("10000"))
COIN = (
    D("0.00000001"),
    D("0.00042680"),
    D("0.12345679"),
    D("7.77777777"),
    D("3311.25827800"),
    D("999999.99999999"),
    D("1000000"),
)
TOLERANCES = (D("0"), D("0.01"), D("0.33"), D("0.5"), D("1"), D("33.33"), D("99.99"), D("100"))
POLICIES = tuple(
    MoneyPolicy(partial, tolerance, over)
    for partial, tolerance, over in itertools.product(PARTIALS, TOLERANCES, (False, True))
)
FACTORS = (D("0.00000001"), D("0.5"), D("0.99"), D("1"), D("1.01"), D("1.5"), D("3"), D("1000"))
EXTRAS = (D("0.00000001"), D("0.0001"), D("1"), D("1000"))  # beyond the bounds, unquantized

_ceiling = functools.cache(ceiling)  # the same few (invoice, tolerance) pairs, over and over
Decide = Callable[..., Decision]


def _paid(pay_amount: Decimal, times: Decimal) -> Decimal:
    return (pay_amount * times).quantize(STEP)


def _paid_amounts(pay_amount: Decimal, tolerance: Decimal) -> list[Decimal | None]:
    """None, 0, each bound exactly and ±1 coin digit around it, plain factors, and amounts
    beyond either bound (the shapes the rules tell apart)."""
    with localcontext() as ctx:
        ctx.prec = 80
        share = tolerance / 100
        low, high = pay_amount * (1 - share), pay_amount * (1 + share)
        found = {D("0"), *(_paid(pay_amount, f) for f in FACTORS)}
        for bound in (low, high):
            found.add(bound)
            found.update(max(D("0"), bound.quantize(STEP) + n * STEP) for n in (-1, 0, 1))
        found.update(high + extra for extra in EXTRAS)
        found.update(low - extra for extra in EXTRAS if low - extra > 0)
    return [None, *sorted(found)]


def _expected(
    status: Status,
    amount: Decimal,
    pay_amount: Decimal | None,
    paid: Decimal | None,
    policy: MoneyPolicy,
) -> Decision:
    """The rules restated in exact integer arithmetic (no division before a comparison), to
    check decide_paid against something it does not share code with."""
    if pay_amount is None or pay_amount <= 0:
        return Decision(Action.REVIEW, "amount_unknown")
    if paid is None or paid <= 0:
        reason = "finished_nothing_paid" if status == "finished" else "amount_unknown"
        return Decision(Action.REVIEW, reason)
    with localcontext() as ctx:
        ctx.prec = 200  # every product and integer quotient below is exact
        t = policy.tolerance_percent
        if 100 * paid > pay_amount * (100 + t):
            return Decision(Action.REVIEW, "overpaid")
        worth = (amount * paid * 100 // pay_amount) / 100  # at the invoice's rate, cents down
        if status == "partially_paid":
            value = min(amount, worth)
            if policy.partial_payment_policy == "hold" or value <= 0:
                return Decision(Action.REVIEW, "partial_hold")
            return Decision(Action.CREDIT, "partial_credit", value)
        if 100 * paid < pay_amount * (100 - t):
            return Decision(Action.REVIEW, "finished_underpaid")
        if policy.credit_overpayment and paid > pay_amount:
            top = (amount * (100 + t) // 1) / 100
            value = max(min(worth, top), amount)
            return Decision(Action.CREDIT, "overpaid_credited" if value > amount else None, value)
        return Decision(Action.CREDIT, None, amount)


def _check(
    status: Status,
    amount: Decimal,
    pay_amount: Decimal | None,
    paid: Decimal | None,
    policy: MoneyPolicy,
    decision: Decision,
) -> None:
    """What the rules promise for any amounts (the properties, one decision)."""
    if not pay_amount or pay_amount <= 0 or paid is None or paid <= 0:
        assert decision.action is Action.REVIEW, "what cannot be read always goes to review"
        assert decision.credit_usd is None and decision.reason
        return
    with localcontext() as ctx:
        ctx.prec = 80
        share = policy.tolerance_percent / 100
        low, high = pay_amount * (1 - share), pay_amount * (1 + share)
    if status == "finished" and paid > high:
        assert (decision.action, decision.reason) == (Action.REVIEW, "overpaid")
    if status == "finished" and paid < low:
        assert (decision.action, decision.reason) == (Action.REVIEW, "finished_underpaid")
    if decision.action is Action.REVIEW:
        assert decision.credit_usd is None and decision.reason
        return
    credit = decision.credit_usd
    assert credit is not None and credit > 0 and credit == credit.quantize(D("0.01"))
    with localcontext() as ctx:
        ctx.prec = 200
        within = 100 * credit <= amount * (100 + policy.tolerance_percent)  # exactly
    assert within, f"credit {credit} is more than the invoice plus the tolerance"
    assert credit <= _ceiling(amount, policy.tolerance_percent)
    # Nothing more than the coin that arrived is worth at the invoice's rate, except the
    # provider's "finished" within tolerance below the price (the invoice is honoured).
    assert paid <= high
    if status == "partially_paid":
        assert policy.partial_payment_policy == "credit"
        assert credit == min(amount, pro_rata(amount, paid, pay_amount)) and credit <= amount
    else:
        assert paid >= low
        if not policy.credit_overpayment:
            assert credit == amount
        else:
            assert credit >= amount and credit <= max(amount, pro_rata(amount, paid, pay_amount))


Case = tuple[Status, Decimal, Decimal | None, Decimal | None, MoneyPolicy]


def _table() -> Iterator[Case]:
    """Every status × policy × (invoice, pay_amount) × paid amount, then the amounts that
    cannot be read."""
    for amount, pay_amount in itertools.product(USD, COIN):
        shapes = {t: _paid_amounts(pay_amount, t) for t in TOLERANCES}
        for policy in POLICIES:
            for status, paid in itertools.product(STATUSES, shapes[policy.tolerance_percent]):
                yield status, amount, pay_amount, paid, policy
    unknown = (None, D("0"), D("-0.00042680"))
    for status, policy, base in itertools.product(STATUSES, POLICIES, unknown):
        for paid in (None, D("0"), D("0.00042680")):
            yield status, D("10.00"), base, paid, policy


def _run(cases: Iterator[Case], rule: Decide, *, exact: bool) -> int:
    checked = 0
    for status, amount, pay_amount, paid, policy in cases:
        decision = rule(status, amount_usd=amount, pay_amount=pay_amount, paid=paid, policy=policy)
        _check(status, amount, pay_amount, paid, policy, decision)
        if exact:
            assert decision == _expected(status, amount, pay_amount, paid, policy), (
                status,
                amount,
                pay_amount,
                paid,
                policy,
            )
        checked += 1
    return checked


def test_every_combination_keeps_the_rules() -> None:
    # 2 statuses × 32 policies × 42 (invoice, pay_amount) × ~20 paid amounts, + 576 unreadable
    assert _run(_table(), decide_paid, exact=True) >= 55_000


def test_the_ceiling_is_the_invoice_plus_the_tolerance_down_to_the_cent() -> None:
    extra = (D("0.07"), D("0.29"), D("12.345"), D("3.333"))  # fractions that round at the cent
    for amount, tolerance in itertools.product(USD, (*TOLERANCES, *extra)):
        with localcontext() as ctx:
            ctx.prec = 200
            exact = (amount * (100 + tolerance) // 1) / 100
        assert ceiling(amount, tolerance) == exact, (amount, tolerance)


def test_the_properties_catch_two_cents_too_many() -> None:
    """The table would fail a rule that credits 2 cents more than it should."""

    def greedy(status: Status, **kwargs: Any) -> Decision:
        found = decide_paid(status, **kwargs)
        if found.credit_usd is None:
            return found
        return Decision(found.action, found.reason, found.credit_usd + D("0.02"))

    with pytest.raises(AssertionError, match="more than the invoice plus the tolerance"):
        _run(_table(), greedy, exact=False)


usd = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=2)
coin = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8)
factor = st.decimals(min_value=D("0"), max_value=D("2000"), places=6)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(STATUSES),
    usd,
    coin,
    st.decimals(min_value=D("0"), max_value=D("100"), places=2),
    st.sampled_from(PARTIALS),
    st.booleans(),
    factor,
)
def test_any_amounts_keep_the_rules(
    status: Status,
    amount: Decimal,
    pay_amount: Decimal,
    tolerance: Decimal,
    partial: Partial,
    over: bool,
    times: Decimal,
) -> None:
    """The table's amounts are chosen; these are drawn (every paid shape for each draw)."""
    policy = MoneyPolicy(partial, tolerance, over)
    paid_amounts = [*_paid_amounts(pay_amount, tolerance), _paid(pay_amount, times)]
    _run(((status, amount, pay_amount, p, policy) for p in paid_amounts), decide_paid, exact=True)


SAFE = MoneyPolicy()
CREDIT_ALL = MoneyPolicy(partial_payment_policy="credit", credit_overpayment=True)


@pytest.mark.parametrize(
    ("status", "times", "policy", "action", "reason", "credit"),
    [
        ("finished", D("1"), SAFE, Action.CREDIT, None, D("10.00")),
        ("finished", D("0.995"), SAFE, Action.CREDIT, None, D("10.00")),
        ("finished", D("1.005"), SAFE, Action.CREDIT, None, D("10.00")),
        ("finished", D("1.005"), CREDIT_ALL, Action.CREDIT, "overpaid_credited", D("10.04")),
        ("finished", D("1000"), SAFE, Action.REVIEW, "overpaid", None),
        ("finished", D("1000"), CREDIT_ALL, Action.REVIEW, "overpaid", None),
        ("finished", D("1.5"), SAFE, Action.REVIEW, "overpaid", None),
        ("finished", D("0.5"), SAFE, Action.REVIEW, "finished_underpaid", None),
        ("finished", D("0"), CREDIT_ALL, Action.REVIEW, "finished_nothing_paid", None),
        ("partially_paid", D("0.5"), SAFE, Action.REVIEW, "partial_hold", None),
        ("partially_paid", D("0.5"), CREDIT_ALL, Action.CREDIT, "partial_credit", D("5.00")),
        ("partially_paid", D("0.0001"), CREDIT_ALL, Action.REVIEW, "partial_hold", None),
        ("partially_paid", D("3"), CREDIT_ALL, Action.REVIEW, "overpaid", None),
        ("partially_paid", D("0"), CREDIT_ALL, Action.REVIEW, "amount_unknown", None),
    ],
)
def test_the_table(
    status: Literal["finished", "partially_paid"],
    times: Decimal,
    policy: MoneyPolicy,
    action: Action,
    reason: str | None,
    credit: Decimal | None,
) -> None:
    pay_amount = D("0.00042680")
    paid = _paid(pay_amount, times)
    assert decide_paid(
        status, amount_usd=D("10.00"), pay_amount=pay_amount, paid=paid, policy=policy
    ) == Decision(action, reason, credit)


def test_a_decision_cannot_credit_nothing_or_review_with_money() -> None:
    with pytest.raises(ValueError, match="positive"):
        Decision(Action.CREDIT, None, D("0"))
    with pytest.raises(ValueError, match="positive"):
        Decision(Action.REVIEW, "overpaid", D("1"))


def test_late_money_and_invoice_value() -> None:
    assert not late_money("expired", D("0")) and not late_money("failed", None)
    assert late_money("expired", D("0.0001")) and late_money("confirming", D("0"))
    assert late_money("finished", None) and late_money("partially_paid", D("0"))
    assert invoice_value(D("10"), None, D("1")) is None
    assert invoice_value(D("10"), D("1"), None) is None
    assert invoice_value(D("10"), D("0.5"), D("1")) == D("5.00")


def test_the_late_schedule_decays_and_ends_with_the_window() -> None:
    schedule = Schedule()
    created = datetime(2026, 12, 1, tzinfo=UTC)
    ended = created + timedelta(minutes=20)

    def gap(after_end: timedelta) -> timedelta | None:
        now = ended + after_end
        due = schedule.late_next(now, ended, created)
        return None if due is None else due - now

    assert gap(timedelta(0)) == timedelta(minutes=5)
    assert gap(timedelta(minutes=59)) == timedelta(minutes=5)
    assert gap(timedelta(hours=1)) == timedelta(minutes=30)
    assert gap(timedelta(hours=11)) == timedelta(minutes=30)
    assert gap(timedelta(hours=12)) == timedelta(hours=3)
    window_end = created + timedelta(days=7)
    last = window_end - timedelta(hours=1)
    assert schedule.late_next(last, ended, created) == window_end  # one last look at the end
    assert schedule.late_next(window_end, ended, created) is None
    assert not schedule.late_window_open(window_end, created)
    assert schedule.late_window_open(last, created)
