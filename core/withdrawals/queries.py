"""SQL for withdrawals. Nothing here commits: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Currency, User, WithdrawalRequest, WithdrawalStatus
from core.errors import CurrencyUnavailable
from core.withdrawals.states import OPEN_STATUSES, RELEASED_STATUSES
from core.withdrawals.views import WithdrawalView, view_of

W = WithdrawalRequest
DAY = timedelta(hours=24)

# Every request of a user queues here first: the pending count and the daily sum read after
# this lock see every request committed before it, so neither limit can be raced past.
_LOCK_BALANCE = text("SELECT balance_usd FROM user_balances WHERE user_id = :user_id FOR UPDATE")


@dataclass(frozen=True, slots=True)
class Usage:
    open_count: int
    last_24h: Decimal  # requested in the last 24 hours, not rejected or cancelled


def _with_user() -> Select[WithdrawalRequest, User]:
    return select(W, User).join(User, User.id == W.user_id)


def _views(rows: Iterable[Any]) -> list[WithdrawalView]:
    return [view_of(row[0], row[1]) for row in rows]


async def get_view(session: AsyncSession, withdrawal_id: int) -> WithdrawalView | None:
    found = _views((await session.execute(_with_user().where(W.id == withdrawal_id))).all())
    return found[0] if found else None


async def get_view_by_internal_id(
    session: AsyncSession, internal_id: str
) -> WithdrawalView | None:
    stmt = _with_user().where(W.internal_withdrawal_id == internal_id.strip())
    found = _views((await session.execute(stmt)).all())
    return found[0] if found else None


async def get_view_by_request_key(
    session: AsyncSession, user_id: int, request_key: str
) -> WithdrawalView | None:
    stmt = _with_user().where(W.user_id == user_id, W.request_key == request_key)
    found = _views((await session.execute(stmt)).all())
    return found[0] if found else None


async def list_for_user(session: AsyncSession, user_id: int, limit: int) -> list[WithdrawalView]:
    stmt = _with_user().where(W.user_id == user_id).order_by(W.id.desc()).limit(limit)
    return _views((await session.execute(stmt)).all())


async def list_by_status(
    session: AsyncSession, statuses: Iterable[WithdrawalStatus], limit: int
) -> list[WithdrawalView]:
    """Oldest first: the queue admins work through."""
    wanted = [WithdrawalStatus(s).value for s in statuses]
    stmt = _with_user().where(W.status.in_(wanted)).order_by(W.created_at, W.id).limit(limit)
    return _views((await session.execute(stmt)).all())


async def currency(session: AsyncSession, code: str) -> Currency | None:
    return await session.get(Currency, code.strip().upper())


async def active_currency(session: AsyncSession, code: str) -> Currency:
    """Raises CurrencyUnavailable: unknown, inactive."""
    found = await currency(session, code)
    if found is None:
        raise CurrencyUnavailable("unknown", currency=code.strip().upper())
    if not found.is_active or found.disabled_by_admin:
        raise CurrencyUnavailable("inactive", currency=found.code)
    return found


async def lock_balance(session: AsyncSession, user_id: int) -> Decimal:
    """The balance, with the user's balance row locked until commit (no row: nothing to spend)."""
    value = (await session.execute(_LOCK_BALANCE, {"user_id": user_id})).scalar_one_or_none()
    return Decimal("0.00") if value is None else Decimal(value)


async def usage(session: AsyncSession, user_id: int) -> Usage:
    open_values = [s.value for s in OPEN_STATUSES]
    released = [s.value for s in RELEASED_STATUSES]
    counted = and_(W.status.not_in(released), W.created_at > func.now() - DAY)
    stmt = select(
        func.count().filter(W.status.in_(open_values)),
        func.coalesce(func.sum(W.amount_usd).filter(counted), 0),
    ).where(W.user_id == user_id)
    row = (await session.execute(stmt)).one()
    return Usage(open_count=int(row[0]), last_24h=Decimal(row[1]))


async def network_of(session: AsyncSession, withdrawal_id: int) -> str | None:
    stmt = (
        select(Currency.network)
        .join(W, W.currency_code == Currency.code)
        .where(W.id == withdrawal_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
