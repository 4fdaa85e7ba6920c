"""Read models of the ledger: the admins' transactions view (filtered, newest first, keyset
pages) and the export of a period (all users for an admin, one user's own history), streamed in
id order in batches from one snapshot. No aiogram here.

Keyset, not OFFSET: a page is "the rows older (or newer) than this id", so a button pressed
later still shows a well-defined page while new rows arrive, and no page costs more than its
size. The export never holds more than one batch: the caller writes each batch out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import Admin
from core.db.models import Payment, Transaction, TxType, User, WithdrawalRequest
from core.errors import NotFound
from core.users import find_user

PAGE_SIZE = 10
MAX_PAGE_SIZE = 10  # what fits one Telegram message (tests/unit/test_reports.py)
EXPORT_BATCH = 1000
EXPORT_MAX_DAYS = 366  # a year (a leap one too) per file
EXPORT_MAX_ROWS = 200_000  # about 30 MB of CSV: above Telegram's comfort for a bot upload
EXPORT_DEFAULT_DAYS = 30  # /export with no dates: the last 30 days, today included


@dataclass(frozen=True, slots=True)
class LedgerRow:
    id: int
    created_at: datetime
    telegram_id: int
    username: str | None
    type: TxType
    amount: Decimal
    balance_after: Decimal
    reference: str | None  # the payment's or the withdrawal's internal id
    reason: str | None  # what an admin wrote for an adjustment or a bonus


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    """Each part optional. ``since``: a UTC day, included."""

    telegram_id: int | None = None
    type: TxType | None = None
    since: date | None = None


@dataclass(frozen=True, slots=True)
class LedgerPage:
    rows: list[LedgerRow]
    total: int  # rows matching the filter
    newer: int  # matching rows newer than this page
    older: int  # matching rows older than this page

    @property
    def first_position(self) -> int:
        """1-based position of the page's first row among the matching rows, newest first."""
        return self.newer + 1


class PeriodError(ValueError):
    """A period that cannot be exported: ``reason`` is order (since after until) or too_long."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


class ExportTooLarge(Exception):
    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"{rows} rows, at most {limit}")
        self.rows = rows
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Period:
    """UTC days, both included."""

    since: date
    until: date

    @classmethod
    def of(cls, since: date | None, until: date | None, *, today: date) -> Period:
        """Defaults: until today, since ``EXPORT_DEFAULT_DAYS`` before until. Raises
        PeriodError (order, too_long with ``max_days``)."""
        end = until or today
        start = since or end - timedelta(days=EXPORT_DEFAULT_DAYS - 1)
        if start > end:
            raise PeriodError("order", since=start, until=end)
        if (end - start).days + 1 > EXPORT_MAX_DAYS:
            raise PeriodError("too_long", max_days=EXPORT_MAX_DAYS)
        return cls(start, end)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), UTC)

    @property
    def end(self) -> datetime:
        """Exclusive."""
        return datetime.combine(self.until + timedelta(days=1), time(0), UTC)


_Row = Select[int, datetime, int, str | None, str, Decimal, Decimal, str, str | None]


def _columns() -> _Row:
    t, u = Transaction, User
    return (
        select(
            t.id,
            t.created_at,
            u.telegram_id,
            u.username,
            t.type,
            t.amount_usd,
            t.balance_after,
            func.coalesce(Payment.internal_payment_id, WithdrawalRequest.internal_withdrawal_id),
            t.description,
        )
        .join(u, u.id == t.user_id)
        .outerjoin(Payment, Payment.id == t.payment_id)
        .outerjoin(WithdrawalRequest, WithdrawalRequest.id == t.withdrawal_id)
    )


def _row(r: Any) -> LedgerRow:
    return LedgerRow(
        id=r[0],
        created_at=r[1],
        telegram_id=r[2],
        username=r[3],
        type=TxType(r[4]),
        amount=r[5],
        balance_after=r[6],
        reference=r[7],
        reason=r[8],
    )


def _conditions(wanted: TransactionFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.telegram_id is not None:
        found.append(User.telegram_id == wanted.telegram_id)
    if wanted.type is not None:
        found.append(Transaction.type == wanted.type.value)
    if wanted.since is not None:
        found.append(Transaction.created_at >= datetime.combine(wanted.since, time(0), UTC))
    return found


async def _snapshot(session: AsyncSession) -> None:
    """A page and its counts, or every batch of an export, from one moment."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def transactions_page(
    session: AsyncSession,
    wanted: TransactionFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> LedgerPage:
    """Newest first: the rows older than ``before`` (or the newest), or, with ``after``, the
    rows just newer than it. The caller begins the transaction."""
    limit = min(max(limit, 1), MAX_PAGE_SIZE)
    where = _conditions(wanted)
    query = _columns().where(*where)
    if after is not None:
        query = query.where(Transaction.id > after).order_by(Transaction.id.asc())
    else:
        if before is not None:
            query = query.where(Transaction.id < before)
        query = query.order_by(Transaction.id.desc())
    rows = [_row(r) for r in (await session.execute(query.limit(limit))).all()]
    rows.sort(key=lambda row: row.id, reverse=True)
    first = rows[0].id if rows else (after or 0)
    last = rows[-1].id if rows else (before or 0)
    counts = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Transaction.id > first),
                func.count().filter(Transaction.id < last),
            )
            .select_from(Transaction)
            .join(User, User.id == Transaction.user_id)
            .where(*where)
        )
    ).one()
    return LedgerPage(rows, int(counts[0]), int(counts[1]), int(counts[2]))


class LedgerReports:
    """What the bot's transactions view and exports call. Admin methods require the proof
    core.auth.AdminGate hands out (``admin``)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def user_telegram_id(self, query: str, *, admin: Admin) -> int:
        """A Telegram id or @username to the user's Telegram id. Raises NotFound."""
        async with self._sessions() as session:
            user = await find_user(session, query)
        if user is None:
            raise NotFound("user", query=query.strip()[:64])
        return user.telegram_id

    async def transactions(
        self,
        wanted: TransactionFilter,
        *,
        admin: Admin,
        before: int | None = None,
        after: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> LedgerPage:
        async with self._sessions() as session, session.begin():
            await _snapshot(session)
            return await transactions_page(
                session, wanted, before=before, after=after, limit=limit
            )

    @asynccontextmanager
    async def export_all(
        self, period: Period, *, admin: Admin, max_rows: int = EXPORT_MAX_ROWS
    ) -> AsyncIterator[Export]:
        """Every user's rows of the period. Raises ExportTooLarge."""
        async with self._export(period, None, max_rows) as export:
            yield export

    @asynccontextmanager
    async def export_own(
        self, period: Period, *, user_id: int, max_rows: int = EXPORT_MAX_ROWS
    ) -> AsyncIterator[Export]:
        """One user's own rows (``users.id``: the caller's own user, never a typed id)."""
        async with self._export(period, user_id, max_rows) as export:
            yield export

    @asynccontextmanager
    async def _export(
        self, period: Period, user_id: int | None, max_rows: int
    ) -> AsyncIterator[Export]:
        async with self._sessions() as session, session.begin():
            await _snapshot(session)
            export = Export(session, period, user_id)
            count = await export.count()
            if count > max_rows:
                raise ExportTooLarge(count, max_rows)
            yield export


class Export:
    """The rows of a period in id order, ``batch`` at a time (keyset), from one snapshot."""

    def __init__(self, session: AsyncSession, period: Period, user_id: int | None) -> None:
        self._session = session
        self.period = period
        self._user_id = user_id
        self.rows = 0

    def _where(self) -> list[ColumnElement[bool]]:
        found = [
            Transaction.created_at >= self.period.start,
            Transaction.created_at < self.period.end,
        ]
        if self._user_id is not None:
            found.append(Transaction.user_id == self._user_id)
        return found

    async def count(self) -> int:
        query = select(func.count()).select_from(Transaction).where(*self._where())
        self.rows = int((await self._session.execute(query)).scalar_one())
        return self.rows

    async def batches(self, batch: int = EXPORT_BATCH) -> AsyncIterator[list[LedgerRow]]:
        after = 0
        while True:
            query = (
                _columns()
                .where(*self._where(), Transaction.id > after)
                .order_by(Transaction.id)
                .limit(batch)
            )
            rows = [_row(r) for r in (await self._session.execute(query)).all()]
            if not rows:
                return
            yield rows
            if len(rows) < batch:
                return
            after = rows[-1].id


__all__ = [
    "EXPORT_MAX_DAYS",
    "EXPORT_MAX_ROWS",
    "PAGE_SIZE",
    "Export",
    "ExportTooLarge",
    "LedgerPage",
    "LedgerReports",
    "LedgerRow",
    "Period",
    "PeriodError",
    "TransactionFilter",
    "transactions_page",
]
