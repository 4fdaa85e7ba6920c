"""The per-update read: the user and their balance in one pooled round trip, the pooled
connection's life, and the middlewares that hand ``user``, ``balance`` and ``session`` to
handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import User as TelegramUser
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.factory import read_sessions
from bot.middlewares.db import ReadSession, current_user
from core import ledger
from core.db import raw
from core.db.models import TxType, User
from core.db.session import create_engine
from core.users import load_with_balance, set_blocked
from tests.support.db import Db, make_user, new_payment, next_telegram_id

D = Decimal


@pytest.fixture
async def one_connection(db: Db) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool holds one connection, so reuse and replacement are observable."""
    engine = create_engine(db.url, pool_size=1)
    yield engine
    await engine.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    row = await raw.fetchrow_pooled(engine, "SELECT pg_backend_pid() AS pid")
    return int(row["pid"])


def telegram_user(telegram_id: int, **profile: Any) -> TelegramUser:
    return TelegramUser(
        id=telegram_id, is_bot=False, first_name=profile.pop("first_name", "Test"), **profile
    )


async def test_unknown_user_is_none(db: Db) -> None:
    assert await load_with_balance(db.engine, next_telegram_id()) is None


async def test_user_without_ledger_entries_has_zeros(db: Db, user: User) -> None:
    found = await load_with_balance(db.engine, user.telegram_id)
    assert found is not None
    snapshot, balance = found
    assert (snapshot.id, snapshot.telegram_id, snapshot.first_name) == (
        user.id,
        user.telegram_id,
        "Test",
    )
    assert (balance.user_id, balance.balance, balance.total_deposited) == (user.id, D(0), D(0))
    assert balance.last_transaction_at is None


async def test_balance_and_totals_come_with_the_user(db: Db, user: User) -> None:
    async with db.sessions.begin() as session:
        for i, amount in enumerate(("40.00", "2.50", "-12.25")):
            await ledger.post(
                session,
                user_id=user.id,
                type=TxType.DEPOSIT if amount[0] != "-" else TxType.ADJUSTMENT,
                amount=D(amount),
                idempotency_key=f"cu-{user.id}-{i}",
                payment_id=(
                    await new_payment(session, user.id, D(amount)) if amount[0] != "-" else None
                ),
            )
    found = await load_with_balance(db.engine, user.telegram_id)
    assert found is not None
    _, balance = found
    async with db.sessions() as session:
        assert balance == await ledger.get_balance(session, user.id)
    assert (balance.balance, balance.total_deposited) == (D("30.25"), D("42.50"))
    assert balance.last_transaction_at is not None


async def test_pooled_connection_goes_back_to_the_pool(one_connection: AsyncEngine) -> None:
    first = await backend_pid(one_connection)
    assert one_connection.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await backend_pid(one_connection) == first


async def test_a_server_error_keeps_the_connection(one_connection: AsyncEngine) -> None:
    first = await backend_pid(one_connection)
    with pytest.raises(DBAPIError, match="division by zero"):
        await raw.fetchrow_pooled(one_connection, "SELECT 1 / 0")
    assert one_connection.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await backend_pid(one_connection) == first


async def test_a_cancelled_query_discards_the_connection(one_connection: AsyncEngine) -> None:
    first = await backend_pid(one_connection)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(raw.fetchrow_pooled(one_connection, "SELECT pg_sleep(5)"), 0.2)
    assert one_connection.pool.checkedout() == 0  # type: ignore[attr-defined]
    # A connection left mid-query is never handed out again; the next read gets a fresh one.
    assert await backend_pid(one_connection) != first


async def test_first_contact_registers_with_a_zero_balance(db: Db) -> None:
    tg = telegram_user(next_telegram_id(), username="newbie", language_code="de")
    user, balance = await current_user(db.engine, db.sessions, tg)
    assert (user.telegram_id, user.username, user.language) == (tg.id, "newbie", "de")
    assert (balance.user_id, balance.balance) == (user.id, D(0))
    found = await load_with_balance(db.engine, tg.id)
    assert found is not None and found[0].id == user.id and found[1] == balance


async def test_a_changed_profile_or_an_unblock_is_stored(db: Db, user: User) -> None:
    tg = telegram_user(user.telegram_id, first_name="Renamed")
    refreshed, _ = await current_user(db.engine, db.sessions, tg)
    assert refreshed.id == user.id and refreshed.first_name == "Renamed"
    async with db.sessions.begin() as session:
        await set_blocked(session, user.telegram_id)
    back, _ = await current_user(db.engine, db.sessions, tg)
    assert not back.blocked_bot  # writing to us again means they unblocked us
    found = await load_with_balance(db.engine, user.telegram_id)
    assert found is not None and not found[0].blocked_bot and found[0].first_name == "Renamed"


async def test_an_unchanged_profile_writes_nothing(db: Db) -> None:
    user = await make_user(db.sessions, username="same", language="en")
    tg = telegram_user(user.telegram_id, username="same", language_code="en")
    before = await row_version(db, user)
    again, _ = await current_user(db.engine, db.sessions, tg)
    after = await row_version(db, user)
    assert again.id == user.id and before == after  # the row was not rewritten


async def row_version(db: Db, user: User) -> str:
    """The row's xmin: it changes whenever the row is rewritten."""
    async with db.sessions() as session:
        found = await session.execute(
            text("SELECT xmin::text FROM users WHERE id = :id"), {"id": user.id}
        )
        return str(found.scalar_one())


class CountingReaders:
    """read_sessions(engine), counting the sessions made."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._make = read_sessions(engine)
        self.made = 0

    def __call__(self) -> AsyncSession:
        self.made += 1
        return self._make()


async def test_a_read_session_only_for_handlers_that_take_one(db: Db, user: User) -> None:
    readers = CountingReaders(db.engine)
    middleware = ReadSession(readers)  # type: ignore[arg-type]
    seen: list[object] = []

    async def without(event: object) -> None: ...

    async def with_session(event: object, session: AsyncSession) -> None: ...

    async def with_anything(event: object, **kwargs: Any) -> None: ...

    async def inner(event: object, data: dict[str, Any]) -> None:
        session = data.get("session")
        if session is not None:
            assert isinstance(session, AsyncSession)
            seen.append(await ledger.get_balance(session, user.id))

    for callback, opens in ((without, False), (with_session, True), (with_anything, True)):
        before = readers.made
        await middleware(inner, object(), {"handler": HandlerObject(callback=callback)})  # type: ignore[arg-type]
        assert readers.made - before == int(opens), callback.__name__
    assert len(seen) == 2 and all(isinstance(b, ledger.Balance) for b in seen)
