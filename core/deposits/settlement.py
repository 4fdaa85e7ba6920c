"""Settlement: the one idempotent function that turns a provider reply into our state.

The poller, the user's "check status" button, deposit creation (storing the create reply) and
admin tools all call ``settle``. It runs in one transaction that locks the payment row
(SELECT ... FOR UPDATE), so concurrent settles of one payment serialise; the credit is a ledger
posting with the key ``deposit:<payment id>``, so even a bug upstream cannot credit twice.

What a reply does is decided by core.deposits.decision.decide (pure, tested without a database;
the rules are described there and in core.deposits.rules); ``apply`` here executes the decision
inside the locked transaction: the payment's fields, the ledger credit, the payment events, the
outbox messages. A review that needs what arrived valued at today's rate asks the provider
outside the row lock (the first pass writes nothing), then decides again.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    BindParameter,
    String,
    Text,
    TextClause,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from core import ledger, outbox
from core.config import Settings
from core.db.models import (
    Currency,
    Payment,
    TxType,
    User,
)
from core.deposits import notify as deposit_notify
from core.deposits.decision import (
    LATE_CHECKED,
    AskRate,
    History,
    Outcome,
    SettlementDecision,
    Stored,
    Valuation,
    decide,
    expiry_of,
    needs_history,
)
from core.deposits.notify import ALERT_KIND, REVIEW_KIND, STATUS_KIND
from core.deposits.rules import MoneyPolicy, pro_rata
from core.deposits.schedule import Schedule
from core.deposits.views import PaymentView, view_of
from core.errors import NotFound
from core.money import round_credit
from core.nowpayments import NowPaymentsClient, ProviderError
from core.nowpayments import Payment as Reply

log = logging.getLogger(__name__)


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
    under the row lock: the first pass decides to ask (writing nothing), the value is fetched,
    the second pass applies (a second pass that needs another value says "unavailable").
    Without it: "unavailable".
    Raises NotFound, MalformedReply (nothing changed), IdempotencyConflict (a bug: rolled back).
    """
    valuation: Valuation | None = None
    moment = now or utcnow()
    for attempt in range(2):
        ask: AskRate | None = None
        async with sessions.begin() as session:
            row = await _lock(session, payment_id)
            if row is None:
                raise NotFound("payment", payment_id=payment_id)
            payment, user, currency = row
            stored = Stored.of(payment)
            history = (
                await _history(session, payment.id, reply)
                if needs_history(reply, stored)
                else None
            )
            decision = decide(
                reply,
                stored,
                policy,
                now=moment,
                history=history,
                valuation=valuation,
                may_ask=rates is not None and attempt == 0,
            )
            if isinstance(decision, AskRate):
                ask = decision
            else:
                credited = await apply(session, payment, user, reply, decision, policy, quiet)
                if before_commit is not None:
                    await before_commit()
        if ask is None:
            assert not isinstance(decision, AskRate)
            view = view_of(payment, user, currency)
            return SettleResult(decision.outcome, view, credited, decision.reason)
        assert rates is not None
        valuation = Valuation(ask.paid, await rates(ask.code, ask.paid))
    raise AssertionError("unreachable: the second pass never asks for a valuation")


# Built once: only the id changes (a select() per settle cost more than the decision).
_LOCK = (
    select(Payment, User, Currency)
    .join(User, User.id == Payment.user_id)
    .join(Currency, Currency.code == Payment.currency_code)
    .where(Payment.id == bindparam("payment_id"))
    .with_for_update(of=Payment)
    .execution_options(populate_existing=True)
)


async def _lock(session: AsyncSession, payment_id: int) -> tuple[Payment, User, Currency] | None:
    found = (await session.execute(_LOCK, {"payment_id": payment_id})).first()
    return None if found is None else (found[0], found[1], found[2])


async def _history(session: AsyncSession, payment_id: int, reply: Reply) -> History:
    """Whether an admin has ended a review of this payment (core.deposits.review), and the notes
    recorded before for this reply's (status, actually_paid): re-checks of a disagreement must
    not pile up events or alerts."""
    rows = await session.execute(
        text(
            "SELECT note, status = :status"
            " AND (raw->>'actually_paid') IS NOT DISTINCT FROM :paid AS same"
            " FROM payment_events WHERE payment_id = :id AND note IS NOT NULL"
        ),
        {
            "id": payment_id,
            "status": reply.payment_status[:64],
            "paid": None if reply.actually_paid is None else str(reply.actually_paid),
        },
    )
    notes = [(str(row.note), bool(row.same)) for row in rows]
    return History(
        reviewed=any(note.startswith(REVIEW_NOTE) for note, _ in notes),
        seen=frozenset(note for note, same in notes if same),
    )


async def apply(
    session: AsyncSession,
    p: Payment,
    user: User,
    reply: Reply,
    decision: SettlementDecision,
    policy: SettlePolicy,
    quiet: bool,
) -> Decimal | None:
    """Execute ``decision`` on the locked row: fields, ledger credit, events, outbox messages.
    Returns what this call credited (None when nothing, or when posted before)."""
    for line in decision.warnings:
        log.warning("deposit %s: %s", p.internal_payment_id, line, extra={"payment_id": p.id})
    previous = p.status
    for name, value in decision.updates.items():
        # Written by _write below; set here as loaded, so the ORM never flushes a second UPDATE.
        set_committed_value(p, name, value)
    credited: Decimal | None = None
    balance: Decimal | None = None
    if decision.credit_usd is not None:
        entry = await credit_payment(
            session,
            p,
            decision.credit_usd,
            status=reply.payment_status,
            actually_paid=reply.actually_paid,
        )
        credited = decision.credit_usd if entry.created else None
        balance = entry.balance_after
    facts = deposit_notify.facts(
        p,
        previous=previous,
        reason=decision.reason,
        balance=balance,
        with_address=decision.attached,  # the user may not have seen where to pay yet
    )
    messages: list[deposit_notify.Message] = []
    if decision.notify_user and not quiet:
        messages.append(deposit_notify.status_message(p, user, facts, reply.payment_status))
    for message in decision.admin:
        found = deposit_notify.admin_message(
            policy.admin_chat_id,
            message.kind,
            p,
            user,
            {**facts, "reason": message.reason, **decision.values},
            reply_status=reply.payment_status,
            reply_paid=reply.actually_paid,
            **message.extra,
        )
        if found is not None:
            messages.append(found)
    await _write(session, p.id, reply, decision, messages)
    return credited


async def _write(
    session: AsyncSession,
    payment_id: int,
    reply: Reply,
    decision: SettlementDecision,
    messages: Sequence[deposit_notify.Message],
) -> None:
    """The payment's new fields, its events and the outbox messages in one statement: one round
    trip instead of an UPDATE, an INSERT per event and one per message (each round trip on the
    settle path costs more than deciding)."""
    columns = tuple(sorted(decision.updates))
    if not (columns or decision.events or messages):
        return
    params: dict[str, Any] = {"id": payment_id}
    params.update({f"v_{name}": decision.updates[name] for name in columns})
    if decision.events:
        # Python mode + jsonable: mode="json" warns on the client's Decimal validators.
        raw = outbox.jsonable(reply.model_dump(exclude_none=True))
        params.update(status=reply.payment_status[:64], raw=json.dumps(raw))
        params["notes"] = list(decision.events)
    if messages:
        params.update(
            chats=[m.chat_id for m in messages],
            kinds=[m.kind for m in messages],
            payloads=[json.dumps(outbox.jsonable(m.payload)) for m in messages],
            keys=[m.dedup_key[:200] for m in messages],
        )
    await session.execute(_write_statement(columns, bool(decision.events), bool(messages)), params)


@functools.cache
def _write_statement(columns: tuple[str, ...], events: bool, messages: bool) -> TextClause:
    """Data-modifying CTEs all run, in the order written (events and messages as listed), even
    though the final SELECT reads none of them. ``columns`` are Stored's field names."""
    table = Payment.__table__
    parts: list[str] = []
    binds: list[BindParameter[Any]] = [bindparam("id", type_=BigInteger)]
    if columns:
        # Names from the table (KeyError for anything else), values bound.
        sets = ", ".join(f"{table.c[name].name} = :v_{name}" for name in columns)
        parts.append(f"u AS (UPDATE payments SET {sets} WHERE id = :id)")  # noqa: S608
        binds += [bindparam(f"v_{name}", type_=table.c[name].type) for name in columns]
    if events:
        parts.append(
            "e AS (INSERT INTO payment_events (payment_id, status, raw, note)"
            " SELECT :id, :status, CAST(:raw AS jsonb), n.note"
            " FROM unnest(:notes) WITH ORDINALITY AS n(note, i) ORDER BY n.i)"
        )
        binds += [
            bindparam("status", type_=String),
            bindparam("raw", type_=Text),
            bindparam("notes", type_=ARRAY(Text)),
        ]
    if messages:
        parts.append(f"m AS ({outbox.ENQUEUE_ROWS})")
        binds += [
            bindparam("chats", type_=ARRAY(BigInteger)),
            bindparam("kinds", type_=ARRAY(Text)),
            bindparam("payloads", type_=ARRAY(Text)),
            bindparam("keys", type_=ARRAY(Text)),
        ]
    return text(f"WITH {', '.join(parts)} SELECT 1").bindparams(*binds)


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
