"""Shared set-up for the deposit, poller and currency tests (no tests here): settings, a fast
poll schedule, a client bound to the fake provider, and SQL helpers for assertions."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from sqlalchemy import text

from core.config import PaymentsSettings, Settings, TelegramSettings
from core.deposits.schedule import Schedule
from core.deposits.settlement import SettlePolicy
from core.ids import new_payment_id
from core.nowpayments import NowPaymentsClient
from tests.conftest import Db, DbServer, _clone
from tests.fakes.nowpayments import FakeNowPayments

D = Decimal
ADMIN = 777_000_001
ADMIN_CHAT = -100_777

# Everything due at once: run_once() can be driven step by step without sleeping.
FAST = Schedule(
    base_seconds=0.0,
    expiry_grace_seconds=0.0,
    error_base_seconds=0.0,
    creating_grace_seconds=0.0,
    creating_deadline_seconds=3600.0,
    rate_limit_pause_seconds=30.0,
)

# The fake's coins with its minimums (USD), so create_deposit's pre-check matches the fake.
COINS = text(
    """
    INSERT INTO currencies (code, name, token, network, decimal_places, needs_memo,
                            min_amount_usd, sort_order)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', 8, false, 2.00, 10),
           ('ETH', 'Ethereum', 'ETH', 'eth', 18, false, 5.00, 20),
           ('USDTTRC20', 'Tether USD (TRC20)', 'USDT', 'trx', 6, false, 1.00, 30),
           ('LTC', 'Litecoin', 'LTC', 'ltc', 8, false, 0.50, 50),
           ('TRX', 'Tron', 'TRX', 'trx', 6, false, 1.00, 60),
           ('XRP', 'Ripple', 'XRP', 'xrp', 6, true, 1.00, 70)
    ON CONFLICT DO NOTHING
    """
)


def make_settings(**payments: Any) -> Settings:
    return Settings(
        telegram=TelegramSettings(admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN]),
        payments=PaymentsSettings(**payments),
    )


def make_policy(schedule: Schedule = FAST, **payments: Any) -> SettlePolicy:
    """Tests press "check status" in loops: no per-user limit unless a test sets one."""
    payments.setdefault("status_checks_per_minute", 1000)
    return SettlePolicy.from_settings(make_settings(**payments), schedule=schedule)


def make_client(fake: FakeNowPayments, **overrides: Any) -> NowPaymentsClient:
    """A client with no retries and no practical rate limit: tests see each provider reply."""
    options: dict[str, Any] = {
        "email": fake.email,
        "password": fake.password,
        "timeout": 2.0,
        "max_requests_per_second": 100_000.0,
        "burst": 100,
        "catalog_requests_per_second": 100_000.0,
        "max_retries": 0,
        "max_connections": 50,
    }
    options.update(overrides)
    return NowPaymentsClient(fake.api_key, fake.base_url, **options)


async def add_coins(db: Db) -> None:
    async with db.sessions.begin() as session:
        await session.execute(COINS)


_first_ids = itertools.count(5_000_000_001, 10_000_000)


def new_fake(**options: Any) -> FakeNowPayments:
    """Provider ids are unique per database, so each fake hands out its own range."""
    return FakeNowPayments(first_payment_id=next(_first_ids), **options)


@pytest.fixture
async def fake() -> AsyncIterator[FakeNowPayments]:
    async with new_fake() as provider:
        yield provider


@pytest.fixture
async def client(fake: FakeNowPayments) -> AsyncIterator[NowPaymentsClient]:
    async with make_client(fake) as c:
        yield c


@pytest.fixture(scope="module")
async def deposit_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """A database for one test module: currency rows of our own, nobody else's payments."""
    clone = await _clone(db_server, template_db)
    await add_coins(clone)
    yield clone
    await clone.engine.dispose()


def pro_rata(amount: Decimal, paid: Decimal, pay_amount: Decimal) -> Decimal:
    return (amount * paid / pay_amount).quantize(D("0.01"), rounding=ROUND_DOWN)


async def rows(db: Db, sql: str, **params: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(text(sql), params)).all())


async def payment_row(db: Db, payment_id: int) -> Any:
    (row,) = await rows(db, "SELECT * FROM payments WHERE id = :id", id=payment_id)
    return row


async def deposits_of(db: Db, user_id: int) -> list[tuple[Decimal, str, int | None]]:
    found = await rows(
        db,
        "SELECT amount_usd, idempotency_key, payment_id FROM transactions"
        " WHERE user_id = :u AND type = 'deposit' ORDER BY id",
        u=user_id,
    )
    return [(r.amount_usd, r.idempotency_key, r.payment_id) for r in found]


async def notes_of(db: Db, payment_id: int, kind: str | None = None) -> list[Any]:
    found = await rows(
        db,
        "SELECT chat_id, kind, payload, dedup_key FROM notifications"
        " WHERE dedup_key LIKE :prefix ORDER BY id",
        prefix=f"deposit:{payment_id}:%",
    )
    return [r for r in found if kind is None or r.kind == kind]


async def events_of(db: Db, payment_id: int) -> list[tuple[str, str | None]]:
    found = await rows(
        db,
        "SELECT status, note FROM payment_events WHERE payment_id = :id ORDER BY id",
        id=payment_id,
    )
    return [(r.status, r.note) for r in found]


@dataclass(frozen=True)
class Seeded:
    payment_id: int
    provider_id: str
    amount: Decimal
    pay_amount: Decimal


async def seed_payments(
    db: Db,
    fake: FakeNowPayments,
    user_ids: Sequence[int],
    count: int,
    script: Callable[[int, str], None],
    *,
    coin: str = "btc",
) -> list[Seeded]:
    """``count`` waiting payments known to both sides (one INSERT); ``script(i, provider_id)``
    scripts the fake's side of payment i."""
    amounts = [D(10 + i % 90) + D(i % 100) / 100 for i in range(count)]
    iids = [new_payment_id() for _ in range(count)]
    pids = [fake.add_payment(a, coin, order_id=iid) for a, iid in zip(amounts, iids, strict=True)]
    pay = [fake.payment(pid).pay_amount for pid in pids]
    for i, pid in enumerate(pids):
        script(i, pid)
    async with db.sessions.begin() as session:
        result = await session.execute(
            text(
                """
                INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code,
                                      pay_amount, provider_payment_id, status, provider_status,
                                      pay_address, expires_at, next_check_at)
                SELECT iid, u, a, :code, p, pid,
                       'waiting', 'waiting', 'addr-' || pid, now() + interval '7 days', now()
                  FROM unnest(CAST(:iids AS text[]), CAST(:users AS bigint[]),
                              CAST(:amounts AS numeric[]), CAST(:pays AS numeric[]),
                              CAST(:pids AS text[])) AS v(iid, u, a, p, pid)
                RETURNING id, provider_payment_id
                """
            ),
            {
                "iids": iids,
                "users": [user_ids[i % len(user_ids)] for i in range(count)],
                "code": coin.upper(),
                "amounts": amounts,
                "pays": pay,
                "pids": pids,
            },
        )
        ids = {r.provider_payment_id: r.id for r in result}
    return [Seeded(ids[pid], pid, a, p) for pid, a, p in zip(pids, amounts, pay, strict=True)]
