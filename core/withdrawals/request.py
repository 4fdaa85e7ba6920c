"""A withdrawal request: checks, then the row, the hold and the admin card in one transaction."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import fees, ledger
from core.addresses import ValidatedAddress, validate_address
from core.config import PaymentsSettings, Settings
from core.db.models import Currency, TxType, User, WithdrawalRequest
from core.errors import Forbidden, IdempotencyConflict, InsufficientFunds, LimitExceeded, NotFound
from core.ids import new_withdrawal_id
from core.withdrawals import notify, queries
from core.withdrawals.views import WithdrawalView, view_of


def hold_key(withdrawal_id: int) -> str:
    return f"withdrawal:{withdrawal_id}:hold"


def rules_for(payments: PaymentsSettings, currency: Currency) -> fees.FeeRules:
    return fees.rules_for(
        payments,
        currency.code,
        network_fee_usd=currency.network_fee_usd,
        min_withdrawal_usd=currency.min_withdrawal_usd,
    )


def destination(currency: Currency, address: str, memo: str | None) -> ValidatedAddress:
    return validate_address(
        address,
        network=currency.network,
        currency=currency.code,
        needs_memo=currency.needs_memo,
        memo=memo,
        wallet_regex=currency.wallet_regex,
    )


async def _check_limits(
    session: AsyncSession, payments: PaymentsSettings, user_id: int, amount: Decimal
) -> None:
    used = await queries.usage(session, user_id)
    if used.open_count >= payments.max_pending_withdrawals:
        raise LimitExceeded(
            "too_many_pending", limit=payments.max_pending_withdrawals, open=used.open_count
        )
    cap = payments.daily_withdrawal_cap_usd
    if used.last_24h + amount > cap:
        raise LimitExceeded(
            "daily_cap",
            cap=cap,
            used=used.last_24h,
            remaining=max(cap - used.last_24h, Decimal("0.00")),
        )


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: int,
    currency_code: str,
    amount: Decimal | str,
    address: str,
    memo: str | None,
    request_key: str | None = None,
) -> WithdrawalView:
    value = fees.usd_amount(amount)
    currency = await queries.active_currency(session, currency_code)
    quote = fees.quote(value, rules_for(settings.payments, currency), currency=currency.code)
    dest = destination(currency, address, memo)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id=user_id)
    if user.is_banned:
        raise Forbidden("banned", user_id=user_id)
    # The lock comes before the limit checks: they read what earlier requests committed.
    balance = await queries.lock_balance(session, user_id)
    if request_key is not None:
        # Same-user requests are serialised by the lock, so a repeat sees the first one.
        earlier = await queries.get_view_by_request_key(session, user_id, request_key)
        if earlier is not None:
            if (earlier.amount, earlier.currency_code, earlier.wallet_address) != (
                quote.amount,
                currency.code,
                dest.address,
            ):
                raise IdempotencyConflict("request_key_reused", key=request_key)
            return earlier
    await _check_limits(session, settings.payments, user_id, value)
    if balance < value:
        raise InsufficientFunds(balance=balance, amount=value)
    row = await session.scalar(
        insert(WithdrawalRequest)
        .values(
            internal_withdrawal_id=new_withdrawal_id(),
            user_id=user_id,
            amount_usd=quote.amount,
            currency_code=currency.code,
            wallet_address=dest.address,
            memo=dest.memo,
            network_fee_usd=quote.network_fee,
            service_fee_usd=quote.service_fee,
            total_fee_usd=quote.total_fee,
            final_amount_usd=quote.final_amount,
            request_key=request_key,
        )
        .returning(WithdrawalRequest)
    )
    assert row is not None  # INSERT ... RETURNING yields the row or raises
    await ledger.post(
        session,
        user_id=user_id,
        type=TxType.WITHDRAWAL,
        amount=-quote.amount,
        idempotency_key=hold_key(row.id),
        withdrawal_id=row.id,
        metadata={"internal_id": row.internal_withdrawal_id, "step": "hold"},
    )
    view = view_of(row, user)
    await notify.enqueue_card(session, settings, view)
    return view
