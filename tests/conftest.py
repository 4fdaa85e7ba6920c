"""Real PostgreSQL for every test: the configured server (CI: 127.0.0.1:5432) or the embedded one.

A throw-away template database is migrated once per run; the shared test database and every
`fresh_db` are clones of it, dropped at the end. A user's own databases are never touched.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core import ledger
from core.config import DatabaseSettings, load_settings
from core.db.models import TxType, User
from core.db.session import (
    create_engine,
    create_session_factory,
    server_url,
    with_database,
)
from core.ids import new_payment_id, new_withdrawal_id
from core.migrate import run_alembic

ROOT = Path(__file__).resolve().parent.parent
_RUN = f"{os.getpid()}_{secrets.token_hex(3)}"
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
            with_database(url, "postgres"), isolation_level="AUTOCOMMIT", pool_size=1
        )
        self.created: list[str] = []

    async def create(self, name: str, template: str | None = None) -> str:
        async with self.admin.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            await conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
        self.created.append(name)
        return with_database(self.url, name)

    async def drop_all(self) -> None:
        async with self.admin.connect() as conn:
            for name in reversed(self.created):
                await conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await self.admin.dispose()


def test_database_settings() -> DatabaseSettings:
    """The configured server, else the embedded one under .data/postgres (its data is kept,
    but tests only ever create and drop their own databases in it)."""
    settings = load_settings().database
    if settings.url is None:
        return settings.model_copy(update={"data_dir": ROOT / ".data" / "postgres"})
    return settings


@pytest.fixture(scope="session")
async def db_server() -> AsyncIterator[DbServer]:
    server = DbServer(server_url(test_database_settings()))
    try:
        yield server
    finally:
        await server.drop_all()


@pytest.fixture(scope="session")
async def template_db(db_server: DbServer) -> str:
    name = f"paybot_test_tmpl_{_RUN}"
    url = await db_server.create(name)
    engine = create_engine(url, pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(run_alembic, "upgrade", "head")
    await engine.dispose()
    return name


async def _clone(db_server: DbServer, template: str) -> Db:
    name = f"paybot_test_{_RUN}_{secrets.token_hex(3)}"
    url = await db_server.create(name, template=template)
    engine = create_engine(url, pool_size=20)
    return Db(url, engine, create_session_factory(engine))


@pytest.fixture(scope="session")
async def db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """The shared test database. Tests create their own users, so they don't collide."""
    clone = await _clone(db_server, template_db)
    yield clone
    await clone.engine.dispose()


@pytest.fixture
async def fresh_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """An empty migrated database of this test's own, for whole-database assertions."""
    clone = await _clone(db_server, template_db)
    yield clone
    await clone.engine.dispose()


@pytest.fixture
async def empty_database(db_server: DbServer) -> str:
    """A database with no schema at all (migration tests)."""
    return await db_server.create(f"paybot_test_empty_{_RUN}_{secrets.token_hex(3)}")


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


@pytest.fixture
async def user(db: Db) -> User:
    return await make_user(db.sessions)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No PAYBOT_* variables and an empty working directory, for config tests."""
    for key in list(os.environ):
        if key.startswith("PAYBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
