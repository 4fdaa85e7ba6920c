"""The settlement decision (core.deposits.decision.decide) without a database: every provider
status × stored status × paid amounts around the tolerance bounds × policy, then the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.db.models import FINAL_PAYMENT_STATUSES, PaymentStatus
from core.deposits.decision import (
    AskRate,
    History,
    Outcome,
    SettlementDecision,
    Stored,
    Valuation,
    decide,
)
from core.deposits.notify import ALERT_KIND, REVIEW_KIND
from core.deposits.rules import ceiling
from core.deposits.settlement import SettlePolicy
from core.nowpayments import PROVIDER_STATUSES, MalformedReply
from core.nowpayments import Payment as Reply

D = Decimal
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(hours=1)
PROVIDER_ID = "5077125051"
INTERNAL_ID = "PAY_test"
PAID_STATUSES = {PaymentStatus.FINISHED, PaymentStatus.PARTIALLY_PAID}

wire_statuses = st.sampled_from([*PROVIDER_STATUSES, "spending"])  # and one never heard of
stored_statuses = st.sampled_from(list(PaymentStatus))
usd = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=2)
coin = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8)
tolerances = st.sampled_from([D("0"), D("0.5"), D("1"), D("5"), D("100")])
policies = st.builds(
    SettlePolicy,
    partial_payment_policy=st.sampled_from(["credit", "hold"]),
    overpayment_tolerance_percent=tolerances,
    credit_overpayment=st.booleans(),
    admin_chat_id=st.sampled_from([None, -100]),
)
# Offsets from the tolerance bounds (in units of the last coin digit) and plain factors.
nudges = st.sampled_from([-1, 0, 1])
sides = st.sampled_from(["low", "high", "exact", "zero", "none", "far_over", "far_under"])


def _paid(pay_amount: Decimal, tolerance: Decimal, side: str, nudge: int) -> Decimal | None:
    step = D("1e-8") * nudge
    share = tolerance / 100
    if side == "none":
        return None
    if side == "zero":
        return D("0")
    if side == "exact":
        return pay_amount
    if side == "far_over":
        return pay_amount * 3
    if side == "far_under":
        return (pay_amount / 3).quantize(D("1e-8"))
    bound = pay_amount * (1 - share) if side == "low" else pay_amount * (1 + share)
    return max(D("0"), bound.quantize(D("1e-8")) + step)


def _reply(status: str, pay_amount: Decimal, paid: Decimal | None, **fields: Any) -> Reply:
    return Reply(
        payment_id=fields.pop("payment_id", PROVIDER_ID),
        payment_status=status,
        pay_address="addr",
        pay_amount=pay_amount,
        pay_currency="btc",
        actually_paid=paid,
        order_id=INTERNAL_ID,
        **fields,
    )


def _stored(status: str, amount: Decimal, pay_amount: Decimal, **fields: Any) -> Stored:
    final = status in FINAL_PAYMENT_STATUSES
    values: dict[str, Any] = {
        "internal_payment_id": INTERNAL_ID,
        "currency_code": "BTC",
        "amount_usd": amount,
        "status": status,
        "created_at": CREATED,
        "provider_payment_id": None if status == PaymentStatus.CREATING else PROVIDER_ID,
        "pay_address": "addr",
        "pay_amount": pay_amount,
        "provider_status": status if status in PROVIDER_STATUSES else None,
        "completed_at": CREATED + timedelta(minutes=30) if final else None,
        "expires_at": CREATED + timedelta(days=7),
    }
    values.update(fields)
    return Stored(**values)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Reply, Stored, SettlePolicy, History, bool]:
    policy = draw(policies)
    amount, pay_amount = draw(usd), draw(coin)
    paid = _paid(pay_amount, policy.overpayment_tolerance_percent, draw(sides), draw(nudges))
    status = draw(wire_statuses)
    price = draw(st.sampled_from([None, amount, amount + D("1")]))
    reply = _reply(status, pay_amount, paid, price_amount=price, price_currency="usd")
    stored_status = draw(stored_statuses)
    credited = draw(st.sampled_from([None, amount])) if stored_status in PAID_STATUSES else None
    stored = _stored(
        stored_status,
        amount,
        pay_amount,
        credited_usd=credited,
        needs_review=draw(st.booleans()),
        actually_paid=draw(st.sampled_from([None, paid, pay_amount])),
    )
    notes = st.sampled_from(["paid_after_final", "price_changed", "changed_under_review"])
    history = History(reviewed=draw(st.booleans()), seen=frozenset(draw(st.sets(notes))))
    return reply, stored, policy, history, draw(st.booleans())


def _decided(
    reply: Reply, stored: Stored, policy: SettlePolicy, history: History, may_ask: bool
) -> SettlementDecision | None:
    """The decision, or None when it asks for today's rate first (asked only when allowed)."""
    found = decide(reply, stored, policy, now=NOW, history=history, may_ask=may_ask)
    if isinstance(found, AskRate):
        assert may_ask and found.code == "BTC" and found.paid == reply.actually_paid
        # Given the rate it decides, and never asks twice.
        valuation = Valuation(found.paid, D("1.00"))
        again = decide(reply, stored, policy, now=NOW, history=history, valuation=valuation)
        assert isinstance(again, SettlementDecision)
        return again
    return found


@settings(max_examples=3000, deadline=None)
@given(cases())
def test_decision_properties(case: tuple[Reply, Stored, SettlePolicy, History, bool]) -> None:
    reply, stored, policy, history, may_ask = case
    decision = _decided(reply, stored, policy, history, may_ask)
    assert decision is not None
    ours = PROVIDER_STATUSES.get(reply.payment_status)
    credit = decision.credit_usd
    # Never credits more than the invoice plus the tolerance; never a debit.
    if credit is not None:
        assert D("0") < credit <= ceiling(stored.amount_usd, policy.overpayment_tolerance_percent)
        # Credit only from finished/partially_paid, on a payment not settled before.
        assert ours in PAID_STATUSES and stored.status not in FINAL_PAYMENT_STATUSES
        assert decision.status == ours and decision.updates["credited_usd"] == credit
        assert decision.outcome is Outcome.CREDITED
    # A terminal stored status never goes back, and its money never moves again.
    if stored.status in FINAL_PAYMENT_STATUSES and stored.provider_payment_id is not None:
        assert "status" not in decision.updates and "credited_usd" not in decision.updates
        assert credit is None
    # Exactly one of credit / review / nothing when money arrived.
    held = decision.outcome is Outcome.HELD
    assert not (credit is not None and decision.updates.get("needs_review") is True)
    money_arrived = ours in PAID_STATUSES and stored.status not in FINAL_PAYMENT_STATUSES
    price_held = reply.price_amount not in (None, stored.amount_usd) and not history.reviewed
    if money_arrived and not price_held:
        assert decision.outcome in (Outcome.CREDITED, Outcome.HELD)
        assert (credit is not None) != held
    if held:
        assert decision.updates.get("needs_review", stored.needs_review) is True
        assert [m.kind for m in decision.admin] == [REVIEW_KIND] and credit is None
        assert decision.updates["status"] in FINAL_PAYMENT_STATUSES
    # Only the payment's own fields change; nothing happens without a reason to.
    assert set(decision.updates) <= set(Stored.__dataclass_fields__) - {
        "internal_payment_id",
        "currency_code",
        "amount_usd",
        "created_at",
    }
    if decision.outcome is Outcome.UNCHANGED:
        assert credit is None and not decision.admin and not decision.notify_user


@settings(max_examples=500, deadline=None)
@given(cases())
def test_a_decision_is_a_function_of_its_inputs(
    case: tuple[Reply, Stored, SettlePolicy, History, bool],
) -> None:
    reply, stored, policy, history, _ = case
    first = decide(reply, stored, policy, now=NOW, history=history)
    assert first == decide(reply, stored, policy, now=NOW, history=history)


SAFE = SettlePolicy()
CREDIT_ALL = SettlePolicy(partial_payment_policy="credit", credit_overpayment=True)
TEN, ONE = D("10.00"), D("0.001")


@pytest.mark.parametrize(
    ("stored_status", "reply_status", "paid", "policy", "outcome", "status", "credit", "reason"),
    [
        ("waiting", "finished", ONE, SAFE, Outcome.CREDITED, "finished", TEN, None),
        ("waiting", "finished", D("0.000995"), SAFE, Outcome.CREDITED, "finished", TEN, None),
        ("confirming", "finished", D("0.002"), SAFE, Outcome.HELD, "finished", None, "overpaid"),
        (
            "waiting",
            "finished",
            D("0.001005"),
            CREDIT_ALL,
            Outcome.CREDITED,
            "finished",
            D("10.05"),
            "overpaid_credited",
        ),
        (
            "waiting",
            "partially_paid",
            D("0.0005"),
            SAFE,
            Outcome.HELD,
            "partially_paid",
            None,
            "partial_hold",
        ),
        (
            "waiting",
            "partially_paid",
            D("0.0005"),
            CREDIT_ALL,
            Outcome.CREDITED,
            "partially_paid",
            D("5.00"),
            "partial_credit",
        ),
        ("waiting", "expired", None, SAFE, Outcome.CLOSED, "expired", None, "expired"),
        (
            "waiting",
            "expired",
            D("0.0001"),
            SAFE,
            Outcome.HELD,
            "expired",
            None,
            "ended_with_payment",
        ),
        ("waiting", "confirming", D("0.001"), SAFE, Outcome.UPDATED, "confirming", None, None),
        ("waiting", "spending", None, SAFE, Outcome.UPDATED, None, None, None),
        ("expired", "finished", ONE, SAFE, Outcome.ALERTED, None, None, "paid_after_final"),
        (
            "finished",
            "finished",
            D("0.002"),
            SAFE,
            Outcome.ALERTED,
            None,
            None,
            "amount_changed_after_credit",
        ),
    ],
)
def test_the_table(
    stored_status: str,
    reply_status: str,
    paid: Decimal | None,
    policy: SettlePolicy,
    outcome: Outcome,
    status: str | None,
    credit: Decimal | None,
    reason: str | None,
) -> None:
    credited = TEN if stored_status == "finished" else None
    stored = _stored(stored_status, TEN, ONE, credited_usd=credited, actually_paid=None)
    if stored_status == "finished":
        stored = _stored(stored_status, TEN, ONE, credited_usd=TEN, actually_paid=ONE)
    decision = decide(_reply(reply_status, ONE, paid), stored, policy, now=NOW)
    assert isinstance(decision, SettlementDecision)
    assert (decision.outcome, decision.status, decision.credit_usd, decision.reason) == (
        outcome,
        status,
        credit,
        reason,
    )


def test_a_recorded_disagreement_is_not_alerted_again() -> None:
    stored = _stored("expired", TEN, ONE)
    reply = _reply("finished", ONE, ONE)
    first = decide(reply, stored, SAFE, now=NOW)
    assert isinstance(first, SettlementDecision) and first.outcome is Outcome.ALERTED
    assert first.events == ("paid_after_final",) and first.notify_user
    seen = History(seen=frozenset({"paid_after_final"}))
    again = decide(reply, stored, SAFE, now=NOW, history=seen)
    assert isinstance(again, SettlementDecision) and again.outcome is Outcome.UNCHANGED
    assert not again.admin and not again.events


def test_a_child_payment_goes_to_the_admins_uncredited() -> None:
    child = _reply("finished", ONE, ONE, payment_id="999", parent_payment_id=PROVIDER_ID)
    decision = decide(child, _stored("finished", TEN, ONE, credited_usd=TEN), SAFE, now=NOW)
    assert isinstance(decision, SettlementDecision)
    assert decision.outcome is Outcome.ALERTED and decision.credit_usd is None
    assert [m.kind for m in decision.admin] == [ALERT_KIND]
    assert decision.admin[0].extra["child_payment_id"] == "999"


def test_an_older_reply_changes_nothing() -> None:
    stored = _stored("confirming", TEN, ONE, provider_updated_at=NOW)
    old = _reply("finished", ONE, ONE, updated_at=NOW - timedelta(minutes=1))
    decision = decide(old, stored, SAFE, now=NOW)
    assert isinstance(decision, SettlementDecision)
    assert decision.outcome is Outcome.UNCHANGED and not decision.updates


@pytest.mark.parametrize(
    "fields",
    [{"payment_id": "1"}, {"pay_currency": "eth"}, {"actually_paid": D("-1")}],
)
def test_a_reply_about_something_else_is_refused(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "payment_id": PROVIDER_ID,
        "payment_status": "finished",
        "pay_amount": ONE,
        "pay_currency": "btc",
        "order_id": INTERNAL_ID,
    }
    values.update(fields)
    reply = Reply.model_construct(**values)  # as an admin tool or IPN might build it
    with pytest.raises(MalformedReply):
        decide(reply, _stored("waiting", TEN, ONE), SAFE, now=NOW)
