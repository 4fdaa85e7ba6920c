"""Raw asyncpg statements on a Session's connection belong to the Session's transaction, also
when they come first (SQLAlchemy's asyncpg adapter only sends BEGIN with its own statements)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import text

from bot.factory import read_sessions
from core import ledger
from core.db import raw
from core.db.models import TxType
from tests.support.db import Db, make_user

D = Decimal


async def test_a_raw_statement_first_in_a_transaction_is_part_of_it(db: Db) -> None:
    async with db.sessions.begin() as session:
        first = (await raw.fetchrow(session, "SELECT now() AS at"))["at"]
        await asyncio.sleep(0.05)
        second = (await raw.fetchrow(session, "SELECT now() AS at"))["at"]
        orm = await session.scalar(text("SELECT now()"))
    assert first == second == orm  # now() is the transaction's start: one transaction


async def test_autocommit_sessions_stay_autocommit(db: Db) -> None:
    async with read_sessions(db.engine)() as session:
        first = (await raw.fetchrow(session, "SELECT now() AS at"))["at"]
        await asyncio.sleep(0.05)
        second = (await raw.fetchrow(session, "SELECT now() AS at"))["at"]
    assert second > first  # each statement stands alone


async def test_a_rolled_back_posting_leaves_nothing(db: Db) -> None:
    user = await make_user(db.sessions)
    async with db.sessions.begin() as session:  # the balance row exists from now on
        await ledger.post(
            session,
            user_id=user.id,
            type=TxType.BONUS,
            amount=D("5.00"),
            idempotency_key=f"raw-{user.id}-1",
        )

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with db.sessions.begin() as session:
            await ledger.post(  # the first statement of this transaction
                session,
                user_id=user.id,
                type=TxType.BONUS,
                amount=D("7.00"),
                idempotency_key=f"raw-{user.id}-2",
            )
            raise Abort
    async with db.sessions() as session:
        assert (await ledger.get_balance(session, user.id)).balance == D("5.00")
        count = await session.scalar(
            text("SELECT count(*) FROM transactions WHERE user_id = :u"), {"u": user.id}
        )
    assert count == 1
