"""The settlement decision (core.deposits.decision.decide) without a database: every provider
status × stored status × policy × paid amount around the tolerance bounds, then every stored
state (price, credit, review, history) × status × paid shape, in plain loops (cheaper than
hypothesis draws, and every combination instead of a sample); then the table."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

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
from core.deposits.rules import Action, Decision, ceiling, decide_paid
from core.deposits.settlement import SettlePolicy
from core.nowpayments import PROVIDER_STATUSES, MalformedReply
from core.nowpayments import Payment as Reply

D = Decimal
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(hours=1)
PROVIDER_ID = "5077125051"
INTERNAL_ID = "PAY_test"
PAID_STATUSES = {PaymentStatus.FINISHED, PaymentStatus.PARTIALLY_PAID}
WRITABLE = frozenset(Stored.__dataclass_fields__) - {
    "internal_payment_id",
    "currency_code",
    "amount_usd",
    "created_at",
}

WIRE = (*PROVIDER_STATUSES, "spending")  # and one never heard of
STORED = tuple(PaymentStatus)
PARTIALS: tuple[Literal["credit", "hold"], ...] = ("credit", "hold")
TOLERANCES = (D("0"), D("0.5"), D("1"), D("5"), D("100"))
# admin_chat_id (None or -100) is not an axis: the table proves decide never reads it.
POLICIES = tuple(
    SettlePolicy(
        partial_payment_policy=partial,
        overpayment_tolerance_percent=tolerance,
        credit_overpayment=over,
    )
    for partial, tolerance, over in itertools.product(PARTIALS, TOLERANCES, (False, True))
)
SIDES = ("low", "high", "exact", "zero", "none", "far_over", "far_under")
NUDGES = (-1, 0, 1)  # in units of the last coin digit, around the tolerance bounds
# (invoice, pay_amount): a usual one, the smallest, and ones whose bounds and pro-rata values
# have many decimal places or round at the cent.
AMOUNTS = (
    (D("10.00"), D("0.00042680")),
    (D("0.01"), D("0.00000001")),
    (D("33.33"), D("0.12345679")),
    (D("10000"), D("1000000")),
)
# Every note decide looks up: with all of them seen, each disagreement has been recorded.
NOTES = frozenset(
    {
        "paid_after_final",
        "price_changed",
        "changed_under_review",
        "amount_changed_after_credit",
        "changed_after_credit",
        "after_final",
    }
)
# Reviewed innermost: most decisions read the notes only, and then share one decision (see _run).
HISTORIES = tuple(
    History(reviewed=r, seen=s) for s, r in itertools.product((frozenset(), NOTES), (False, True))
)


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


def _stored(status: str, amount: Decimal, pay_amount: Decimal | None, **fields: Any) -> Stored:
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


def _paid_amounts(pay_amount: Decimal, tolerance: Decimal) -> list[Decimal | None]:
    """Every side × nudge, each distinct amount once (nudges move only the bounds)."""
    found = (_paid(pay_amount, tolerance, s, n) for s, n in itertools.product(SIDES, NUDGES))
    return list(dict.fromkeys(found))


@dataclasses.dataclass(frozen=True, slots=True)
class Case:
    reply: Reply
    stored: Stored
    policy: SettlePolicy
    history: History = dataclasses.field(default_factory=History)


class _Reads:
    """A policy or history that records which of its fields decide reads."""

    def __init__(self, target: object, read: set[str]) -> None:
        self._target, self._read = target, read

    def __getattr__(self, name: str) -> Any:
        self._read.add(name)
        return getattr(self._target, name)


def _money_table() -> Iterator[Case]:
    """Wire status × stored status × paid amount × policy (× the invoice amounts), the stored
    row as the poller usually finds it; the policies innermost (see _run)."""
    for amount, pay_amount in AMOUNTS:
        by_paid: dict[Decimal | None, list[SettlePolicy]] = {}
        for policy in POLICIES:
            for paid in _paid_amounts(pay_amount, policy.overpayment_tolerance_percent):
                by_paid.setdefault(paid, []).append(policy)
        rows = {
            status: _stored(
                status,
                amount,
                pay_amount,
                credited_usd=amount if status in PAID_STATUSES else None,
            )
            for status in STORED
        }
        for wire, (paid, policies) in itertools.product(WIRE, by_paid.items()):
            reply = _reply(wire, pay_amount, paid)
            for stored, policy in itertools.product(rows.values(), policies):
                yield Case(reply, stored, policy)


def _state_table() -> Iterator[Case]:
    """Wire status × stored status × paid side × the rest of the stored row and its history:
    the price the provider quotes, a credit already posted, a review open, what was seen
    arrive, whether an admin reviewed the price and which disagreements were recorded."""
    amount, pay_amount = AMOUNTS[0]
    policy = SettlePolicy(partial_payment_policy="credit", credit_overpayment=True)
    paid_amounts = [_paid(pay_amount, D("1"), side, 0) for side in SIDES]
    for wire, paid, price in itertools.product(WIRE, paid_amounts, (None, amount, amount + 1)):
        reply = _reply(wire, pay_amount, paid, price_amount=price, price_currency="usd")
        for status in STORED:
            credits = (None, amount) if status in PAID_STATUSES else (None,)
            seen_paid_amounts = dict.fromkeys((None, paid, pay_amount))  # each distinct once
            rows = itertools.product(credits, (False, True), seen_paid_amounts)
            for credited, review, seen_paid in rows:
                stored = _stored(
                    status,
                    amount,
                    pay_amount,
                    credited_usd=credited,
                    needs_review=review,
                    actually_paid=seen_paid,
                )
                for history in HISTORIES:
                    yield Case(reply, stored, policy, history)


def _quote_table() -> Iterator[Case]:
    """A paid status with a pay_amount other than the row's (or the row has none): the money
    rules measure what arrived against the invoice the user was shown."""
    amount, pay_amount = AMOUNTS[0]
    for wire, quoted, status, kept in itertools.product(
        ("finished", "partially_paid"),
        (pay_amount / 2, pay_amount * 2),
        (s for s in STORED if s not in FINAL_PAYMENT_STATUSES),
        (pay_amount, None),
    ):
        stored = _stored(status, amount, kept)
        for policy in POLICIES:
            if policy.overpayment_tolerance_percent not in (0, 1):
                continue  # the other tolerances are the money table's
            for paid in _paid_amounts(pay_amount, policy.overpayment_tolerance_percent):
                yield Case(_reply(wire, quoted, paid), stored, policy)


Decide = Callable[..., SettlementDecision | AskRate]


def _decisions(case: Case, rule: Decide) -> list[SettlementDecision]:
    """The decision; when it asks for today's rate first, the decision given the rate (it never
    asks twice) and the one that goes without it."""
    found = rule(case.reply, case.stored, case.policy, now=NOW, history=case.history, may_ask=True)
    if not isinstance(found, AskRate):
        return [found]
    assert found.code == "BTC" and found.paid == case.reply.actually_paid
    rate = Valuation(found.paid, D("1.00"))
    valued = rule(
        case.reply,
        case.stored,
        case.policy,
        now=NOW,
        history=case.history,
        valuation=rate,
        may_ask=True,
    )
    assert isinstance(valued, SettlementDecision)
    assert valued.values["current_value_usd"] == D("1.00")
    unvalued = rule(case.reply, case.stored, case.policy, now=NOW, history=case.history)
    assert isinstance(unvalued, SettlementDecision)
    assert unvalued.values["current_rate_unavailable"] is True
    return [valued, unvalued]


# The money rules' answers repeat across stored statuses and histories: asked once each.
_ceiling = functools.cache(ceiling)


@functools.cache
def _rules(
    status: str,
    amount: Decimal,
    pay_amount: Decimal | None,
    paid: Decimal | None,
    policy: SettlePolicy,
) -> Decision:
    which: Literal["finished", "partially_paid"] = (
        "finished" if status == PaymentStatus.FINISHED else "partially_paid"
    )
    return decide_paid(
        which, amount_usd=amount, pay_amount=pay_amount, paid=paid, policy=policy.money
    )


def _check(case: Case, decision: SettlementDecision) -> None:
    """What every decision promises (the properties)."""
    reply, stored, policy, history = case.reply, case.stored, case.policy, case.history
    ours = PROVIDER_STATUSES.get(reply.payment_status)
    credit = decision.credit_usd
    # Never credits more than the invoice plus the tolerance; never a debit.
    if credit is not None:
        tolerance = policy.overpayment_tolerance_percent
        # Exactly (100 × credit ≤ invoice × (100 + %)), then as core.deposits.rules.ceiling says.
        within = 100 * credit <= stored.amount_usd * (100 + tolerance)
        assert D("0") < credit and within, (
            f"credit {credit} is more than the invoice plus the tolerance"
        )
        assert credit <= _ceiling(stored.amount_usd, tolerance)
        # Credit only from finished/partially_paid, on a payment not settled before.
        assert ours in PAID_STATUSES and stored.status not in FINAL_PAYMENT_STATUSES
        assert decision.status == ours and decision.updates["credited_usd"] == credit
        assert decision.outcome is Outcome.CREDITED
    # A terminal stored status never goes back, and its money never moves again.
    final = stored.status in FINAL_PAYMENT_STATUSES and stored.provider_payment_id is not None
    if final:
        assert "status" not in decision.updates and "credited_usd" not in decision.updates
        assert credit is None
        if history.seen == NOTES:  # every disagreement recorded already: no second alert
            assert not decision.admin
    # Exactly one of credit / review / nothing when money arrived.
    held = decision.outcome is Outcome.HELD
    assert not (credit is not None and decision.updates.get("needs_review") is True)
    money_arrived = ours in PAID_STATUSES and stored.status not in FINAL_PAYMENT_STATUSES
    price_held = reply.price_amount not in (None, stored.amount_usd) and not history.reviewed
    if money_arrived and not price_held:
        assert decision.outcome in (Outcome.CREDITED, Outcome.HELD)
        assert (credit is not None) != held
        # ...as the money rules say (core.deposits.rules has its own exhaustive table).
        # The invoice is the row's pay_amount (the reply's only when the row has none yet).
        known = stored.pay_amount if stored.provider_payment_id is not None else None
        base = known or reply.pay_amount
        rules = _rules(ours, stored.amount_usd, base, reply.actually_paid, policy)
        assert (rules.credit_usd, rules.reason) == (credit, decision.reason)
        assert held == (rules.action is Action.REVIEW)
    if held:
        assert decision.updates.get("needs_review", stored.needs_review) is True
        assert [m.kind for m in decision.admin] == [REVIEW_KIND] and credit is None
        assert decision.updates["status"] in FINAL_PAYMENT_STATUSES
    # Only the payment's own fields change; nothing happens without a reason to.
    assert set(decision.updates) <= WRITABLE
    if decision.outcome is Outcome.UNCHANGED:
        assert credit is None and not decision.admin and not decision.notify_user


@dataclasses.dataclass
class Tally:
    checked: int = 0  # combinations whose decisions were checked
    decided: int = 0  # combinations decide ran for (the others reuse an equal decision)
    policy_reads: set[str] = dataclasses.field(default_factory=set)


def _same(new: object, old: object, read: set[str]) -> bool:
    return all(getattr(new, name) == getattr(old, name) for name in read)


def _run(cases: Iterator[Case], rule: Decide = decide) -> Tally:
    """Checks every case. Cases that differ from the one before only in policy or history
    fields decide did not read get that case's decisions (decide is a function of what it
    reads: checked below on a sample), so each is decided once and checked every time."""
    tally = Tally()
    last: tuple[Case, set[str], set[str], list[SettlementDecision]] | None = None
    for i, case in enumerate(cases):
        if (
            last is not None
            and last[0].reply is case.reply
            and last[0].stored is case.stored
            and _same(case.policy, last[0].policy, last[1])
            and _same(case.history, last[0].history, last[2])
        ):
            decisions = last[3]
        else:
            policy_read: set[str] = set()
            history_read: set[str] = set()
            seen = Case(
                case.reply,
                case.stored,
                cast(SettlePolicy, _Reads(case.policy, policy_read)),
                cast(History, _Reads(case.history, history_read)),
            )
            decisions = _decisions(seen, rule)
            last = (case, policy_read, history_read, decisions)
            tally.decided += 1
            tally.policy_reads |= policy_read
        for decision in decisions:
            _check(case, decision)
        if i % 41 == 0:  # a function of its inputs: equal (not the same) inputs, equal decision
            again = rule(
                case.reply.model_copy(),
                dataclasses.replace(case.stored),
                dataclasses.replace(case.policy),
                now=NOW,
                history=dataclasses.replace(case.history),
            )
            first = rule(case.reply, case.stored, case.policy, now=NOW, history=case.history)
            # ...and the one checked above, shared or not (without may_ask: the one unvalued).
            assert again == first == decisions[-1]
        tally.checked += 1
    return tally


def test_every_status_policy_and_amount() -> None:
    # 4 amounts × 11 wire statuses × 12 stored statuses × 20 policies × 7-11 paid amounts each
    tally = _run(_money_table())
    assert tally.checked >= 90_000
    # No decision reads the admin chat (or admin ids): each holds for None and -100 alike.
    assert tally.policy_reads <= {"money", "schedule"}


def test_every_stored_state() -> None:
    # 11 wire × 7 paid × 3 prices × 14 stored rows × 2 reviews × 2-3 seen amounts × 4 histories
    assert _run(_state_table()).checked >= 70_000


def test_the_invoice_is_the_rows_pay_amount() -> None:
    # 2 paid statuses × 2 quotes × 5 open stored statuses × 2 row amounts × 8 policies × 7-11
    assert _run(_quote_table()).checked >= 2_500


def test_the_properties_catch_two_cents_too_many() -> None:
    """The table would fail a decision that credits 2 cents more than it should."""

    def greedy(*args: Any, **kwargs: Any) -> SettlementDecision | AskRate:
        found = decide(*args, **kwargs)
        if isinstance(found, AskRate) or found.credit_usd is None:
            return found
        more = found.credit_usd + D("0.02")
        updates = {**found.updates, "credited_usd": more}
        return dataclasses.replace(found, credit_usd=more, updates=updates)

    with pytest.raises(AssertionError, match="more than the invoice plus the tolerance"):
        _run(_money_table(), greedy)


@settings(max_examples=100, deadline=None)
@given(
    st.decimals(min_value=D("0.01"), max_value=D("10000"), places=2),
    st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8),
    st.sampled_from(POLICIES),
)
def test_any_amounts(amount: Decimal, pay_amount: Decimal, policy: SettlePolicy) -> None:
    """The tables' amounts are chosen; these are drawn (every paid amount, the paid statuses
    against a payment waiting for them)."""
    for wire, paid in itertools.product(
        ("finished", "partially_paid"),
        _paid_amounts(pay_amount, policy.overpayment_tolerance_percent),
    ):
        stored = _stored("waiting", amount, pay_amount)
        _run(iter([Case(_reply(wire, pay_amount, paid), stored, policy)]))


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
