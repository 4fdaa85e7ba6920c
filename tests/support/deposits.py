"""Shared set-up for the deposit, poller and currency tests (no tests here): a fast poll
schedule, a client bound to the fake provider, and SQL helpers for assertions. The fixtures
(`fake`, `client`, `deposit_db`) are in tests/integration/conftest.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import text

from core.db.models import User
from core.deposits import DepositService
from core.deposits.poller import Poller
from core.deposits.schedule import Schedule
from core.deposits.settlement import SettlePolicy
from core.ids import new_payment_id
from core.nowpayments import NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments
from tests.support.db import Db, make_user
from tests.support.settings import make_settings

D = Decimal

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


def make_policy(schedule: Schedule = FAST, **payments: Any) -> SettlePolicy:
    """Tests press "check status" in loops: no per-user limit unless a test sets one."""
    payments.setdefault("status_checks_per_minute", 1000)
    return SettlePolicy.from_settings(make_settings(**payments), schedule=schedule)


def make_service(
    db: Db, client: NowPaymentsClient, policy: SettlePolicy | None = None, **payments: Any
) -> DepositService:
    """The service the bot calls, with ``make_policy(**payments)`` unless a test brings a policy
    (``payments``: PaymentsSettings overrides, which its create step reads too)."""
    policy = policy or make_policy(**payments)
    return DepositService(db.sessions, client, make_settings(**payments), policy=policy)


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


async def drive(
    db: Db,
    client: NowPaymentsClient,
    user: User,
    payment_id: int,
    policy: SettlePolicy | None = None,
) -> list[str]:
    """Press "check status" until the payment is final; the statuses seen."""
    service = make_service(db, client, policy)
    seen = []
    for _ in range(12):
        view = await service.check_status(user_telegram_id=user.telegram_id, payment_id=payment_id)
        seen.append(view.status)
        if view.is_final:
            return seen
    raise AssertionError(f"not final after 12 checks: {seen}")


def poller(db: Db, client: NowPaymentsClient, **kw: Any) -> Poller:
    """A poller with the fast schedule (or ``schedule``) and no background children scan."""
    # Partials credited by default: mixed_script-like workloads pay some payments in part.
    settings = kw.pop("settings", None) or make_settings(partial_payment_policy="credit")
    options: dict[str, Any] = {
        "policy": SettlePolicy.from_settings(settings, schedule=kw.pop("schedule", FAST)),
        "batch_size": 50,
        "concurrency": 10,
        "lease_seconds": 30.0,
        "children_scan_seconds": None,
    }
    options.update(kw)
    return Poller(db.sessions, client, settings, **options)


async def users(db: Db, n: int) -> list[User]:
    return [await make_user(db.sessions) for _ in range(n)]


async def expire_leases(db: Db) -> int:
    """Move every payment's poll lease (and the check it pushed back with it) into the past, as
    if its poller had died long ago: expiry is tested without waiting. The leases moved."""
    async with db.sessions.begin() as session:
        result = await session.execute(
            text(
                "UPDATE payments SET lease_until = now() - interval '1 second',"
                " next_check_at = least(next_check_at, now() - interval '1 second')"
                " WHERE lease_until IS NOT NULL"
            )
        )
    return int(result.rowcount)  # type: ignore[attr-defined]
