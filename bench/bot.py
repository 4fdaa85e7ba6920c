"""Bot round trips: /balance answered through the whole paybot stack (polling, middlewares with
the DB session and user, the balance query, HTML reply) versus a bare aiogram echo bot, both
against the same in-process fake Bot API with the same concurrent simulated users.

Usage: python -m bench.bot [--users 50] [--seconds 8] [--rounds 3]
Prints round trips per second for both and the ratio paybot/echo (target >= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

from aiogram import Dispatcher
from aiogram.types import Message
from pydantic import SecretStr

from bench.common import throwaway_database
from bot.app import App, build_app
from bot.notifier import NotifierTuning
from bot.runtime import tune_gc
from core import ledger
from core.config import (
    DatabaseSettings,
    NowPaymentsSettings,
    Settings,
    TelegramSettings,
)
from core.db.models import TxType
from core.db.session import create_engine, create_session_factory
from core.users import upsert_user
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram

FIRST_USER = 7_000_000


async def drive(tg: FakeTelegram, users: int, seconds: float, expect: str) -> float:
    """Each user sends /balance and waits for the reply, again and again; round trips/s."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def user(user_id: int) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            mark = tg.mark()
            tg.send_text(user_id, "/balance")
            await tg.wait_for_message(user_id, contains=expect, since=mark, timeout=30)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(user(FIRST_USER + i) for i in range(users)))
    return done / (time.perf_counter() - started)


@contextlib.asynccontextmanager
async def paybot(tg: FakeTelegram, np: FakeNowPayments, url: str) -> AsyncIterator[App]:
    settings = Settings(
        telegram=TelegramSettings(
            bot_token=SecretStr(tg.token),
            admin_chat_id=-100,
            admin_ids=[1],
            api_base_url=tg.api_base,
            # Users here send back to back; the middleware still runs, it just never refuses.
            throttle_per_second=1000.0,
        ),
        database=DatabaseSettings(url=SecretStr(url), pool_size=50),
        nowpayments=NowPaymentsSettings(api_key=SecretStr(np.api_key), base_url=np.base_url),
    )
    app = build_app(settings, notifier_tuning=NotifierTuning(idle_seconds=1.0))
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@contextlib.asynccontextmanager
async def echo_bot(tg: FakeTelegram) -> AsyncIterator[None]:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"Your balance: {message.text}")

    bot = tg.make_bot()
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    try:
        yield
    finally:
        await dp.stop_polling()
        await polling


async def seed(url: str, users: int) -> None:
    """Registered users with one credit each, so /balance reads a real balance row."""
    engine = create_engine(url, pool_size=2)
    sessions = create_session_factory(engine)
    async with sessions.begin() as session:
        for i in range(users):
            user = await upsert_user(session, FIRST_USER + i, first_name="Test", language="en")
            await ledger.post(
                session,
                user_id=user.id,
                type=TxType.BONUS,  # a deposit row needs a payment (migration 0004)
                amount=Decimal("42.00"),
                idempotency_key=f"bench-bot-{i}",
            )
    await engine.dispose()


Runner = Callable[[], contextlib.AbstractAsyncContextManager[object]]


@dataclass(frozen=True)
class Run:
    per_second: float
    cpu_ms: float  # this process's CPU per round trip (bot + fake + simulated users)


async def measure(runner: Runner, tg: FakeTelegram, users: int, seconds: float) -> Run:
    async with runner():
        await drive(tg, users, min(2.0, seconds), "Your balance")  # warm-up
        # The fake records every call; drop them, and keep what start-up built out of the
        # collector's way, as `python -m bot run` does (bot.runtime.tune_gc).
        tg.clear()
        tune_gc()
        cpu = time.process_time()
        rate = await drive(tg, users, seconds, "Your balance")
        cpu = time.process_time() - cpu
    return Run(rate, 1000 * cpu / (rate * seconds))


async def bench(url: str, users: int, seconds: float, rounds: int) -> None:
    await seed(url, users)
    async with FakeTelegram() as tg, FakeNowPayments() as np:
        tg.max_poll_timeout = 5.0
        runs: dict[str, list[Run]] = {"paybot": [], "echo": []}
        scenarios: dict[str, Runner] = {
            "echo": lambda: echo_bot(tg),
            "paybot": lambda: paybot(tg, np, url),
        }
        for _ in range(rounds):  # alternate so drift affects both alike
            for name, runner in scenarios.items():
                runs[name].append(await measure(runner, tg, users, seconds))
        assert tg.internal_errors == []
    print(
        f"bot benchmark: /balance round trips, {users} concurrent users, {seconds:g} s per run,"
        f" best of {rounds} (fake Bot API and users in this process)"
    )
    best = {name: max(r.per_second for r in found) for name, found in runs.items()}
    for label, name in (("paybot (whole stack)", "paybot"), ("bare aiogram echo", "echo")):
        found = runs[name]
        print(
            f"  {label + ':':22}{best[name]:8.1f} /s   (median"
            f" {statistics.median(r.per_second for r in found):.1f} /s,"
            f" {statistics.median(r.cpu_ms for r in found):.2f} ms CPU per round trip)"
        )
    print(f"  ratio paybot/echo:    {best['paybot'] / best['echo']:8.2f}   (target >= 0.5)")


async def main(users: int, seconds: float, rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    async with throwaway_database() as url:
        await bench(url, users, seconds, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.seconds, args.rounds))
