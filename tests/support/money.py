"""Money set-up through the real services, without a provider: a payment row as a create
would leave it, and provider replies built by hand for ``core.deposits.settlement.settle``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ids import new_payment_id
from core.nowpayments import Payment as Reply

ADDRESSES = {
    "BTC": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "USDTTRC20": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
}
TX_HASHES = {"BTC": "ab" * 32, "USDTTRC20": "ab" * 32}

CURRENCIES = text(
    """
    INSERT INTO currencies (code, name, token, network, decimal_places, needs_memo,
                            min_amount_usd, sort_order)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', 8, false, 2.00, 10),
           ('USDTTRC20', 'Tether USD (TRC20)', 'USDT', 'trx', 6, false, 1.00, 30)
    ON CONFLICT DO NOTHING
    """
)


async def add_currencies(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await session.execute(CURRENCIES)


async def waiting_payment(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    amount: Decimal,
    pay_amount: Decimal,
    provider_id: str,
    *,
    currency: str = "BTC",
) -> int:
    """A payment the provider has created and the user was shown (status waiting)."""
    async with sessions.begin() as session:
        row = await session.execute(
            text(
                """
                INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code,
                                      pay_amount, provider_payment_id, status, provider_status,
                                      pay_address, expires_at, next_check_at)
                VALUES (:iid, :user_id, :amount, :currency, :pay, :pid, 'waiting', 'waiting',
                        :address, now() + interval '7 days', now() + interval '1 hour')
                RETURNING id
                """
            ),
            {
                "iid": new_payment_id(),
                "user_id": user_id,
                "amount": amount,
                "currency": currency,
                "pay": pay_amount,
                "pid": provider_id,
                "address": f"addr-{provider_id}",
            },
        )
        return int(row.scalar_one())


def reply(
    provider_id: str,
    status: str,
    *,
    pay_amount: Decimal,
    actually_paid: Decimal | None = None,
    currency: str = "btc",
    **fields: Any,
) -> Reply:
    return Reply(
        payment_id=provider_id,
        payment_status=status,
        pay_address=f"addr-{provider_id}",
        pay_amount=pay_amount,
        pay_currency=currency,
        actually_paid=actually_paid,
        **fields,
    )
