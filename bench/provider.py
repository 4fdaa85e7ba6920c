"""Provider budget: a user's "create deposit" while the currency sync and the poller are busy.

The fake NOWPayments runs in a process of its own with 200 coins, N pending payments (default
10,000) and an added latency per request. The real service (DepositService.create: DB
row, POST /payment, settle) is timed K times, one call every --gap seconds, in three phases of
the same run:

1. idle: nothing else talks to the provider (the baseline);
2. busy: a 200-coin catalogue sync (keep_synced) and the poller over N due payments run, with
   the production budget (5 req/s, a reserve of 1 for users, the sync capped at 1 req/s);
3. busy, no reserve: the same with user_reserve = 0 (users still go first in the queue, but wait
   for the background's next slot), to show what the reserve buys.

The client's rate is the production default: the sync and the poller keep it saturated all
along (neither can finish within the run); that is the point. Prints p50/p95 per phase and the
p95 ratio busy/idle (target <= 2). No timing is asserted anywhere; the ratios are against the
baseline measured in the same run.

Usage: python -m bench.provider [--payments N] [--coins C] [--latency S] [--calls K] [--gap S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection

import asyncpg

from bench.common import throwaway_database
from bench.poller import AMOUNT, FIRST_ID, make_due, seed
from core import currencies
from core.config import NowPaymentsSettings, PaymentsSettings, Settings
from core.db.session import create_engine, create_session_factory
from core.deposits import DepositService
from core.deposits.poller import Poller
from core.nowpayments import NowPaymentsClient
from core.nowpayments.budget import Lane, run_in_lane

DEPOSIT = Decimal("25.00")
PRODUCTION = NowPaymentsSettings()  # the budget's defaults


# --- the fake provider, in its own process ----------------------------------------------------


def serve_fake(conn: Connection, payments: int, coins: int, latency: float) -> None:
    asyncio.run(_serve(conn, payments, coins, latency))


async def _serve(conn: Connection, payments: int, coins: int, latency: float) -> None:
    from tests.fakes.nowpayments import DEFAULT_COINS, FakeNowPayments, many_coins

    btc = next(coin for coin in DEFAULT_COINS if coin.code == "btc")
    offer = (btc, *many_coins(coins - 1))
    async with FakeNowPayments(coins=offer, first_payment_id=FIRST_ID, seed=1) as fake:
        for g in range(1, payments + 1):
            fake.add_payment(AMOUNT, "btc", order_id=f"bench-{g}")
        fake.latency = latency
        conn.send((fake.base_url, fake.api_key, str(fake.payment(FIRST_ID).pay_amount)))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stats":
                conn.send(dict(fake.requests))
            else:
                break


@dataclass
class Provider:
    base_url: str
    api_key: str
    pay_amount: Decimal
    conn: Connection

    def requests(self) -> dict[str, int]:
        self.conn.send("stats")
        stats: dict[str, int] = self.conn.recv()
        return stats


# --- one phase -----------------------------------------------------------------------------------


@dataclass
class Phase:
    label: str
    seconds: list[float]
    background_requests: dict[str, int]
    sync_stop: float | None  # seconds from stop to the sync task's end

    def p(self, q: int) -> float:
        cuts = statistics.quantiles(self.seconds, n=100, method="inclusive")
        return cuts[q - 1]


async def user_calls(
    service: DepositService,
    user_ids: Sequence[int],
    calls: int,
    gap: float,
) -> list[float]:
    """``calls`` deposits, one every ``gap`` seconds (users arrive independently), each timed."""

    async def one(user_id: int) -> float:
        started = time.perf_counter()
        await service.create(user_id=user_id, amount_usd=DEPOSIT, currency_code="BTC")
        return time.perf_counter() - started

    tasks = []
    for i in range(calls):
        tasks.append(asyncio.create_task(one(user_ids[i % len(user_ids)])))
        await asyncio.sleep(gap)
    return list(await asyncio.gather(*tasks))


async def phase(
    label: str,
    url: str,
    provider: Provider,
    args: argparse.Namespace,
    *,
    busy: bool,
    user_reserve: int,
) -> Phase:
    engine = create_engine(url, pool_size=20)
    sessions = create_session_factory(engine)
    # Checked payments are not due again within the phase.
    payments = PaymentsSettings(poll_concurrency=10, poll_interval_seconds=3600)
    settings = Settings(payments=payments)
    client = NowPaymentsClient(
        provider.api_key,
        provider.base_url,
        max_requests_per_second=PRODUCTION.max_requests_per_second,
        user_reserve=user_reserve,
        catalog_requests_per_second=PRODUCTION.catalog_requests_per_second,
        timeout=30,
    )
    service = DepositService(sessions, client, settings)  # its policy serves the poller too
    stop = asyncio.Event()
    poll: asyncio.Task[None] | None = None
    sync: asyncio.Task[None] | None = None
    before = provider.requests()
    if busy:
        poller = Poller(
            sessions,
            client,
            settings,
            policy=service.policy,
            batch_size=200,
            concurrency=10,
            children_scan_seconds=None,
        )
        catalog = currencies.CurrencyCatalog(client)
        poll = asyncio.create_task(run_in_lane(Lane.BACKGROUND, poller.run_forever(stop)))
        sync = asyncio.create_task(currencies.keep_synced(sessions, catalog, stop))
        await asyncio.sleep(args.warmup)  # let both fill the budget's queue
    user_ids = await users(url)
    seconds = await user_calls(service, user_ids, args.calls, args.gap)
    stop.set()
    stopping = time.perf_counter()
    sync_stop = None
    if sync is not None:
        await asyncio.wait_for(sync, 5)
        sync_stop = time.perf_counter() - stopping
    if poll is not None:
        # The poller finishes the checks it claimed (at 5 req/s that can take long): not
        # measured here, so it is cut off after a moment (it is safe to cancel).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(poll), 1.0)
        poll.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poll
    after = provider.requests()
    await client.aclose()
    await engine.dispose()
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in ("get_payment", "min_amount")}
    return Phase(label, seconds, moved, sync_stop)


async def users(url: str) -> list[int]:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM users ORDER BY id LIMIT 50")]
    finally:
        await conn.close()


async def bench(url: str, provider: Provider, args: argparse.Namespace) -> None:
    await seed(url, args.payments, provider.pay_amount)
    due = await make_due(url, range(FIRST_ID, FIRST_ID + args.payments))
    print(
        f"provider budget benchmark: fake NOWPayments (own process) with {args.coins} coins,"
        f" {due} due payments, {args.latency * 1000:.0f} ms added latency; client at the"
        f" production budget ({PRODUCTION.max_requests_per_second:g} req/s, user reserve"
        f" {PRODUCTION.user_reserve_requests}, sync cap {PRODUCTION.catalog_requests_per_second:g}"
        f" req/s); {args.calls} create_deposit calls, one every {args.gap:g} s, per phase"
    )
    runs: list[Callable[[], Awaitable[Phase]]] = [
        lambda: phase("idle", url, provider, args, busy=False, user_reserve=1),
        lambda: phase("busy", url, provider, args, busy=True, user_reserve=1),
        lambda: phase("busy, no reserve", url, provider, args, busy=True, user_reserve=0),
    ]
    phases = [await run() for run in runs]
    idle = phases[0]
    print(
        f"{'phase':>17} {'p50 ms':>8} {'p95 ms':>8} {'p95/idle':>9} {'polls':>6} {'minimums':>9}"
        f" {'sync stop s':>11}"
    )
    for result in phases:
        print(
            f"{result.label:>17} {result.p(50) * 1000:>8.1f} {result.p(95) * 1000:>8.1f}"
            f" {result.p(95) / idle.p(95):>9.2f} {result.background_requests['get_payment']:>6}"
            f" {result.background_requests['min_amount']:>9}"
            + ("" if result.sync_stop is None else f" {result.sync_stop:>11.3f}")
        )
    print(
        f"p95 of create_deposit, busy/idle: {phases[1].p(95) / idle.p(95):.2f} (target <= 2);"
        f" without the users' reserve: {phases[2].p(95) / idle.p(95):.2f}"
    )


async def main(args: argparse.Namespace, provider: Provider) -> None:
    async with throwaway_database() as url:
        await bench(url, provider, args)


def run(args: argparse.Namespace) -> None:
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(
        target=serve_fake, args=(theirs, args.payments, args.coins, args.latency), daemon=True
    )
    child.start()
    try:
        base_url, api_key, pay_amount = ours.recv()
        asyncio.run(main(args, Provider(base_url, api_key, Decimal(pay_amount), ours)))
    finally:
        ours.send("stop")
        child.join(10)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--coins", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.3)
    parser.add_argument("--warmup", type=float, default=1.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(parse())
