"""Look-ups for the admin chat: who a Telegram id is, and one user's summary (balance, recent
entries, withdrawals and deposits with totals by status), read from one snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger
from core.admin.stats import StatusTotal, payment_totals, snapshot, totals, withdrawal_totals
from core.auth import Admin
from core.db.models import User
from core.deposits.views import PaymentView, recent_for_user
from core.errors import NotFound
from core.ledger import Balance, LedgerEntry
from core.users import find_user
from core.withdrawals import WithdrawalView
from core.withdrawals import queries as withdrawal_queries

_TRANSACTION_COUNT = text("SELECT count(*) FROM transactions WHERE user_id = :user_id")
_PAYMENT_TOTALS_USER = payment_totals("WHERE user_id = :user_id")
_WITHDRAWAL_TOTALS_USER = withdrawal_totals("WHERE user_id = :user_id")


@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    username: str | None = None
    first_name: str | None = None


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    telegram_id: int
    username: str | None
    first_name: str | None
    is_banned: bool
    blocked_bot: bool
    created_at: datetime

    @property
    def person(self) -> Person:
        return Person(self.telegram_id, self.username, self.first_name)


@dataclass(frozen=True, slots=True)
class UserSummary:
    user: UserInfo
    balance: Balance
    transactions: int
    recent: list[LedgerEntry]
    withdrawals: list[WithdrawalView]
    withdrawal_totals: dict[str, StatusTotal]
    deposits: list[PaymentView]
    deposit_totals: dict[str, StatusTotal]


def person_of(user: User) -> Person:
    return Person(user.telegram_id, user.username, user.first_name)


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        telegram_id=user.telegram_id,
        username=user.username,
        first_name=user.first_name,
        is_banned=user.is_banned,
        blocked_bot=user.blocked_bot,
        created_at=user.created_at,
    )


async def people(session: AsyncSession, telegram_ids: Iterable[int]) -> dict[int, Person]:
    """Names of Telegram users we know (admins are registered when they first act)."""
    wanted = sorted({i for i in telegram_ids if isinstance(i, int) and not isinstance(i, bool)})
    found = {i: Person(i) for i in wanted}
    if wanted:
        rows = await session.execute(
            select(User.telegram_id, User.username, User.first_name).where(
                User.telegram_id.in_(wanted)
            )
        )
        for tg_id, username, first_name in rows.all():
            found[tg_id] = Person(tg_id, username, first_name)
    return found


class Lookups:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def people(self, telegram_ids: Iterable[int]) -> dict[int, Person]:
        """Names only, to say who decided: no admin needed."""
        async with self._sessions() as session:
            return await people(session, telegram_ids)

    async def user_summary(self, query: str, *, admin: Admin, recent: int = 5) -> UserSummary:
        """By Telegram id or @username. Raises NotFound("user")."""
        limit = min(max(recent, 1), 20)
        async with self._sessions() as session, session.begin():
            await snapshot(session)
            user = await find_user(session, query)
            if user is None:
                raise NotFound("user", query=query.strip()[:64])
            params = {"user_id": user.id}
            balance = await ledger.get_balance(session, user.id)
            count = (await session.execute(_TRANSACTION_COUNT, params)).scalar_one()
            page = await ledger.history(session, user.id, limit=limit)
            withdrawals = await withdrawal_queries.list_for_user(session, user.id, limit)
            w_totals = totals((await session.execute(_WITHDRAWAL_TOTALS_USER, params)).all())
            deposits = await recent_for_user(session, user.id, limit)
            d_totals = totals((await session.execute(_PAYMENT_TOTALS_USER, params)).all())
            info = _user_info(user)
        return UserSummary(
            user=info,
            balance=balance,
            transactions=int(count),
            recent=page.entries,
            withdrawals=withdrawals,
            withdrawal_totals=w_totals,
            deposits=deposits,
            deposit_totals=d_totals,
        )
