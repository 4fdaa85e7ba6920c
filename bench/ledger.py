"""Ledger throughput: postings/s through core.ledger.post() versus the same SQL statements issued
through raw asyncpg, at 1 and 8 concurrent writers, in one process run on one database.

Usage: python -m bench.ledger [--postings N] [--rounds R]
Prints each figure and the ratio post()/raw (target at 8 writers: >= 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg
from sqlalchemy import text

from bench.common import throwaway_database
from core import ledger
from core.db.models import TxType
from core.db.session import create_engine, create_session_factory

# Exactly the statement post() issues (asyncpg $n placeholders).
RAW_POST = ledger.POST_SQL
AMOUNT = Decimal("1.00")


async def run_writers(
    writers: int, postings: int, one: Callable[[int, int], Awaitable[None]]
) -> float:
    """postings split over `writers` tasks, each on its own user; returns postings/s."""
    per_writer = postings // writers

    async def writer(w: int) -> None:
        for i in range(per_writer):
            await one(w, i)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return per_writer * writers / (time.perf_counter() - started)


async def main(postings: int, rounds: int) -> None:
    async with throwaway_database() as url:
        await bench(url, postings, rounds)


async def bench(url: str, postings: int, rounds: int) -> None:
    engine = create_engine(url, pool_size=8)
    sessions = create_session_factory(engine)
    pool = await asyncpg.create_pool(url.replace("+asyncpg", ""), min_size=8, max_size=8)
    assert pool is not None
    async with sessions.begin() as s:
        ids = (
            (
                await s.execute(
                    text(
                        "INSERT INTO users (telegram_id) SELECT g FROM generate_series(1, 16) g"
                        " RETURNING id"
                    )
                )
            )
            .scalars()
            .all()
        )
    # Writers 0-7 use post(), 8-15 raw SQL, so both start from existing balance rows alike.
    users_post, users_raw = list(ids[:8]), list(ids[8:])
    run = secrets.token_hex(3)
    counter = iter(range(10**9))

    async def via_post(w: int, i: int) -> None:
        async with sessions.begin() as session:
            await ledger.post(
                session,
                user_id=users_post[w],
                type=TxType.BONUS,  # a deposit row needs a payment (migration 0004)
                amount=AMOUNT,
                idempotency_key=f"p-{run}-{next(counter)}",
            )

    async def via_raw(w: int, i: int) -> None:
        user_id, key = users_raw[w], f"r-{run}-{next(counter)}"
        async with pool.acquire() as conn, conn.transaction():
            args = (user_id, key, "bonus", AMOUNT, None, None, None, "{}")
            row = await conn.fetchrow(RAW_POST, *args)
            if row is None:
                await conn.execute(
                    "INSERT INTO user_balances (user_id) VALUES ($1)"
                    " ON CONFLICT (user_id) DO NOTHING",
                    user_id,
                )
                row = await conn.fetchrow(RAW_POST, *args)
            assert row["id"] is not None

    # Warm both paths (prepared statements, pool connections, balance rows).
    await run_writers(8, 200, via_post)
    await run_writers(8, 200, via_raw)
    print(f"ledger benchmark: {postings} postings per measurement, best of {rounds} rounds")
    print(f"{'writers':>7} {'post() /s':>11} {'raw /s':>11} {'ratio':>7}")
    for writers in (1, 8):
        ours, raw = [], []
        for _ in range(rounds):  # alternate so drift affects both alike
            raw.append(await run_writers(writers, postings, via_raw))
            ours.append(await run_writers(writers, postings, via_post))
        best_ours, best_raw = max(ours), max(raw)
        print(
            f"{writers:>7} {best_ours:>11.0f} {best_raw:>11.0f} {best_ours / best_raw:>7.2f}"
            f"   (medians {statistics.median(ours):.0f} / {statistics.median(raw):.0f})"
        )
    async with sessions() as s:
        problems = await ledger.reconcile(s)
    print("reconcile after benchmark:", ledger.describe(problems))
    await pool.close()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.postings, args.rounds))
