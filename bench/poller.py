"""Poller throughput: payments checked per second through core.deposits.poller.Poller versus bare
concurrent httpx GETs of the same payments from the same fake provider, at the same concurrency.

The fake NOWPayments runs in a process of its own (so its CPU does not slow either side) with an
added latency per request. The database is a throw-away one, seeded with one INSERT ... SELECT
generate_series. The client's rate limit is raised: at the production default (5 req/s) this
would measure the rate limiter, not the poller.

Usage: python -m bench.poller [--payments N] [--latency S] [--concurrency C] [--rounds R]
                              [--finish-share F] [--rate RPS]
Prints checks/s, provider calls per payment and the ratio poller/bare (target >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection

import asyncpg
import httpx
from sqlalchemy import text

from bench.common import throwaway_database
from core import ledger
from core.config import PaymentsSettings, Settings
from core.db.session import create_engine, create_session_factory
from core.deposits import DepositService
from core.deposits.poller import PollCounts, Poller
from core.nowpayments import NowPaymentsClient

FIRST_ID = 5_000_000_001
AMOUNT = Decimal("25")
ORDER_PREFIX = "PAY_20261122000000_"


# --- the fake provider, in its own process ----------------------------------------------------


def _order_id(g: int) -> str:
    return f"{ORDER_PREFIX}{g:08x}"


def serve_fake(conn: Connection, payments: int, latency: float) -> None:
    asyncio.run(_serve(conn, payments, latency))


async def _serve(conn: Connection, payments: int, latency: float) -> None:
    from tests.fakes.nowpayments import FakeNowPayments, Step

    async with FakeNowPayments(first_payment_id=FIRST_ID, seed=1) as fake:
        pids = [
            fake.add_payment(AMOUNT, "btc", order_id=_order_id(g)) for g in range(1, payments + 1)
        ]
        fake.latency = latency
        conn.send((fake.base_url, fake.api_key, str(fake.payment(FIRST_ID).pay_amount)))
        loop = asyncio.get_running_loop()
        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            if command == "stats":
                conn.send(dict(fake.requests))
            elif command == "finish":  # every arg-th payment is paid in full on its next poll
                chosen = pids[arg - 1 :: arg]
                for pid in chosen:
                    fake.script(
                        pid, [Step("finished", actually_paid=fake.payment(pid).pay_amount)]
                    )
                conn.send(len(chosen))
            else:
                break


@dataclass
class Provider:
    base_url: str
    api_key: str
    pay_amount: Decimal
    conn: Connection

    def get_payment_calls(self) -> int:
        self.conn.send(("stats", None))
        stats: dict[str, int] = self.conn.recv()
        return stats.get("get_payment", 0)

    def finish_every(self, every: int) -> int:
        self.conn.send(("finish", every))
        count: int = self.conn.recv()
        return count


# --- the database ------------------------------------------------------------------------------


SEED_SQL = """
    WITH u AS (
        INSERT INTO users (telegram_id) SELECT 9000000000 + g FROM generate_series(1, 100) g
        RETURNING id
    ), users AS (SELECT array_agg(id ORDER BY id) AS ids FROM u)
    INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code, pay_amount,
                          provider_payment_id, status, provider_status, pay_address,
                          expires_at, next_check_at)
    SELECT $1::text || lpad(to_hex(g), 8, '0'), users.ids[1 + g % 100], $2, 'BTC', $3,
           ($4::bigint + g - 1)::text, 'waiting', 'waiting', 'bc1q' || g,
           now() + interval '7 days', now() + interval '1 day'
      FROM generate_series(1, $5::int) g, users
"""


async def seed(url: str, payments: int, pay_amount: Decimal) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        await conn.execute(
            "INSERT INTO currencies (code, name, token, network) VALUES"
            " ('BTC', 'Bitcoin', 'BTC', 'btc')"
        )
        await conn.execute(SEED_SQL, ORDER_PREFIX, AMOUNT, pay_amount, FIRST_ID, payments)
        await conn.execute("ANALYZE payments")
    finally:
        await conn.close()


async def make_due(url: str, provider_ids: Sequence[int]) -> int:
    """Make these payments due now (the poller's schedule keeps checked ones off for an hour)."""
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        status: str = await conn.execute(
            "UPDATE payments SET next_check_at = now(), lease_until = NULL"
            " WHERE provider_payment_id = ANY($1::text[])"
            " AND status IN ('waiting', 'confirming', 'confirmed', 'sending')",
            [str(pid) for pid in provider_ids],
        )
        return int(status.split()[-1])
    finally:
        await conn.close()


# --- the two measurements -----------------------------------------------------------------------


@dataclass
class Tally:
    checked: int = 0
    seconds: float = 0.0
    calls: int = 0
    bare_gets: int = 0
    bare_seconds: float = 0.0
    cpu: float = 0.0  # this process's CPU time in the poller passes
    bare_cpu: float = 0.0
    counts: PollCounts = field(default_factory=PollCounts)

    @property
    def poller_rate(self) -> float:
        return self.checked / self.seconds

    @property
    def bare_rate(self) -> float:
        return self.bare_gets / self.bare_seconds


async def poller_pass(poller: Poller) -> tuple[PollCounts, float]:
    """What run_forever does (overlapping batches), until nothing is due."""
    started = time.perf_counter()
    counts = await poller.drain()
    return counts, time.perf_counter() - started


async def bare_pass(http: httpx.AsyncClient, base_url: str, ids: Sequence[int], c: int) -> float:
    semaphore = asyncio.Semaphore(c)

    async def one(pid: int) -> None:
        async with semaphore:
            response = await http.get(f"{base_url}/payment/{pid}")
            response.raise_for_status()
            response.json()

    started = time.perf_counter()
    await asyncio.gather(*(one(pid) for pid in ids))
    return time.perf_counter() - started


async def measure(
    url: str, poller: Poller, provider: Provider, http: httpx.AsyncClient, args: argparse.Namespace
) -> Tally:
    """Every payment once through the poller and once as a bare GET, in alternating slices, so
    load from elsewhere on the machine falls on both alike."""
    tally = Tally()
    ids = list(range(FIRST_ID, FIRST_ID + args.payments))
    for start in range(0, len(ids), args.slice):
        part = ids[start : start + args.slice]
        await make_due(url, part)
        before = provider.get_payment_calls()
        cpu = time.process_time()
        counts, seconds = await poller_pass(poller)
        tally.cpu += time.process_time() - cpu
        tally.calls += provider.get_payment_calls() - before
        tally.counts.add(counts)
        tally.checked += counts.unchanged + counts.changed + counts.errors + counts.deferred
        tally.seconds += seconds
        cpu = time.process_time()
        tally.bare_seconds += await bare_pass(http, provider.base_url, part, args.concurrency)
        tally.bare_cpu += time.process_time() - cpu
        tally.bare_gets += len(part)
    return tally


def report(label: str, tally: Tally) -> float:
    ratio = tally.poller_rate / tally.bare_rate
    extra = f"  ({tally.counts.credited} credited)" if tally.counts.credited else ""
    extra += f"  ({tally.counts.errors} errors)" if tally.counts.errors else ""
    print(
        f"{label:>8} {tally.checked:>7} {tally.poller_rate:>9.0f}"
        f" {tally.calls / max(tally.checked, 1):>9.2f} {tally.bare_rate:>8.0f} {ratio:>6.2f}"
        f" {tally.cpu / tally.checked * 1e6:>8.0f} {tally.bare_cpu / tally.bare_gets * 1e6:>8.0f}"
        + extra
    )
    return ratio


async def bench(url: str, provider: Provider, args: argparse.Namespace) -> None:
    await seed(url, args.payments, provider.pay_amount)
    engine = create_engine(url, pool_size=max(10, args.concurrency))
    sessions = create_session_factory(engine)
    # Checked payments are not due again within the run.
    payments = PaymentsSettings(poll_concurrency=args.concurrency, poll_interval_seconds=3600)
    settings = Settings(payments=payments)
    client = NowPaymentsClient(
        provider.api_key,
        provider.base_url,
        max_requests_per_second=args.rate,
        burst=args.concurrency,
        max_connections=args.concurrency,
        timeout=30,
    )
    poller = Poller(
        sessions,
        client,
        settings,
        policy=DepositService(sessions, client, settings).policy,
        batch_size=args.batch,
        concurrency=args.concurrency,
        children_scan_seconds=None,
    )
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    headers = {"x-api-key": provider.api_key, "Accept": "application/json"}
    http = httpx.AsyncClient(limits=limits, headers=headers, timeout=30)
    print(
        f"poller benchmark: {args.payments} pending payments, fake NOWPayments with"
        f" {args.latency * 1000:.0f} ms added latency (own process), concurrency"
        f" {args.concurrency} for both, batch {args.batch}, alternating slices of {args.slice}"
    )
    print(
        f"client rate limit raised to {args.rate:.0f} req/s: at the production default"
        " (5 req/s) this would benchmark the rate limiter; this measures the poller's overhead"
    )
    print(
        f"{'pass':>8} {'checked':>7} {'poller/s':>9} {'calls/pay':>9} {'bare/s':>8} {'ratio':>6}"
    )
    ratios = [
        report(f"poll {n}", await measure(url, poller, provider, http, args))
        for n in range(1, args.rounds + 1)
    ]
    print(f"best ratio poller/bare while polling: {max(ratios):.2f} (target >= 0.8)")
    if args.finish_share > 0:
        finishing = provider.finish_every(round(1 / args.finish_share))
        report("settle", await measure(url, poller, provider, http, args))
        print(
            f"settle pass: {finishing} payments paid in full meanwhile, each credited through"
            " settle() (one transaction: row lock, ledger, history, outbox)"
        )
    async with sessions() as session:
        problems = await ledger.reconcile(session)
        credited = await session.execute(
            text("SELECT count(*), coalesce(sum(amount_usd), 0) FROM transactions")
        )
        n, total = credited.one()
    print(f"ledger: {n} credits, ${total}; reconcile: {ledger.describe(problems)}")
    await http.aclose()
    await client.aclose()
    await engine.dispose()


async def main(args: argparse.Namespace, provider: Provider) -> None:
    async with throwaway_database() as url:
        await bench(url, provider, args)


def run(args: argparse.Namespace) -> None:
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=serve_fake, args=(theirs, args.payments, args.latency), daemon=True)
    child.start()
    try:
        base_url, api_key, pay_amount = ours.recv()
        provider = Provider(base_url, api_key, Decimal(pay_amount), ours)
        asyncio.run(main(args, provider))
    finally:
        ours.send(("stop", None))
        child.join(10)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slice", type=int, default=1000)
    parser.add_argument("--finish-share", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=100_000.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(parse())
