"""Test databases and rows in them: the database handle tests get, the server that creates
and drops databases, and users, payments and ledger rows made directly (no tests here)."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Executable, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import ledger
from core.db.models import TxType, User
from core.db.session import create_engine, create_session_factory, with_database
from core.ids import new_payment_id, new_withdrawal_id

# Per process (each xdist worker imports this on its own): database names never collide.
RUN = f"{os.getpid()}_{secrets.token_hex(3)}"
_DROPPERS = 4  # connections dropping the run's databases at the end
# Switches the ledger's triggers off for one transaction: corruption only a bypassed guard allows.
LEDGER_MARK = text("SET LOCAL session_replication_role = replica")
_telegram_ids = itertools.count(10_000_000 + secrets.randbelow(10**9) * 1000)


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


class DbServer:
    """Creates and drops databases on the server used for this test run."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = create_async_engine(
            with_database(url, "postgres"), isolation_level="AUTOCOMMIT", pool_size=_DROPPERS
        )
        self.created: list[str] = []
        self._file_copy: bool | None = None

    async def create(self, name: str, template: str | None = None) -> str:
        async with self.admin.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            if template and await self._copies_files(conn):
                suffix += " STRATEGY FILE_COPY"
            await conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
        self.created.append(name)
        return with_database(self.url, name)

    async def _copies_files(self, conn: AsyncConnection) -> bool:
        """Whether clones are made file by file (PostgreSQL 15+). The default there, WAL_LOG,
        copies a template through shared buffers: each clone's pages are dirty, and the
        checkpoint every DROP DATABASE waits for writes them all out again (measured: 1.6 s per
        clone to drop, against 0.3 s to create and 0.05 s to drop with FILE_COPY)."""
        if self._file_copy is None:
            version = await conn.exec_driver_sql("SHOW server_version_num")
            self._file_copy = int(version.scalar_one()) >= 150000
        return self._file_copy

    async def drop_all(self) -> None:
        """Several at once: PostgreSQL 15 checkpoints for every DROP DATABASE, and concurrent
        drops share checkpoints (one by one this took over a minute for a whole run). A dropper
        that finds the server full of connections leaves its share to the others."""
        names = list(reversed(self.created))

        async def dropper() -> None:
            async with self.admin.connect() as conn:
                while names:
                    name = names.pop()
                    try:
                        await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                    except BaseException:
                        names.append(name)
                        raise

        try:
            await asyncio.gather(*(dropper() for _ in range(_DROPPERS)), return_exceptions=True)
            if names:  # no dropper could connect, or each failed: one more try, loudly
                await dropper()
        finally:
            await self.admin.dispose()


async def clone(
    db_server: DbServer,
    template: str,
    *seed: Executable,
    label: str = "",
    pool_size: int = 20,
) -> Db:
    """A database of the template's, with ``seed`` statements run in one transaction. The name
    carries the run, so a database a crashed run left behind can be traced to it."""
    name = f"paybot_test_{label}{RUN}_{secrets.token_hex(3)}"
    url = await db_server.create(name, template=template)
    engine = create_engine(url, pool_size=pool_size)
    db = Db(url, engine, create_session_factory(engine))
    if seed:
        async with db.sessions.begin() as session:
            for statement in seed:
                await session.execute(statement)
    return db


def next_telegram_id() -> int:
    return next(_telegram_ids)


async def make_user(sessions: async_sessionmaker[AsyncSession], **fields: object) -> User:
    async with sessions.begin() as session:
        user = User(telegram_id=next_telegram_id(), first_name="Test", **fields)
        session.add(user)
        await session.flush()
        await session.refresh(user)
        return user


_BTC = text(
    "INSERT INTO currencies (code, name, token, network) VALUES"
    " ('BTC', 'Bitcoin', 'BTC', 'btc') ON CONFLICT DO NOTHING"
)


async def new_payment(session: AsyncSession, user_id: int, amount: Decimal) -> int:
    """A finished payment of the user's, for a deposit row to name (migration 0004)."""
    await session.execute(_BTC)
    payment_id = await session.scalar(
        text(
            "INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code,"
            " status, credited_usd) VALUES (:iid, :uid, :amount, 'BTC', 'finished', :amount)"
            " RETURNING id"
        ),
        {"iid": new_payment_id(), "uid": user_id, "amount": amount},
    )
    assert isinstance(payment_id, int)
    return payment_id


async def post_deposit(
    session: AsyncSession, user_id: int, amount: Decimal, idempotency_key: str
) -> ledger.LedgerEntry:
    """A deposit credit with a payment behind it (a deposit row needs one)."""
    return await ledger.post(
        session,
        user_id=user_id,
        type=TxType.DEPOSIT,
        amount=amount,
        idempotency_key=idempotency_key,
        payment_id=await new_payment(session, user_id, amount),
    )


async def new_withdrawal(session: AsyncSession, user_id: int, amount: Decimal) -> int:
    """A pending fee-less withdrawal request of the user's, for a hold row to name."""
    await session.execute(_BTC)
    withdrawal_id = await session.scalar(
        text(
            "INSERT INTO withdrawal_requests (internal_withdrawal_id, user_id, amount_usd,"
            " currency_code, wallet_address, network_fee_usd, service_fee_usd, total_fee_usd,"
            " final_amount_usd) VALUES (:iid, :uid, :amount, 'BTC', 'test', 0, 0, 0, :amount)"
            " RETURNING id"
        ),
        {"iid": new_withdrawal_id(), "uid": user_id, "amount": amount},
    )
    assert isinstance(withdrawal_id, int)
    return withdrawal_id


async def balance(db: Db, user: User | int) -> Decimal:
    """The user's spendable balance."""
    return (await ledger_balance(db, user)).balance


async def ledger_balance(db: Db, user: User | int) -> ledger.Balance:
    """The user's whole balance row (balance, held, totals)."""
    user_id = user if isinstance(user, int) else user.id
    async with db.sessions() as session:
        return await ledger.get_balance(session, user_id)
