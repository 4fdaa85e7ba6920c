"""Deposits through NOWPayments: create, find lost creates, check status, read.

Creating a deposit never leaves a row that could be credited wrongly:
1. validate (money rules, active coin, provider minimum + margin, configured limits);
2. insert the row as 'creating' and COMMIT, so a crash from here on leaves a trace;
3. POST /payment once (never retried) with order_id = the row's internal id;
4. store the reply through ``settle`` (status 'waiting', address, amount, expiry).
A definite refusal makes the row 'create_failed' (final, never credited). A lost reply
(``outcome_unknown``) leaves it 'creating': the poller looks the payment up by order_id
(``reconcile_creating``) and attaches it, or marks the row 'create_failed' after
``Schedule.creating_deadline_seconds``. The user was never shown an address in that case, so
giving up cannot strand money.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import currencies
from core.auth import require_admin
from core.config import Settings
from core.db.models import Currency, Payment, PaymentEvent, PaymentStatus, User
from core.deposits import notify as deposit_notify
from core.deposits.settlement import (
    LATE_CHECKED,
    Outcome,
    SettlePolicy,
    provider_rates,
    settle,
    utcnow,
)
from core.deposits.views import PaymentView, find_view, get_view
from core.errors import (
    Forbidden,
    InvalidAmount,
    LimitExceeded,
    NotFound,
    PaybotError,
    ProviderRefused,
    ProviderUnavailable,
)
from core.ids import new_payment_id
from core.money import parse_usd, require_usd, round_fee
from core.nowpayments import (
    CreatePaymentRequest,
    MalformedReply,
    MinimumAmountError,
    NowPaymentsClient,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
)
from core.nowpayments import Payment as Reply

log = logging.getLogger(__name__)

CURRENCY_UNAVAILABLE = "CURRENCY_UNAVAILABLE"
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 10


def provider_minimum(currency: Currency, margin_percent: Decimal) -> Decimal | None:
    """The provider's minimum plus the safety margin (the rate moves between quote and create),
    rounded up to the cent; None when the provider gave none."""
    if currency.min_amount_usd is None:
        return None
    return round_fee(currency.min_amount_usd * (1 + margin_percent / 100))


def _usd(amount: Decimal | str) -> Decimal:
    value = parse_usd(amount) if isinstance(amount, str) else require_usd(amount)
    if value <= 0:
        raise InvalidAmount("zero" if value == 0 else "negative")
    return value


async def create_deposit(
    sessions: async_sessionmaker[AsyncSession],
    client: NowPaymentsClient,
    settings: Settings,
    *,
    user_id: int,
    amount_usd: Decimal | str,
    currency_code: str,
    fixed_rate: bool = False,
    policy: SettlePolicy,
    now: datetime | None = None,
) -> PaymentView:
    """Create a deposit and return what to show: pay_amount, pay_address, memo, expires_at,
    payment_uri.

    Raises InvalidAmount (below_minimum with ``minimum``, above_maximum with ``maximum``, ...),
    CurrencyUnavailable (unknown, inactive), NotFound (user), Forbidden (banned),
    ProviderRefused (below_minimum, currency_unavailable, rejected with ``code``),
    ProviderUnavailable (unreachable, rate_limited, not_authorized; outcome_unknown with
    ``payment``: the poller will attach or fail it and notify the user).
    """
    payments = settings.payments
    amount = _usd(amount_usd)
    if amount < payments.min_deposit_usd:
        raise InvalidAmount("below_minimum", minimum=payments.min_deposit_usd)
    if amount > payments.max_deposit_usd:
        raise InvalidAmount("above_maximum", maximum=payments.max_deposit_usd)
    now = now or utcnow()
    async with sessions.begin() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id=user_id)
        if user.is_banned:
            raise Forbidden("banned")
        currency = await currencies.get_active(session, currency_code)
        minimum = provider_minimum(currency, payments.provider_min_margin_percent)
        if minimum is not None and amount < minimum:
            raise InvalidAmount(
                "below_minimum",
                minimum=max(minimum, payments.min_deposit_usd),
                currency=currency.code,
            )
        internal_id = new_payment_id(now)
        request = CreatePaymentRequest(  # built before the row: a bad request leaves nothing
            price_amount=amount,
            price_currency="usd",
            pay_currency=currency.code.lower(),
            order_id=internal_id,
            is_fixed_rate=True if fixed_rate else None,
        )
        payment = Payment(
            internal_payment_id=internal_id,
            user_id=user_id,
            amount_usd=amount,
            currency_code=currency.code,
            status=PaymentStatus.CREATING,
            # The poller keeps off while the create call may still be in flight.
            next_check_at=policy.schedule.creating_grace(now),
        )
        session.add(payment)
        await session.flush()
        payment_id = payment.id
    try:
        reply = await client.create_payment(request)
    except ProviderError as exc:
        raise await _create_failed(sessions, payment_id, internal_id, currency.code, exc) from None
    try:
        result = await settle(sessions, payment_id, reply, policy, quiet=True)
    except MalformedReply as exc:  # created, but not usable as it came: look it up later
        await _reconcile_soon(sessions, payment_id, repr(exc))
        raise ProviderUnavailable("outcome_unknown", payment=internal_id) from None
    return result.view


async def _create_failed(
    sessions: async_sessionmaker[AsyncSession],
    payment_id: int,
    internal_id: str,
    code: str,
    exc: ProviderError,
) -> PaybotError:
    """Record a failed create; return the domain error to raise."""
    if exc.outcome_unknown:
        log.warning(
            "deposit %s: create outcome unknown: %r",
            internal_id,
            exc,
            extra={"payment_id": payment_id},
        )
        await _reconcile_soon(sessions, payment_id, repr(exc))
        return ProviderUnavailable("outcome_unknown", payment=internal_id)
    error: PaybotError
    if isinstance(exc, MinimumAmountError):
        error = ProviderRefused("below_minimum", currency=code)
    elif isinstance(exc, ProviderBadRequest) and exc.code == CURRENCY_UNAVAILABLE:
        error = ProviderRefused("currency_unavailable", currency=code)
    elif isinstance(exc, ProviderBadRequest):
        error = ProviderRefused("rejected", currency=code, code=exc.code)
    elif isinstance(exc, ProviderRateLimited):
        error = ProviderUnavailable("rate_limited", retry_after=exc.retry_after)
    elif isinstance(exc, ProviderAuthError):
        error = ProviderUnavailable("not_authorized")
    else:
        error = ProviderUnavailable("unreachable")
    log.info("deposit %s: create refused: %r", internal_id, exc, extra={"payment_id": payment_id})
    await mark_create_failed(sessions, payment_id, repr(exc), notify=False)
    return error


async def _reconcile_soon(
    sessions: async_sessionmaker[AsyncSession], payment_id: int, error: str
) -> None:
    async with sessions.begin() as session:
        payment = await _locked(session, payment_id)
        if payment is not None and payment.status == PaymentStatus.CREATING:
            payment.next_check_at = utcnow()
            payment.last_error = error[:1000]


async def _locked(session: AsyncSession, payment_id: int) -> Payment | None:
    stmt = (
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def mark_create_failed(
    sessions: async_sessionmaker[AsyncSession], payment_id: int, error: str, *, notify: bool
) -> bool:
    """'creating' → 'create_failed' (final, never credited). False if it was no longer
    'creating' (attached meanwhile)."""
    async with sessions.begin() as session:
        payment = await _locked(session, payment_id)
        if payment is None or payment.status != PaymentStatus.CREATING:
            return False
        now = utcnow()
        payment.status = PaymentStatus.CREATE_FAILED
        payment.last_error = error[:1000]
        payment.completed_at = now
        payment.updated_at = now
        payment.next_check_at = None
        payment.lease_until = None
        session.add(PaymentEvent(payment_id=payment_id, status="create_failed", note=error[:1000]))
        if notify:
            user = await session.get(User, payment.user_id)
            assert user is not None
            payload = deposit_notify.facts(
                payment, previous=PaymentStatus.CREATING.value, reason="not_created"
            )
            message = deposit_notify.status_message(payment, user, payload, "create_failed")
            await deposit_notify.enqueue(session, message)
        return True


async def find_by_order_id(
    client: NowPaymentsClient, order_id: str, created_at: datetime
) -> Reply | None:
    """The provider's payment for our order_id (list_payments, needs the JWT). Children of it
    (repeated deposits share the order_id) are skipped."""
    date_from = (created_at - timedelta(days=1)).date().isoformat()
    date_to = (created_at + timedelta(days=2)).date().isoformat()
    for page in range(LIST_MAX_PAGES):
        listing = await client.list_payments(
            limit=LIST_PAGE_SIZE,
            page=page,
            sort_by="created_at",
            order_by="desc",
            date_from=date_from,
            date_to=date_to,
        )
        for item in listing.data:
            if item.order_id == order_id and item.parent_payment_id is None:
                return item
        if listing.skipped_order(order_id):  # ours may be the unreadable one: not "absent"
            raise MalformedReply(f"the provider's item for order {order_id} is malformed")
        last = listing.pages_count is not None and page + 1 >= listing.pages_count
        if last or listing.received < LIST_PAGE_SIZE:
            break
    return None


async def reconcile_creating(
    sessions: async_sessionmaker[AsyncSession],
    client: NowPaymentsClient,
    policy: SettlePolicy,
    payment_id: int,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Resolve a 'creating' row: attach the provider's payment found by order_id (UPDATED, and
    the user is sent the address), or after the deadline mark it create_failed (CLOSED), else
    UNCHANGED (look again later). Provider errors propagate unless the deadline has passed."""
    async with sessions() as session:
        payment = await session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("payment", payment_id=payment_id)
        if payment.status != PaymentStatus.CREATING:
            return Outcome.UNCHANGED
        internal_id, created_at = payment.internal_payment_id, payment.created_at
    now = now or utcnow()
    expired = policy.schedule.creating_expired(now, created_at)
    try:
        found = await find_by_order_id(client, internal_id, created_at)
    except ProviderError as exc:
        if not expired:
            raise
        await mark_create_failed(
            sessions, payment_id, f"deadline; lookup failed: {exc!r}", notify=True
        )
        return Outcome.CLOSED
    if found is not None:
        log.info("deposit %s: found at the provider by order_id", internal_id)
        return (await settle(sessions, payment_id, found, policy, now=now)).outcome
    if expired:
        await mark_create_failed(
            sessions, payment_id, "deadline; not found by order_id", notify=True
        )
        return Outcome.CLOSED
    return Outcome.UNCHANGED


def _unavailable(exc: ProviderError) -> ProviderUnavailable:
    if isinstance(exc, ProviderRateLimited):
        return ProviderUnavailable("rate_limited", retry_after=exc.retry_after)
    if isinstance(exc, MalformedReply):
        return ProviderUnavailable("malformed_reply")
    return ProviderUnavailable("unreachable")


async def _refresh(
    sessions: async_sessionmaker[AsyncSession],
    client: NowPaymentsClient,
    policy: SettlePolicy,
    view: PaymentView,
) -> PaymentView:
    """Ask the provider about this payment now and settle; the payment as it is afterwards."""
    try:
        if view.provider_payment_id is None:
            await reconcile_creating(sessions, client, policy, view.id)
            return await _view(sessions, view.id)
        reply = await client.get_payment(view.provider_payment_id)
        return (await settle(sessions, view.id, reply, policy, rates=provider_rates(client))).view
    except ProviderError as exc:
        log.info(
            "deposit %s: status check failed: %r",
            view.internal_id,
            exc,
            extra={"payment_id": view.id},
        )
        raise _unavailable(exc) from None


# One atomic upsert per press: concurrent presses serialise on the user's row, so the count
# holds across handlers and processes. A window older than a minute starts over.
_COUNT_CHECK = text(
    """
    INSERT INTO status_check_limits AS l (user_id, window_start, used)
    VALUES (:user_id, now(), 1)
    ON CONFLICT (user_id) DO UPDATE
       SET window_start = CASE WHEN l.window_start <= now() - interval '1 minute'
                               THEN now() ELSE l.window_start END,
           used = CASE WHEN l.window_start <= now() - interval '1 minute'
                       THEN 1 ELSE l.used + 1 END
    RETURNING used
    """
)


async def _count_check(
    sessions: async_sessionmaker[AsyncSession], user_id: int, limit: int
) -> None:
    """Raises LimitExceeded("status_checks") past ``limit`` provider checks this minute."""
    async with sessions.begin() as session:
        used = (await session.execute(_COUNT_CHECK, {"user_id": user_id})).scalar_one()
    if used > limit:
        raise LimitExceeded("status_checks", limit=limit)


def late_checkable(view: PaymentView, policy: SettlePolicy, now: datetime | None = None) -> bool:
    """Ended without money, never credited, and still inside the provider's window: money may
    yet arrive, so a check asks the provider."""
    return (
        view.status in LATE_CHECKED
        and view.credited_usd is None
        and policy.schedule.late_window_open(now or utcnow(), view.created_at)
    )


async def check_status(
    sessions: async_sessionmaker[AsyncSession],
    client: NowPaymentsClient,
    policy: SettlePolicy,
    *,
    user_telegram_id: int,
    payment_id: int | str,
    now: datetime | None = None,
) -> PaymentView:
    """The user's "check status" button: ask the provider now and settle. A final payment is
    returned as stored, except one that ended without money inside the provider's window (late
    money goes to admin review). At most ``policy.status_checks_per_minute`` provider checks per
    user per minute. ``payment_id``: row id or internal id.
    Raises NotFound (payment), Forbidden (not_owner), LimitExceeded (status_checks, with
    ``limit``), ProviderUnavailable (unreachable, rate_limited, malformed_reply)."""
    async with sessions() as session:
        view = await find_view(session, payment_id)
    if view is None:
        raise NotFound("payment")
    if view.user_telegram_id != user_telegram_id:
        raise Forbidden("not_owner")
    if view.is_final and not late_checkable(view, policy, now or utcnow()):
        return view
    await _count_check(sessions, view.user_id, policy.status_checks_per_minute)
    return await _refresh(sessions, client, policy, view)


async def recheck(
    sessions: async_sessionmaker[AsyncSession],
    client: NowPaymentsClient,
    policy: SettlePolicy,
    *,
    admin_id: int,
    payment_ref: int | str,
) -> PaymentView:
    """Admin tool: ask the provider about any payment, final or not, and settle (a final one
    that the provider now reports differently is alerted, never debited).
    Raises Forbidden (not_admin), NotFound, ProviderUnavailable."""
    require_admin(policy.admin_ids, admin_id)
    async with sessions() as session:
        view = await find_view(session, payment_ref)
    if view is None:
        raise NotFound("payment")
    return await _refresh(sessions, client, policy, view)


async def _view(sessions: async_sessionmaker[AsyncSession], payment_id: int) -> PaymentView:
    async with sessions() as session:
        view = await get_view(session, payment_id)
    if view is None:
        raise NotFound("payment")
    return view


# --- reads for the bot --------------------------------------------------------------------------


async def payment_view(
    sessions: async_sessionmaker[AsyncSession], ref: int | str
) -> PaymentView | None:
    """By row id, internal id (PAY_...) or provider payment id."""
    async with sessions() as session:
        return await find_view(session, ref)


__all__ = [
    "PaymentView",
    "check_status",
    "create_deposit",
    "find_by_order_id",
    "late_checkable",
    "mark_create_failed",
    "payment_view",
    "provider_minimum",
    "recheck",
    "reconcile_creating",
]
