"""Read side of deposits: what the bot shows a user or an admin about a payment.

Nothing here commits or calls the provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import FINAL_PAYMENT_STATUSES, Currency, Payment, PaymentEvent, User

# Wallet URI schemes (BIP-21 style: scheme:address?amount=<coin units>).
_AMOUNT_SCHEMES = {
    "BTC": "bitcoin",
    "LTC": "litecoin",
    "DOGE": "dogecoin",
    "BCH": "bitcoincash",
    "DASH": "dash",
    "ZEC": "zcash",
}
_WEI = Decimal(10) ** 18
MAX_LIST = 100


def plain(value: Decimal) -> str:
    """An exact amount without exponent or trailing zeros: 0.00106700 → '0.001067'."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def trim(value: Decimal | None) -> Decimal | None:
    """A NUMERIC(38,18) value without its padding zeros."""
    return None if value is None else Decimal(plain(value))


def payment_uri(
    code: str, address: str | None, amount: Decimal | None, *, memo: str | None = None
) -> str | None:
    """What the QR code encodes. A plain address where no scheme applies, and always when a memo
    is needed: wallets ignore unknown URI parameters, and a lost memo is a lost deposit."""
    if not address:
        return None
    code = code.upper()
    if memo or amount is None or amount <= 0:
        return address
    scheme = _AMOUNT_SCHEMES.get(code)
    if scheme is not None:
        return f"{scheme}:{address}?amount={plain(amount)}"
    if code == "ETH":  # EIP-681: the native value in wei, an integer
        wei = amount * _WEI
        if wei == wei.to_integral_value():
            return f"ethereum:{address}?value={int(wei)}"
    return address


@dataclass(frozen=True, slots=True)
class PaymentView:
    id: int
    internal_id: str
    user_id: int
    user_telegram_id: int
    status: str
    provider_status: str | None
    amount_usd: Decimal
    credited_usd: Decimal | None
    currency: str
    currency_name: str
    needs_memo: bool
    pay_amount: Decimal | None
    actually_paid: Decimal | None
    pay_address: str | None
    memo: str | None
    payment_uri: str | None
    provider_payment_id: str | None
    needs_review: bool
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    check_attempts: int
    last_error: str | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_PAYMENT_STATUSES


@dataclass(frozen=True, slots=True)
class EventView:
    status: str
    note: str | None
    created_at: datetime
    raw: dict[str, Any]


def view_of(payment: Payment, user: User, currency: Currency) -> PaymentView:
    pay_amount = trim(payment.pay_amount)
    return PaymentView(
        id=payment.id,
        internal_id=payment.internal_payment_id,
        user_id=payment.user_id,
        user_telegram_id=user.telegram_id,
        status=payment.status,
        provider_status=payment.provider_status,
        amount_usd=payment.amount_usd,
        credited_usd=payment.credited_usd,
        currency=payment.currency_code,
        currency_name=currency.display_name,
        needs_memo=currency.needs_memo or payment.payin_extra_id is not None,
        pay_amount=pay_amount,
        actually_paid=trim(payment.actually_paid),
        pay_address=payment.pay_address,
        memo=payment.payin_extra_id,
        payment_uri=payment_uri(
            payment.currency_code, payment.pay_address, pay_amount, memo=payment.payin_extra_id
        ),
        provider_payment_id=payment.provider_payment_id,
        needs_review=payment.needs_review,
        expires_at=payment.expires_at,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
        completed_at=payment.completed_at,
        check_attempts=payment.check_attempts,
        last_error=payment.last_error,
    )


def _joined() -> Select[Payment, User, Currency]:
    return (
        select(Payment, User, Currency)
        .join(User, User.id == Payment.user_id)
        .join(Currency, Currency.code == Payment.currency_code)
        .execution_options(populate_existing=True)
    )


async def _views(
    session: AsyncSession, stmt: Select[Payment, User, Currency]
) -> list[PaymentView]:
    return [view_of(p, u, c) for p, u, c in (await session.execute(stmt)).all()]


async def get_view(session: AsyncSession, payment_id: int) -> PaymentView | None:
    found = await _views(session, _joined().where(Payment.id == payment_id))
    return found[0] if found else None


async def find_view(session: AsyncSession, ref: str | int) -> PaymentView | None:
    """By row id (int), internal id (PAY_...) or the provider's payment id (digits)."""
    if isinstance(ref, int):
        return await get_view(session, ref)
    ref = ref.strip()
    if ref.upper().startswith("PAY_"):
        condition = Payment.internal_payment_id == "PAY" + ref[3:].lower()
    elif ref.isascii() and ref.isdigit() and len(ref) <= 30:
        condition = Payment.provider_payment_id == str(int(ref))
    else:
        return None
    found = await _views(session, _joined().where(condition))
    return found[0] if found else None


async def recent_for_user(
    session: AsyncSession, user_id: int, limit: int = 10
) -> list[PaymentView]:
    """A user's deposits, newest first."""
    limit = min(max(limit, 1), MAX_LIST)
    stmt = _joined().where(Payment.user_id == user_id).order_by(Payment.id.desc()).limit(limit)
    return await _views(session, stmt)


async def list_by_status(
    session: AsyncSession,
    statuses: Iterable[str] | None = None,
    *,
    needs_review: bool | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[PaymentView]:
    """Admin listing (`/payments [status]`), newest first."""
    stmt = _joined()
    wanted = [s.strip().lower() for s in statuses or ()]
    if wanted:
        stmt = stmt.where(Payment.status.in_(wanted))
    if needs_review is not None:
        stmt = stmt.where(Payment.needs_review.is_(needs_review))
    stmt = stmt.order_by(Payment.id.desc()).offset(max(offset, 0)).limit(min(max(limit, 1), 100))
    return await _views(session, stmt)


async def history(session: AsyncSession, payment_id: int, limit: int = 50) -> list[EventView]:
    """Observed provider statuses of one payment, oldest first (admin detail view)."""
    stmt = (
        select(PaymentEvent)
        .where(PaymentEvent.payment_id == payment_id)
        .order_by(PaymentEvent.id)
        .limit(min(max(limit, 1), 500))
    )
    return [
        EventView(e.status, e.note, e.created_at, e.raw)
        for e in (await session.execute(stmt)).scalars()
    ]
