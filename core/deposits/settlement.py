"""Settlement: the one idempotent function that turns a provider reply into our state.

The poller, the user's "check status" button, deposit creation (storing the create reply) and
admin tools all call ``settle``. It runs in one transaction that locks the payment row
(SELECT ... FOR UPDATE), so concurrent settles of one payment serialise; the credit is a ledger
posting with the key ``deposit:<payment id>``, so even a bug upstream cannot credit twice.

Rules: the money rules are core.deposits.rules (a pure decision, tested exhaustively); here they
are applied. In short:
- finished / partially_paid: credit at most the invoiced amount plus the tolerance, or send the
  payment to admin review (final, nothing credited, needs_review, Credit / Close buttons) with
  what arrived valued at the invoice's rate and at the current rate (GET /estimate, asked
  outside the row lock; "unavailable" when that fails). The user is told what happens next.
- expired, failed, refunded, cancelled: final, no credit. Expired and failed deposits stay on a
  late schedule (Schedule.late_next) until the provider's window ends: money that arrives after
  a final status goes to review (paid_after_final) and the user is told.
- Unknown statuses are recorded and treated as non-final.
- A reply that disagrees with a final payment (another status, another amount) changes no money:
  it is recorded and, where money may be concerned, sent to the admin chat (never a debit).
- Child payments (a repeated deposit to the same address: parent_payment_id = ours) are not
  credited automatically: the admin decides (the provider's own advice).
- A reply that is not about this payment (id, order_id, currency) or carries a non-finite or
  negative amount changes nothing: MalformedReply is raised and the transaction rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, outbox
from core.config import Settings
from core.db.models import (
    FINAL_PAYMENT_STATUSES,
    Currency,
    Payment,
    PaymentEvent,
    PaymentStatus,
    TxType,
    User,
)
from core.deposits import notify as deposit_notify
from core.deposits.notify import ALERT_KIND, REVIEW_KIND, STATUS_KIND
from core.deposits.rules import (
    Action,
    MoneyPolicy,
    decide_paid,
    invoice_value,
    late_money,
    pro_rata,
)
from core.deposits.schedule import Schedule
from core.deposits.views import PaymentView, view_of
from core.errors import InvalidAmount, NotFound
from core.money import round_credit, to_decimal
from core.nowpayments import MalformedReply, NowPaymentsClient, ProviderError, known_status
from core.nowpayments import Payment as Reply
from core.nowpayments import PaymentStatus as ProviderStatus

log = logging.getLogger(__name__)


FLOATING_LIFETIME = timedelta(days=7)
FIXED_RATE_LIFETIME = timedelta(minutes=20)
_NON_FINAL = frozenset(
    {
        ProviderStatus.WAITING,
        ProviderStatus.CONFIRMING,
        ProviderStatus.CONFIRMED,
        ProviderStatus.SENDING,
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
class SettlePolicy:
    """Safe defaults: hold partial payments, credit no more than the invoice within tolerance."""

    partial_payment_policy: Literal["credit", "hold"] = "hold"
    overpayment_tolerance_percent: Decimal = Decimal("1")
    credit_overpayment: bool = False
    admin_chat_id: int | None = None
    admin_ids: frozenset[int] = frozenset()
    schedule: Schedule = field(default_factory=Schedule)
    status_checks_per_minute: int = 5  # the user's "Check status" presses that ask the provider

    @property
    def money(self) -> MoneyPolicy:
        return MoneyPolicy(
            partial_payment_policy=self.partial_payment_policy,
            tolerance_percent=self.overpayment_tolerance_percent,
            credit_overpayment=self.credit_overpayment,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, schedule: Schedule | None = None
    ) -> SettlePolicy:
        payments = settings.payments
        return cls(
            partial_payment_policy=payments.partial_payment_policy,
            overpayment_tolerance_percent=payments.overpayment_tolerance_percent,
            credit_overpayment=payments.credit_overpayment,
            admin_chat_id=settings.telegram.admin_chat_id,
            admin_ids=frozenset(settings.telegram.admin_ids),
            schedule=schedule or Schedule.from_settings(payments),
            status_checks_per_minute=payments.status_checks_per_minute,
        )


@dataclass(frozen=True, slots=True)
class SettleResult:
    outcome: Outcome
    view: PaymentView
    credited: Decimal | None = None  # posted by this call
    reason: str | None = None


BeforeCommit = Callable[[], Awaitable[None]]
# (coin code, amount in coin) → its USD value now, or None when the provider cannot say.
Rates = Callable[[str, Decimal], Awaitable[Decimal | None]]


def provider_rates(client: NowPaymentsClient) -> Rates:
    """The provider's estimate (GET /estimate) as Rates; any provider error reads as unknown."""

    async def value(code: str, amount: Decimal) -> Decimal | None:
        try:
            estimate = await client.estimate(amount, code.lower(), "usd")
        except ProviderError as exc:
            log.info("estimate %s %s failed: %r", amount, code, exc)
            return None
        return round_credit(estimate.estimated_amount)

    return value


@dataclass(frozen=True, slots=True)
class _Valuation:
    paid: Decimal
    usd: Decimal | None


class _NeedValuation(Exception):
    """Raised before any write: value ``paid`` now (outside the row lock), then settle again."""

    def __init__(self, code: str, paid: Decimal) -> None:
        super().__init__(code, paid)
        self.code, self.paid = code, paid


def utcnow() -> datetime:
    return datetime.now(UTC)


# The payment event an admin's review decision writes (core.deposits.review): "review:<decision>".
REVIEW_NOTE = "review:"


def ledger_key(payment_id: int) -> str:
    return f"deposit:{payment_id}"


async def credit_payment(
    session: AsyncSession, p: Payment, amount: Decimal, **facts: Any
) -> ledger.LedgerEntry:
    """The one ledger credit a deposit can get: under ``deposit:<id>``, so it happens once,
    whoever (settlement or an admin's review) posts it first."""
    return await ledger.post(
        session,
        user_id=p.user_id,
        type=TxType.DEPOSIT,
        amount=amount,
        idempotency_key=ledger_key(p.id),
        payment_id=p.id,
        metadata={
            "internal_id": p.internal_payment_id,
            "currency": p.currency_code,
            "pay_amount": p.pay_amount,
            **facts,
        },
    )


def _aware(moment: datetime) -> datetime:
    # The provider writes "...Z"; a timestamp without zone is taken as UTC, not local time.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def expiry_of(reply: Reply, created_at: datetime) -> datetime:
    """valid_until when given, else creation + 7 days (20 minutes for fixed-rate payments)."""
    if reply.valid_until is not None:
        return _aware(reply.valid_until)
    fixed = bool(reply.is_fixed_rate or reply.is_fee_paid_by_user)
    start = _aware(reply.created_at) if reply.created_at is not None else created_at
    return start + (FIXED_RATE_LIFETIME if fixed else FLOATING_LIFETIME)


async def settle(
    sessions: async_sessionmaker[AsyncSession],
    payment_id: int,
    reply: Reply,
    policy: SettlePolicy,
    *,
    now: datetime | None = None,
    quiet: bool = False,
    before_commit: BeforeCommit | None = None,
    rates: Rates | None = None,
) -> SettleResult:
    """Apply one provider reply to payment ``payment_id``, exactly once in effect.

    ``quiet``: no user notification for a change (the caller shows the result itself).
    ``before_commit`` is awaited inside the transaction (tests use it to cancel mid-settle).
    ``rates`` values what arrived at the current rate for an admin review; it is never called
    under the row lock: the first pass rolls back, the value is fetched, the second pass applies
    (a second pass that needs another value says "unavailable"). Without it: "unavailable".
    Raises NotFound, MalformedReply (nothing changed), IdempotencyConflict (a bug: rolled back).
    """
    valuation: _Valuation | None = None
    moment = now or utcnow()
    for attempt in range(2):
        try:
            async with sessions.begin() as session:
                row = await _lock(session, payment_id)
                if row is None:
                    raise NotFound("payment", payment_id=payment_id)
                payment, user, currency = row
                may_ask = rates is not None and attempt == 0
                run = _Run(
                    session, payment, user, reply, policy, moment, quiet, valuation, may_ask
                )
                outcome = await run.apply()
                if before_commit is not None:
                    await before_commit()
            return SettleResult(
                outcome, view_of(payment, user, currency), run.credited, run.reason
            )
        except _NeedValuation as need:
            assert rates is not None
            valuation = _Valuation(need.paid, await rates(need.code, need.paid))
    raise AssertionError("unreachable: the second pass never asks for a valuation")


async def _lock(session: AsyncSession, payment_id: int) -> tuple[Payment, User, Currency] | None:
    stmt = (
        select(Payment, User, Currency)
        .join(User, User.id == Payment.user_id)
        .join(Currency, Currency.code == Payment.currency_code)
        .where(Payment.id == payment_id)
        .with_for_update(of=Payment)
        .execution_options(populate_existing=True)
    )
    found = (await session.execute(stmt)).first()
    return None if found is None else (found[0], found[1], found[2])


def _same_amount(a: Decimal | None, b: Decimal | None) -> bool:
    return (a or Decimal(0)) == (b or Decimal(0))


class _Run:
    """One settlement: the row is locked, nothing is committed here."""

    def __init__(
        self,
        session: AsyncSession,
        payment: Payment,
        user: User,
        reply: Reply,
        policy: SettlePolicy,
        now: datetime,
        quiet: bool,
        valuation: _Valuation | None = None,
        may_ask: bool = False,
    ) -> None:
        self.session = session
        self.p = payment
        self.user = user
        self.reply = reply
        self.policy = policy
        self.now = now
        self.quiet = quiet
        self.status = reply.payment_status
        self.known = known_status(self.status)
        self.paid = reply.actually_paid
        self.previous = payment.status
        self.attached = False
        self.credited: Decimal | None = None
        self.balance: Decimal | None = None
        self.reason: str | None = None
        self.valuation = valuation
        self.may_ask = may_ask
        self.values: dict[str, Any] = {}  # what arrived in USD, for an admin review

    # --- decisions ------------------------------------------------------------------------------

    async def apply(self) -> Outcome:
        if self._is_child():
            return await self._child()
        self._check_amounts()
        if self._stale():
            log.info(
                "deposit %s: reply of %s is older than one already applied; ignored",
                self.p.internal_payment_id,
                self.reply.updated_at,
                extra={"payment_id": self.p.id},
            )
            return Outcome.UNCHANGED
        if self.p.provider_payment_id is None:
            self._attach()
        if self.p.status in FINAL_PAYMENT_STATUSES:
            return await self._after_final()
        if self._price_differs() and not await self._reviewed():
            # Until an admin has looked at it; then it settles on our own terms (amount_usd).
            return await self._disagree("price_changed", review=True)
        if self.known is None:
            log.warning(
                "deposit %s: unknown provider status %r (non-final)",
                self.p.internal_payment_id,
                self.status,
                extra={"payment_id": self.p.id},
            )
            return await self._progress(self.p.status)
        if self.known in _NON_FINAL:
            return await self._progress(self.known.value)
        if self.known is ProviderStatus.FINISHED:
            return await self._paid(PaymentStatus.FINISHED)
        if self.known is ProviderStatus.PARTIALLY_PAID:
            return await self._paid(PaymentStatus.PARTIALLY_PAID)
        return await self._close()

    def _is_child(self) -> bool:
        r, p = self.reply, self.p
        ours = p.provider_payment_id
        if r.parent_payment_id is not None:
            if ours is not None and r.parent_payment_id == ours and r.payment_id != ours:
                return True
            raise MalformedReply(f"reply for child of {r.parent_payment_id}, not ours")
        if ours is not None and r.payment_id != ours:
            raise MalformedReply(f"reply for payment {r.payment_id}, expected {ours}")
        if r.order_id is not None and r.order_id != p.internal_payment_id:
            raise MalformedReply("reply order_id differs")
        if ours is None and r.order_id is None:
            raise MalformedReply("cannot match a reply without order_id to a new payment")
        if r.pay_currency is not None and r.pay_currency != p.currency_code.lower():
            raise MalformedReply("reply pay_currency differs")
        return False

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
        said, applied = self.reply.updated_at, self.p.provider_updated_at
        return said is not None and applied is not None and _aware(said) < applied

    def _price_differs(self) -> bool:
        r = self.reply
        if r.price_amount is None or r.price_currency not in (None, "usd"):
            return False
        return r.price_amount != self.p.amount_usd

    def _attach(self) -> None:
        """The create reply (or the payment found by order_id) for a row that had none."""
        r, p = self.reply, self.p
        if not r.pay_address or r.pay_amount is None or r.pay_amount <= 0:
            raise MalformedReply("created payment lacks pay_address or pay_amount")
        p.provider_payment_id = r.payment_id
        p.pay_address = r.pay_address[:256]
        p.payin_extra_id = (r.payin_extra_id or None) and r.payin_extra_id[:128]
        p.pay_amount = r.pay_amount
        p.expires_at = expiry_of(r, p.created_at)
        if p.status == PaymentStatus.CREATE_FAILED:
            # We gave up looking, yet the provider has it: track it (its address was never
            # shown unless the create call returned it, so no money can be lost either way).
            log.warning(
                "deposit %s: provider payment found late",
                p.internal_payment_id,
                extra={"payment_id": p.id},
            )
            p.status = PaymentStatus.CREATING
            p.completed_at = None
        self.attached = True

    async def _progress(self, new_status: str) -> Outcome:
        if new_status == PaymentStatus.CREATING:
            new_status = PaymentStatus.WAITING  # attached with an unknown status
        changed = self._observation_changed() or self.attached
        self.p.status = new_status
        self._observe()
        self._reschedule()
        if not changed:
            return Outcome.UNCHANGED
        self._event()
        await self._notify_user()
        return Outcome.UPDATED

    async def _paid(self, status: PaymentStatus) -> Outcome:
        """Settled by the provider with money (or its claim of it): core.deposits.rules decides."""
        decision = decide_paid(
            "finished" if status == PaymentStatus.FINISHED else "partially_paid",
            amount_usd=self.p.amount_usd,
            pay_amount=self._base(),
            paid=self.paid,
            policy=self.policy.money,
        )
        self.reason = decision.reason
        if decision.action is Action.REVIEW:
            self._value_what_arrived()  # may roll this pass back to ask the provider first
            self.p.needs_review = True
            self._final(status, None, decision.reason)
            await self._notify_user()
            await self._admin(REVIEW_KIND, str(decision.reason))
            return Outcome.HELD
        assert decision.credit_usd is not None
        await self._credit(decision.credit_usd)
        self._final(status, decision.credit_usd, decision.reason)
        await self._notify_user()
        if decision.reason == "overpaid_credited":  # admins hear of every credit above the price
            await self._admin(ALERT_KIND, decision.reason)
        return Outcome.CREDITED

    def _value_what_arrived(self) -> None:
        """The admin decides with what arrived valued at the invoice's rate and now."""
        paid = self.paid
        self.values = {
            "invoice_value_usd": invoice_value(self.p.amount_usd, paid, self._base()),
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
                raise _NeedValuation(self.p.currency_code, paid)
            return
        self.values.update(current_value_usd=known.usd, current_rate_unavailable=known.usd is None)

    async def _close(self) -> Outcome:
        assert self.known is not None
        status = PaymentStatus(self.known.value)
        if status in LATE_CHECKED and late_money(status, self.paid):
            # Ended by the provider, yet some money arrived: never dropped, an admin decides.
            self.reason = "ended_with_payment"
            self._value_what_arrived()
            self.p.needs_review = True
            self._final(status, None, self.reason)
            self._late_schedule()
            await self._notify_user()
            await self._admin(REVIEW_KIND, self.reason)
            return Outcome.HELD
        self.reason = self.known.value
        self._final(status, None, None)
        self._late_schedule()
        await self._notify_user()
        return Outcome.CLOSED

    async def _after_final(self) -> Outcome:
        p = self.p
        if self.status == p.provider_status and _same_amount(self.paid, p.actually_paid):
            self._late_schedule()
            return Outcome.UNCHANGED
        credited = p.credited_usd is not None and p.credited_usd > 0
        if credited:
            same_status = self.status == p.status  # our settled status, not the last word
            reason = "amount_changed_after_credit" if same_status else "changed_after_credit"
        elif late_money(self.status, self.paid):
            reason = "paid_after_final"  # nothing that arrived is dropped: an admin decides
        elif p.needs_review:
            reason = "changed_under_review"
        else:  # e.g. expired → failed: no money either way, keep the audit trail only
            if not await self._seen("after_final"):
                self._event("after_final")
            self._late_schedule()
            return Outcome.UNCHANGED
        late = reason == "paid_after_final"
        if late and not await self._seen(reason):
            self._value_what_arrived()  # before any write of this pass
        # Keep the provider's latest word (the status stays ours): an admin deciding the review
        # must see, and credit, what has arrived by now, not what had when it closed.
        self._observe()
        self._late_schedule()
        outcome = await self._disagree(reason, review=late)
        if late and outcome is Outcome.ALERTED:
            await self._notify_user()  # "it arrived late; an admin is reviewing it"
        return outcome

    async def _disagree(self, reason: str, *, review: bool) -> Outcome:
        """Record and alert once per (reason, status, amount); never move money."""
        self.reason = reason
        if self.p.status not in FINAL_PAYMENT_STATUSES:
            self._reschedule()
        if await self._seen(reason):  # decided already, or still waiting: nothing new
            return Outcome.UNCHANGED
        self.p.needs_review = True  # something new: (re)open the review
        log.warning(
            "deposit %s: %s (%s)",
            self.p.internal_payment_id,
            reason,
            self.status,
            extra={"payment_id": self.p.id},
        )
        self._event(reason)
        await self._admin(REVIEW_KIND if review else ALERT_KIND, reason)
        return Outcome.ALERTED

    async def _child(self) -> Outcome:
        r = self.reply
        note = f"child_payment:{r.payment_id}"
        self.reason = "child_payment"
        if await self._seen(note):
            return Outcome.UNCHANGED
        self.p.needs_review = True
        self._event(note)
        await self._admin(
            ALERT_KIND,
            "child_payment",
            child_payment_id=r.payment_id,
            child_status=self.status,
            child_actually_paid=r.actually_paid,
            child_price_amount=r.price_amount,
        )
        return Outcome.ALERTED

    # --- writes ---------------------------------------------------------------------------------

    def _base(self) -> Decimal | None:
        base = self.p.pay_amount if self.p.pay_amount else self.reply.pay_amount
        return base if base else None

    def _observation_changed(self) -> bool:
        return self.status != self.p.provider_status or not _same_amount(
            self.paid, self.p.actually_paid
        )

    def _observe(self) -> None:
        self.p.provider_status = self.status[:64]
        if self.paid is not None:
            self.p.actually_paid = self.paid
        if self.reply.updated_at is not None:
            self.p.provider_updated_at = _aware(self.reply.updated_at)
        self.p.updated_at = self.now

    def _reschedule(self) -> None:
        p = self.p
        p.next_check_at = self.policy.schedule.next_check(self.now, p.created_at, p.expires_at)
        p.lease_until = None
        p.check_attempts = 0
        p.last_error = None

    def _late_schedule(self) -> None:
        """A deposit that ended without money is asked about again until the provider's window
        closes (Schedule.late_next); any other final one is not polled."""
        p = self.p
        uncredited = p.credited_usd is None or p.credited_usd <= 0
        if p.status in LATE_CHECKED and uncredited:
            ended = p.completed_at or self.now
            p.next_check_at = self.policy.schedule.late_next(self.now, ended, p.created_at)
        else:
            p.next_check_at = None
        p.lease_until = None
        p.check_attempts = 0
        p.last_error = None

    def _final(self, status: PaymentStatus, credited: Decimal | None, note: str | None) -> None:
        p = self.p
        p.status = status
        p.credited_usd = credited
        self._observe()
        p.completed_at = self.now
        p.next_check_at = None
        p.lease_until = None
        p.check_attempts = 0
        p.last_error = None
        self._event(note)

    async def _credit(self, amount: Decimal) -> None:
        entry = await credit_payment(
            self.session, self.p, amount, status=self.status, actually_paid=self.paid
        )
        self.credited = amount if entry.created else None
        self.balance = entry.balance_after

    def _event(self, note: str | None = None) -> None:
        # Python mode + jsonable: mode="json" warns on the client's Decimal validators.
        raw = outbox.jsonable(self.reply.model_dump(exclude_none=True))
        self.session.add(
            PaymentEvent(payment_id=self.p.id, status=self.status[:64], raw=raw, note=note)
        )

    async def _reviewed(self) -> bool:
        """Whether an admin has ended a review of this payment (core.deposits.review)."""
        found = await self.session.execute(
            text(
                "SELECT 1 FROM payment_events WHERE payment_id = :id"
                " AND starts_with(note, :prefix) LIMIT 1"
            ),
            {"id": self.p.id, "prefix": REVIEW_NOTE},
        )
        return found.first() is not None

    async def _seen(self, note: str) -> bool:
        """Whether this (status, note, actually_paid) was recorded before: re-checks of a
        disagreement must not pile up events or alerts."""
        await self.session.flush()
        found = await self.session.execute(
            text(
                "SELECT 1 FROM payment_events WHERE payment_id = :id AND status = :status"
                " AND note = :note AND (raw->>'actually_paid') IS NOT DISTINCT FROM :paid LIMIT 1"
            ),
            {
                "id": self.p.id,
                "status": self.status[:64],
                "note": note,
                "paid": None if self.paid is None else str(self.paid),
            },
        )
        return found.first() is not None

    def _facts(self) -> dict[str, Any]:
        return deposit_notify.facts(
            self.p,
            previous=self.previous,
            reason=self.reason,
            balance=self.balance,
            with_address=self.attached,  # the user may not have seen where to pay yet
        )

    async def _notify_user(self) -> None:
        if not self.quiet:
            await deposit_notify.to_user(
                self.session, self.p, self.user, self._facts(), self.status
            )

    async def _admin(self, kind: str, reason: str, **extra: Any) -> None:
        payload = {**self._facts(), "reason": reason, **self.values}
        await deposit_notify.to_admins(
            self.session,
            self.policy.admin_chat_id,
            kind,
            self.p,
            self.user,
            payload,
            reply_status=self.status,
            reply_paid=self.paid,
            **extra,
        )


__all__ = [
    "ALERT_KIND",
    "LATE_CHECKED",
    "REVIEW_KIND",
    "STATUS_KIND",
    "BeforeCommit",
    "Outcome",
    "Rates",
    "SettlePolicy",
    "SettleResult",
    "credit_payment",
    "expiry_of",
    "ledger_key",
    "pro_rata",
    "provider_rates",
    "settle",
]
