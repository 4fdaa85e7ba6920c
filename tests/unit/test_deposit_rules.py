"""The money rules (core.deposits.rules) over every shape of reply: properties, then the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

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

usd = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=2)
coin = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8)
factor = st.one_of(
    st.decimals(min_value=D("0"), max_value=D("2000"), places=6),
    st.sampled_from([D("0"), D("0.5"), D("0.99"), D("1"), D("1.01"), D("1.5"), D("1000")]),
)
policies = st.builds(
    MoneyPolicy,
    partial_payment_policy=st.sampled_from(["credit", "hold"]),
    tolerance_percent=st.decimals(min_value=D("0"), max_value=D("100"), places=2),
    credit_overpayment=st.booleans(),
)
statuses: st.SearchStrategy[Literal["finished", "partially_paid"]] = st.sampled_from(
    ["finished", "partially_paid"]
)


def _paid(pay_amount: Decimal, times: Decimal) -> Decimal:
    return (pay_amount * times).quantize(D("1e-8"))


@settings(max_examples=1500, deadline=None)
@given(statuses, usd, coin, factor, policies)
def test_never_more_than_the_invoice_plus_the_tolerance(
    status: Literal["finished", "partially_paid"],
    amount: Decimal,
    pay_amount: Decimal,
    times: Decimal,
    policy: MoneyPolicy,
) -> None:
    paid = _paid(pay_amount, times)
    decision = decide_paid(
        status, amount_usd=amount, pay_amount=pay_amount, paid=paid, policy=policy
    )
    low = pay_amount * (1 - policy.tolerance_percent / 100)
    high = pay_amount * (1 + policy.tolerance_percent / 100)
    if decision.action is Action.REVIEW:
        assert decision.credit_usd is None and decision.reason
        return
    credit = decision.credit_usd
    assert credit is not None and credit > 0 and credit == credit.quantize(D("0.01"))
    assert credit <= ceiling(amount, policy.tolerance_percent)
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


@settings(max_examples=1000, deadline=None)
@given(statuses, usd, coin, policies)
def test_what_cannot_be_read_always_goes_to_review(
    status: Literal["finished", "partially_paid"],
    amount: Decimal,
    pay_amount: Decimal,
    policy: MoneyPolicy,
) -> None:
    for paid, base in ((None, pay_amount), (D("0"), pay_amount), (pay_amount, None)):
        decision = decide_paid(
            status, amount_usd=amount, pay_amount=base, paid=paid, policy=policy
        )
        assert decision.action is Action.REVIEW and decision.credit_usd is None


@settings(max_examples=1000, deadline=None)
@given(usd, coin, policies, st.decimals(min_value=D("0.00000001"), max_value=D("1000")))
def test_beyond_the_tolerance_either_way_a_finished_deposit_is_reviewed(
    amount: Decimal, pay_amount: Decimal, policy: MoneyPolicy, extra: Decimal
) -> None:
    share = policy.tolerance_percent / 100
    over = pay_amount * (1 + share) + extra
    decision = decide_paid(
        "finished", amount_usd=amount, pay_amount=pay_amount, paid=over, policy=policy
    )
    assert (decision.action, decision.reason) == (Action.REVIEW, "overpaid")
    under = pay_amount * (1 - share) - extra
    if under > 0:
        decision = decide_paid(
            "finished", amount_usd=amount, pay_amount=pay_amount, paid=under, policy=policy
        )
        assert (decision.action, decision.reason) == (Action.REVIEW, "finished_underpaid")


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
