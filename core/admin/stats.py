"""/stats: totals by status, what users hold, and the reconcile result, from one snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, outbox
from core.auth import Admin
from core.ledger import Mismatch
from core.withdrawals import OPEN_FOR_ADMIN


@dataclass(frozen=True, slots=True)
class StatusTotal:
    count: int
    amount: Decimal  # USD requested (deposits: amount_usd; withdrawals: amount_usd)


@dataclass(frozen=True, slots=True)
class Stats:
    users: int
    balances: Decimal  # what users hold now (sum of cached balances)
    deposited: Decimal
    withdrawn: Decimal
    held: Decimal  # in withdrawals not final yet (already off the balances)
    credited: Decimal  # credited for deposits, all time
    payments: dict[str, StatusTotal]
    withdrawals: dict[str, StatusTotal]
    mismatches: list[Mismatch]
    at: datetime
    outbox: outbox.Backlog  # queued messages (depth, oldest age) and recent undelivered ones


_BALANCE_TOTALS = text(
    """
    SELECT (SELECT count(*) FROM users) AS users,
           coalesce(sum(balance_usd), 0) AS balances,
           coalesce(sum(total_deposited), 0) AS deposited,
           coalesce(sum(total_withdrawn), 0) AS withdrawn
      FROM user_balances
    """
)


_PAYMENT_TOTALS = """
    SELECT status, count(*) AS n, coalesce(sum(amount_usd), 0) AS amount,
           coalesce(sum(credited_usd), 0) AS credited
      FROM payments {where} GROUP BY status ORDER BY status
"""
_WITHDRAWAL_TOTALS = """
    SELECT status, count(*) AS n, coalesce(sum(amount_usd), 0) AS amount
      FROM withdrawal_requests {where} GROUP BY status ORDER BY status
"""


def payment_totals(where: str = "") -> TextClause:
    """Deposits by status; ``where`` a fixed clause of this package, never user input."""
    return text(_PAYMENT_TOTALS.format(where=where))


def withdrawal_totals(where: str = "") -> TextClause:
    """Withdrawals by status; ``where`` as in payment_totals."""
    return text(_WITHDRAWAL_TOTALS.format(where=where))


_PAYMENT_TOTALS_ALL = payment_totals()
_WITHDRAWAL_TOTALS_ALL = withdrawal_totals()


def totals(rows: Iterable[Any]) -> dict[str, StatusTotal]:
    return {r.status: StatusTotal(int(r.n), Decimal(r.amount)) for r in rows}


async def snapshot(session: AsyncSession) -> None:
    """Begin a REPEATABLE READ transaction: every figure from one moment."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


class StatsService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def figures(self, *, admin: Admin) -> Stats:
        async with self._sessions() as session, session.begin():
            await snapshot(session)
            at = (await session.execute(text("SELECT now()"))).scalar_one()
            balances = (await session.execute(_BALANCE_TOTALS)).one()
            payment_rows = (await session.execute(_PAYMENT_TOTALS_ALL)).all()
            withdrawals = totals((await session.execute(_WITHDRAWAL_TOTALS_ALL)).all())
            mismatches = await ledger.reconcile(session)
            queue = await outbox.backlog(session)
        held = sum(
            (withdrawals[s.value].amount for s in OPEN_FOR_ADMIN if s.value in withdrawals),
            Decimal("0.00"),
        )
        return Stats(
            users=int(balances.users),
            balances=Decimal(balances.balances),
            deposited=Decimal(balances.deposited),
            withdrawn=Decimal(balances.withdrawn),
            held=held,
            credited=sum((Decimal(r.credited) for r in payment_rows), Decimal("0.00")),
            payments=totals(payment_rows),
            withdrawals=withdrawals,
            mismatches=mismatches,
            at=at,
            outbox=queue,
        )
