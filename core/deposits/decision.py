"""Settlement as a decision: a provider reply + the stored payment + the policy → what to do.

``decide`` is pure (no I/O, no clock, no logging): it returns a SettlementDecision naming the
payment's new fields, the credit to post, the payment events to record, the messages to enqueue
and what to log. core.deposits.settlement applies it inside the locked transaction. The money
rules themselves (tolerance, over- and underpayment, partial policy, late money) are
core.deposits.rules; here they meet the payment's lifecycle:

- finished / partially_paid: credit at most the invoiced amount plus the tolerance, or send the
  payment to admin review (final, nothing credited, needs_review) with what arrived valued at
  the invoice's rate and at the current rate (asked outside the row lock: AskRate).
- expired, failed, refunded, cancelled: final, no credit. Expired and failed deposits stay on a
  late schedule until the provider's window ends: money that arrives after a final status goes
  to review (paid_after_final) and the user is told.
- Unknown statuses are recorded and treated as non-final.
- A reply that disagrees with a final payment changes no money: it is recorded and, where money
  may be concerned, sent to the admin chat (never a debit).
- Child payments (a repeated deposit to the same address) are not credited: the admin decides.
- A reply that is not about this payment (id, order_id, currency) or carries a non-finite or
  negative amount raises MalformedReply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.db.models import FINAL_PAYMENT_STATUSES, Payment, PaymentStatus
from core.deposits.notify import ALERT_KIND, REVIEW_KIND
from core.deposits.rules import Action, decide_paid, invoice_value, late_money
from core.errors import InvalidAmount
from core.money import to_decimal
from core.nowpayments import MalformedReply, known_status
from core.nowpayments import Payment as Reply

if TYPE_CHECKING:
    from core.deposits.settlement import SettlePolicy

FLOATING_LIFETIME = timedelta(days=7)
FIXED_RATE_LIFETIME = timedelta(minutes=20)
_NON_FINAL = frozenset(
    {
        PaymentStatus.WAITING,
        PaymentStatus.CONFIRMING,
        PaymentStatus.CONFIRMED,
        PaymentStatus.SENDING,
    }
)
# Ended without money: the provider may still receive some until its window closes.
LATE_CHECKED = frozenset({PaymentStatus.EXPIRED, PaymentStatus.FAILED})
_AMOUNTS = ("actually_paid", "pay_amount", "price_amount", "outcome_amount")


class Outcome(StrEnum):
    UNCHANGED = "unchanged"  # nothing new (a re-check)
    UPDATED = "updated"  # a non-final change recorded
    CREDITED = "credited"  # final, credited now
    CLOSED = "closed"  # final, nothing to credit
    HELD = "held"  # final, waiting for an admin (needs_review)
    ALERTED = "alerted"  # disagreement or child payment sent to the admin chat


@dataclass(frozen=True, slots=True)
class Stored:
    """The payment row as the decision sees it (read under the row lock)."""

    internal_payment_id: str
    currency_code: str
    amount_usd: Decimal
    status: str
    created_at: datetime
    provider_payment_id: str | None = None
    provider_status: str | None = None
    pay_address: str | None = None
    payin_extra_id: str | None = None
    pay_amount: Decimal | None = None
    actually_paid: Decimal | None = None
    credited_usd: Decimal | None = None
    needs_review: bool = False
    provider_updated_at: datetime | None = None
    expires_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    next_check_at: datetime | None = None
    lease_until: datetime | None = None
    check_attempts: int = 0
    last_error: str | None = None

    @classmethod
    def of(cls, p: Payment) -> Stored:
        return cls(**{f.name: getattr(p, f.name) for f in dataclasses.fields(cls)})


# The fields a decision may change (the others identify the payment).
_WRITABLE = frozenset(
    f.name
    for f in dataclasses.fields(Stored)
    if f.name not in {"internal_payment_id", "currency_code", "amount_usd", "created_at"}
)


@dataclass(frozen=True, slots=True)
class History:
    """What the payment's events say (read only when ``needs_history``): whether an admin ended
    a review, and the notes recorded before for this reply's (status, actually_paid)."""

    reviewed: bool = False
    seen: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Valuation:
    """What ``paid`` coin is worth in USD now (None: the provider could not say)."""

    paid: Decimal
    usd: Decimal | None


@dataclass(frozen=True, slots=True)
class AskRate:
    """Nothing decided yet: value ``paid`` of ``code`` now (outside the row lock), then decide
    again."""

    code: str
    paid: Decimal


@dataclass(frozen=True, slots=True)
class AdminMessage:
    kind: str  # REVIEW_KIND or ALERT_KIND
    reason: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SettlementDecision:
    outcome: Outcome
    reason: str | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)  # payment field → new value
    credit_usd: Decimal | None = None  # post under the payment's ledger key
    events: tuple[str | None, ...] = ()  # payment events (notes) recording the reply
    notify_user: bool = False
    attached: bool = False  # the provider's payment is new to this row (show the address)
    admin: tuple[AdminMessage, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)  # what arrived in USD (reviews)
    warnings: tuple[str, ...] = ()  # to log

    @property
    def status(self) -> str | None:
        """The payment's new status, None when it keeps its own."""
        found = self.updates.get("status")
        return None if found is None else str(found)


def aware(moment: datetime) -> datetime:
    # The provider writes "...Z"; a timestamp without zone is taken as UTC, not local time.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def expiry_of(reply: Reply, created_at: datetime) -> datetime:
    """valid_until when given, else creation + 7 days (20 minutes for fixed-rate payments)."""
    if reply.valid_until is not None:
        return aware(reply.valid_until)
    fixed = bool(reply.is_fixed_rate or reply.is_fee_paid_by_user)
    start = aware(reply.created_at) if reply.created_at is not None else created_at
    return start + (FIXED_RATE_LIFETIME if fixed else FLOATING_LIFETIME)


def _same_amount(a: Decimal | None, b: Decimal | None) -> bool:
    return (a or Decimal(0)) == (b or Decimal(0))


def is_child(reply: Reply, stored: Stored) -> bool:
    """A repeated deposit to our address; MalformedReply for a reply about another payment."""
    r, ours = reply, stored.provider_payment_id
    if r.parent_payment_id is not None:
        if ours is not None and r.parent_payment_id == ours and r.payment_id != ours:
            return True
        raise MalformedReply(f"reply for child of {r.parent_payment_id}, not ours")
    if ours is not None and r.payment_id != ours:
        raise MalformedReply(f"reply for payment {r.payment_id}, expected {ours}")
    if r.order_id is not None and r.order_id != stored.internal_payment_id:
        raise MalformedReply("reply order_id differs")
    if ours is None and r.order_id is None:
        raise MalformedReply("cannot match a reply without order_id to a new payment")
    if r.pay_currency is not None and r.pay_currency != stored.currency_code.lower():
        raise MalformedReply("reply pay_currency differs")
    return False


def price_differs(reply: Reply, stored: Stored) -> bool:
    if reply.price_amount is None or reply.price_currency not in (None, "usd"):
        return False
    return reply.price_amount != stored.amount_usd


def needs_history(reply: Reply, stored: Stored) -> bool:
    """Whether ``decide`` reads History for this reply: only the paths that dedupe alerts or ask
    whether an admin has reviewed (so the poller's common path reads no events)."""
    return (
        reply.parent_payment_id is not None
        or stored.status in FINAL_PAYMENT_STATUSES
        or price_differs(reply, stored)
    )


def decide(
    reply: Reply,
    stored: Stored,
    policy: SettlePolicy,
    *,
    now: datetime,
    history: History | None = None,
    valuation: Valuation | None = None,
    may_ask: bool = False,
) -> SettlementDecision | AskRate:
    """What one provider reply does to one stored payment. ``may_ask``: when a review needs
    what arrived valued now and ``valuation`` does not say, return AskRate instead of deciding
    ("unavailable" otherwise). Raises MalformedReply (nothing may change)."""
    try:
        return _Decider(reply, stored, policy, now, history or History(), valuation, may_ask).run()
    except _Ask as ask:
        return AskRate(ask.code, ask.paid)


class _Ask(Exception):
    def __init__(self, code: str, paid: Decimal) -> None:
        super().__init__(code, paid)
        self.code, self.paid = code, paid


class _Decider:
    """One decision: ``draft`` is the payment as it will be; nothing here touches the world."""

    def __init__(
        self,
        reply: Reply,
        stored: Stored,
        policy: SettlePolicy,
        now: datetime,
        history: History,
        valuation: Valuation | None,
        may_ask: bool,
    ) -> None:
        self.reply = reply
        self.stored = stored
        self.draft: dict[str, Any] = {name: getattr(stored, name) for name in _WRITABLE}
        self.policy = policy
        self.now = now
        self.history = history
        self.valuation = valuation
        self.may_ask = may_ask
        self.status = reply.payment_status
        self.known = known_status(self.status)
        self.paid = reply.actually_paid
        self.attached = False
        self.reason: str | None = None
        self.credit: Decimal | None = None
        self.events: list[str | None] = []
        self.notify = False
        self.admin: list[AdminMessage] = []
        self.values: dict[str, Any] = {}
        self.warnings: list[str] = []

    def _done(self, outcome: Outcome) -> SettlementDecision:
        updates = {
            name: value
            for name, value in self.draft.items()
            if value != getattr(self.stored, name)
        }
        return SettlementDecision(
            outcome=outcome,
            reason=self.reason,
            updates=updates,
            credit_usd=self.credit,
            events=tuple(self.events),
            notify_user=self.notify,
            attached=self.attached,
            admin=tuple(self.admin),
            values=dict(self.values),
            warnings=tuple(self.warnings),
        )

    # --- decisions ------------------------------------------------------------------------------

    def run(self) -> SettlementDecision:
        if is_child(self.reply, self.stored):
            return self._child()
        self._check_amounts()
        if self._stale():
            self.warnings.append(
                f"reply of {self.reply.updated_at} is older than one already applied; ignored"
            )
            return self._done(Outcome.UNCHANGED)
        if self.stored.provider_payment_id is None:
            self._attach()
        if self.draft["status"] in FINAL_PAYMENT_STATUSES:
            return self._after_final()
        if price_differs(self.reply, self.stored) and not self.history.reviewed:
            # Until an admin has looked at it; then it settles on our own terms (amount_usd).
            return self._disagree("price_changed", review=True)
        if self.known is None:
            self.warnings.append(f"unknown provider status {self.status!r} (non-final)")
            return self._progress(self.draft["status"])
        if self.known in _NON_FINAL:
            return self._progress(self.known.value)
        if self.known in (PaymentStatus.FINISHED, PaymentStatus.PARTIALLY_PAID):
            return self._paid(self.known)
        return self._close(self.known)

    def _check_amounts(self) -> None:
        # The client validates too; this guards replies built elsewhere (admin tools, IPN).
        for name in _AMOUNTS:
            value = getattr(self.reply, name)
            if value is None:
                continue
            try:
                if to_decimal(value) < 0:
                    raise MalformedReply(f"negative {name}")
            except InvalidAmount:
                raise MalformedReply(f"non-finite {name}") from None

    def _stale(self) -> bool:
        """The poller reads the provider before it takes the row lock: a user's "check status"
        may have settled a newer reply meanwhile."""
        said, applied = self.reply.updated_at, self.stored.provider_updated_at
        return said is not None and applied is not None and aware(said) < applied

    def _attach(self) -> None:
        """The create reply (or the payment found by order_id) for a row that had none."""
        r, d = self.reply, self.draft
        if not r.pay_address or r.pay_amount is None or r.pay_amount <= 0:
            raise MalformedReply("created payment lacks pay_address or pay_amount")
        d["provider_payment_id"] = r.payment_id
        d["pay_address"] = r.pay_address[:256]
        d["payin_extra_id"] = (r.payin_extra_id or None) and r.payin_extra_id[:128]
        d["pay_amount"] = r.pay_amount
        d["expires_at"] = expiry_of(r, self.stored.created_at)
        if d["status"] == PaymentStatus.CREATE_FAILED:
            # We gave up looking, yet the provider has it: track it (its address was never
            # shown unless the create call returned it, so no money can be lost either way).
            self.warnings.append("provider payment found late")
            d["status"] = PaymentStatus.CREATING
            d["completed_at"] = None
        self.attached = True

    def _progress(self, new_status: str) -> SettlementDecision:
        if new_status == PaymentStatus.CREATING:
            new_status = PaymentStatus.WAITING  # attached with an unknown status
        changed = self._observation_changed() or self.attached
        self.draft["status"] = new_status
        self._observe()
        self._reschedule()
        if not changed:
            return self._done(Outcome.UNCHANGED)
        self.events.append(None)
        self.notify = True
        return self._done(Outcome.UPDATED)

    def _paid(self, status: PaymentStatus) -> SettlementDecision:
        """Settled by the provider with money (or its claim of it): the money rules decide."""
        decision = decide_paid(
            "finished" if status == PaymentStatus.FINISHED else "partially_paid",
            amount_usd=self.stored.amount_usd,
            pay_amount=self._base(),
            paid=self.paid,
            policy=self.policy.money,
        )
        self.reason = decision.reason
        if decision.action is Action.REVIEW:
            self._value_what_arrived()
            self.draft["needs_review"] = True
            self._final(status, None, decision.reason)
            self.notify = True
            self.admin.append(AdminMessage(REVIEW_KIND, str(decision.reason)))
            return self._done(Outcome.HELD)
        assert decision.credit_usd is not None
        self.credit = decision.credit_usd
        self._final(status, decision.credit_usd, decision.reason)
        self.notify = True
        if decision.reason == "overpaid_credited":  # admins hear of every credit above the price
            self.admin.append(AdminMessage(ALERT_KIND, decision.reason))
        return self._done(Outcome.CREDITED)

    def _value_what_arrived(self) -> None:
        """The admin decides with what arrived valued at the invoice's rate and now."""
        paid = self.paid
        self.values = {
            "invoice_value_usd": invoice_value(self.stored.amount_usd, paid, self._base()),
            "current_value_usd": None,
            "current_rate_unavailable": True,
        }
        if paid is None:
            return
        if paid <= 0:
            self.values.update(current_value_usd=Decimal("0.00"), current_rate_unavailable=False)
            return
        known = self.valuation
        if known is None or known.paid != paid:
            if self.may_ask:
                raise _Ask(self.stored.currency_code, paid)
            return
        self.values.update(current_value_usd=known.usd, current_rate_unavailable=known.usd is None)

    def _close(self, status: PaymentStatus) -> SettlementDecision:
        if status in LATE_CHECKED and late_money(status, self.paid):
            # Ended by the provider, yet some money arrived: never dropped, an admin decides.
            self.reason = "ended_with_payment"
            self._value_what_arrived()
            self.draft["needs_review"] = True
            self._final(status, None, self.reason)
            self._late_schedule()
            self.notify = True
            self.admin.append(AdminMessage(REVIEW_KIND, self.reason))
            return self._done(Outcome.HELD)
        self.reason = status.value
        self._final(status, None, None)
        self._late_schedule()
        self.notify = True
        return self._done(Outcome.CLOSED)

    def _after_final(self) -> SettlementDecision:
        d = self.draft
        if self.status == d["provider_status"] and _same_amount(self.paid, d["actually_paid"]):
            self._late_schedule()
            return self._done(Outcome.UNCHANGED)
        credited = d["credited_usd"] is not None and d["credited_usd"] > 0
        if credited:
            same_status = self.status == d["status"]  # our settled status, not the last word
            reason = "amount_changed_after_credit" if same_status else "changed_after_credit"
        elif late_money(self.status, self.paid):
            reason = "paid_after_final"  # nothing that arrived is dropped: an admin decides
        elif d["needs_review"]:
            reason = "changed_under_review"
        else:  # e.g. expired → failed: no money either way, keep the audit trail only
            if "after_final" not in self.history.seen:
                self.events.append("after_final")
            self._late_schedule()
            return self._done(Outcome.UNCHANGED)
        late = reason == "paid_after_final"
        if late and reason not in self.history.seen:
            self._value_what_arrived()
        # Keep the provider's latest word (the status stays ours): an admin deciding the review
        # must see, and credit, what has arrived by now, not what had when it closed.
        self._observe()
        self._late_schedule()
        decision = self._disagree(reason, review=late)
        if late and decision.outcome is Outcome.ALERTED:
            # "it arrived late; an admin is reviewing it"
            return dataclasses.replace(decision, notify_user=True)
        return decision

    def _disagree(self, reason: str, *, review: bool) -> SettlementDecision:
        """Record and alert once per (reason, status, amount); never move money."""
        self.reason = reason
        if self.draft["status"] not in FINAL_PAYMENT_STATUSES:
            self._reschedule()
        if reason in self.history.seen:  # decided already, or still waiting: nothing new
            return self._done(Outcome.UNCHANGED)
        self.draft["needs_review"] = True  # something new: (re)open the review
        self.warnings.append(f"{reason} ({self.status})")
        self.events.append(reason)
        self.admin.append(AdminMessage(REVIEW_KIND if review else ALERT_KIND, reason))
        return self._done(Outcome.ALERTED)

    def _child(self) -> SettlementDecision:
        r = self.reply
        note = f"child_payment:{r.payment_id}"
        self.reason = "child_payment"
        if note in self.history.seen:
            return self._done(Outcome.UNCHANGED)
        self.draft["needs_review"] = True
        self.events.append(note)
        extra = {
            "child_payment_id": r.payment_id,
            "child_status": self.status,
            "child_actually_paid": r.actually_paid,
            "child_price_amount": r.price_amount,
        }
        self.admin.append(AdminMessage(ALERT_KIND, "child_payment", extra))
        return self._done(Outcome.ALERTED)

    # --- the draft ------------------------------------------------------------------------------

    def _base(self) -> Decimal | None:
        stored: Decimal | None = self.draft["pay_amount"]
        base = stored if stored else self.reply.pay_amount
        return base if base else None

    def _observation_changed(self) -> bool:
        return self.status != self.draft["provider_status"] or not _same_amount(
            self.paid, self.draft["actually_paid"]
        )

    def _observe(self) -> None:
        d = self.draft
        d["provider_status"] = self.status[:64]
        if self.paid is not None:
            d["actually_paid"] = self.paid
        if self.reply.updated_at is not None:
            d["provider_updated_at"] = aware(self.reply.updated_at)
        d["updated_at"] = self.now

    def _unlease(self) -> None:
        self.draft.update(lease_until=None, check_attempts=0, last_error=None)

    def _reschedule(self) -> None:
        d = self.draft
        d["next_check_at"] = self.policy.schedule.next_check(
            self.now, self.stored.created_at, d["expires_at"]
        )
        self._unlease()

    def _late_schedule(self) -> None:
        """A deposit that ended without money is asked about again until the provider's window
        closes (Schedule.late_next); any other final one is not polled."""
        d = self.draft
        uncredited = d["credited_usd"] is None or d["credited_usd"] <= 0
        if d["status"] in LATE_CHECKED and uncredited:
            ended = d["completed_at"] or self.now
            d["next_check_at"] = self.policy.schedule.late_next(
                self.now, ended, self.stored.created_at
            )
        else:
            d["next_check_at"] = None
        self._unlease()

    def _final(self, status: PaymentStatus, credited: Decimal | None, note: str | None) -> None:
        d = self.draft
        d["status"] = status
        d["credited_usd"] = credited
        self._observe()
        d["completed_at"] = self.now
        d["next_check_at"] = None
        self._unlease()
        self.events.append(note)


__all__ = [
    "FIXED_RATE_LIFETIME",
    "FLOATING_LIFETIME",
    "LATE_CHECKED",
    "AdminMessage",
    "AskRate",
    "History",
    "Outcome",
    "SettlementDecision",
    "Stored",
    "Valuation",
    "aware",
    "decide",
    "expiry_of",
    "is_child",
    "needs_history",
    "price_differs",
]
