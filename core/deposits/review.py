"""An admin's decision on a deposit that needs one (``needs_review``).

Settlement never guesses with money (core.deposits.rules): a partial payment under the ``hold``
policy, a finished one with more or less than the tolerance allows or nothing paid, money that
arrived after the deposit ended, or a provider reply that disagrees with a settled payment is
flagged and sent to the admin chat, with what arrived valued at the invoice's rate and at the
current rate. Here an admin ends the review:

- ``credit``: a held payment that was never credited gets what arrived, at the payment's own
  rate, at most the invoiced amount (an overpayment's rest is the admin's to post with /adjust),
  under the payment's ledger key: exactly once, whoever (poller or admin) gets there first.
- ``close``: no money moves; the review ends (a wrong alert, or settled by hand with /adjust).

Each decision is one transaction under the payment's row lock, recorded as a payment event with
the admin's id; a second decision is refused and names the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import auth, outbox
from core.config import Settings
from core.db.models import Payment, PaymentEvent, PaymentStatus, User
from core.deposits import notify as deposit_notify
from core.deposits.settlement import REVIEW_NOTE, credit_payment, pro_rata
from core.errors import InvalidTransition, NotFound


class ReviewDecision(StrEnum):
    CREDIT = "credit"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class ReviewResult:
    payment_id: int
    internal_id: str
    decision: ReviewDecision
    credited: Decimal | None  # posted by this decision
    balance: Decimal | None  # the user's balance after it


# Settled by the provider, money may have arrived, and none was handed back: only these can be
# credited. A payment still in progress under review is only closed; the poller settles it.
_CREDITABLE = frozenset(
    {
        PaymentStatus.PARTIALLY_PAID,
        PaymentStatus.FINISHED,
        PaymentStatus.EXPIRED,
        PaymentStatus.FAILED,
    }
)


# Refunded, or (late money) still on its way at the provider: nothing to credit yet; the late
# checks re-open the review with buttons once it settles.
_NOT_YET = frozenset(
    {
        PaymentStatus.REFUNDED,
        PaymentStatus.WAITING,
        PaymentStatus.CONFIRMING,
        PaymentStatus.CONFIRMED,
        PaymentStatus.SENDING,
    }
)


class _Amounts(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def provider_status(self) -> str | None: ...
    @property
    def amount_usd(self) -> Decimal: ...
    @property
    def credited_usd(self) -> Decimal | None: ...
    @property
    def actually_paid(self) -> Decimal | None: ...
    @property
    def pay_amount(self) -> Decimal | None: ...


def creditable(p: _Amounts) -> Decimal | None:
    """What ``credit`` would post: the USD value of what last arrived at the payment's own rate,
    capped at the requested amount; None when nothing can be credited (not settled by the
    provider, refunded, already credited, nothing or an unknown amount arrived)."""
    if p.status not in _CREDITABLE or p.provider_status in _NOT_YET:
        return None
    if p.credited_usd is not None and p.credited_usd > 0:
        return None
    if not p.actually_paid or not p.pay_amount:
        return None
    value = min(p.amount_usd, pro_rata(p.amount_usd, p.actually_paid, p.pay_amount))
    return value if value > 0 else None


async def review_options(
    session: AsyncSession, payment_id: int
) -> tuple[bool, Decimal | None] | None:
    """(still under review, what ``credit`` would post) for the admin chat's buttons; None for
    an unknown payment."""
    p = await session.get(Payment, payment_id)
    if p is None:
        return None
    return p.needs_review, creditable(p) if p.needs_review else None


async def _last_decision(session: AsyncSession, payment_id: int) -> dict[str, object]:
    """decided_by and decided_at of the review's end, when an admin ended it."""
    row = (
        await session.execute(
            text(
                "SELECT (raw->>'admin_telegram_id')::bigint AS admin, created_at"
                " FROM payment_events WHERE payment_id = :id AND starts_with(note, :prefix)"
                " ORDER BY id DESC LIMIT 1"
            ),
            {"id": payment_id, "prefix": REVIEW_NOTE},
        )
    ).first()
    return {} if row is None else {"decided_by": row.admin, "decided_at": row.created_at}


async def decide(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    payment_id: int,
    decision: ReviewDecision,
    *,
    admin_telegram_id: int,
) -> ReviewResult:
    """Raises Forbidden (not_admin), NotFound (payment), InvalidTransition: not_under_review
    (decided_by, decided_at when an admin decided it), nothing_to_credit."""
    auth.require_admin(settings.telegram.admin_ids, admin_telegram_id)
    async with sessions.begin() as session:
        found = (
            await session.execute(
                select(Payment, User)
                .join(User, User.id == Payment.user_id)
                .where(Payment.id == payment_id)
                .with_for_update(of=Payment)
            )
        ).first()
        if found is None:
            raise NotFound("payment", payment_id=payment_id)
        p, user = found
        if not p.needs_review:
            raise InvalidTransition(
                "not_under_review",
                payment_id=p.id,
                internal_id=p.internal_payment_id,
                **await _last_decision(session, p.id),
            )
        credited: Decimal | None = None
        balance: Decimal | None = None
        if decision is ReviewDecision.CREDIT:
            amount = creditable(p)
            if amount is None:
                raise InvalidTransition(
                    "nothing_to_credit",
                    payment_id=p.id,
                    internal_id=p.internal_payment_id,
                    status=p.status,
                )
            entry = await credit_payment(
                session, p, amount, actually_paid=p.actually_paid, reviewed_by=admin_telegram_id
            )
            p.credited_usd = amount
            credited, balance = amount, entry.balance_after
        p.needs_review = False
        session.add(
            PaymentEvent(
                payment_id=p.id,
                status=p.status[:64],
                raw={"admin_telegram_id": admin_telegram_id, "credited_usd": str(credited)},
                note=f"{REVIEW_NOTE}{decision.value}",
            )
        )
        if credited is not None or p.credited_usd is None:
            # The user waited on this one: tell them how it ended.
            reason = f"review_{decision.value}"
            await outbox.enqueue(
                session,
                chat_id=user.telegram_id,
                kind=deposit_notify.STATUS_KIND,
                payload=deposit_notify.facts(p, previous=p.status, reason=reason, balance=balance),
                dedup_key=f"deposit:{p.id}:review:{decision.value}",
            )
    return ReviewResult(p.id, p.internal_payment_id, decision, credited, balance)
