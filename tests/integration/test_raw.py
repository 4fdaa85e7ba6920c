"""Raw statements on a Session's connection belong to the Session's transaction, also when they
come first (SQLAlchemy's asyncpg adapter only sends BEGIN with statements it runs itself: the
first raw one goes through the DBAPI cursor, which begins it, the later ones to the driver), and
they go through SQLAlchemy's public API only."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

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


async def test_a_raw_statement_first_rolls_back_with_the_transaction(db: Db) -> None:
    """The raw statement alone, with nothing of SQLAlchemy's before or after it."""
    user = await make_user(db.sessions)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with db.sessions.begin() as session:
            await raw.fetchrow(session, "UPDATE users SET language = 'xx' WHERE id = $1", user.id)
            raise Abort
    async with db.sessions() as session:
        language = await session.scalar(
            text("SELECT language FROM users WHERE id = :id"), {"id": user.id}
        )
    assert language != "xx"


async def test_a_raw_statement_after_an_orm_one_is_in_the_same_transaction(db: Db) -> None:
    async with db.sessions.begin() as session:
        orm = await session.scalar(text("SELECT now()"))
        await asyncio.sleep(0.05)
        later = (await raw.fetchrow(session, "SELECT now() AS at"))["at"]
    assert later == orm


async def test_errors_are_sqlalchemy_errors_on_either_path(db: Db) -> None:
    duplicate = "INSERT INTO users (id, telegram_id) SELECT id, telegram_id FROM users LIMIT 1"
    await make_user(db.sessions)
    for first in (True, False):
        with pytest.raises(IntegrityError):
            async with db.sessions.begin() as session:
                if not first:
                    await session.execute(text("SELECT 1"))
                await raw.fetchrow(session, duplicate)
        with pytest.raises(DBAPIError):
            async with db.sessions.begin() as session:
                if not first:
                    await session.execute(text("SELECT 1"))
                await raw.fetchrow(session, "SELECT 1/0")


def test_no_private_sqlalchemy_api() -> None:
    """The reason this module exists in its current form: an upgrade must not break it silently."""
    source = Path(raw.__file__).read_text()
    assert re.search(r"\._[a-z]", source) is None
    assert "sqlalchemy.util" not in source


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
