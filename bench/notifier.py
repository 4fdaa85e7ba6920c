"""Notifier throughput: pushes per second of one paybot instance, the real bot.notifier.Notifier
draining the outbox (rows written with core.outbox.enqueue) through the real aiogram Bot, versus
a bare aiogram ``bot.send_message`` loop at the same concurrency, against the same fake Bot API.

The fake Telegram (tests/fakes/telegram.py, a real HTTP server) runs in a process of its own, so
its CPU does not slow either side. Every round goes to fresh rows for distinct private chats, so
per-chat pacing (1/s) is never the bound; the notifier's global pacing is raised (production: 25/s,
Telegram's limit) so that this measures paybot's own overhead: claiming, rendering, sending,
writing the outcome. Everything else is at its defaults (batch size, pool size, tuning). The
concurrency of the bare loop is the notifier's batch size; the mean number of sends in flight is
printed for both. No timing is asserted; at the end every row must be sent exactly once (counted
at the fake) and in the database.

Usage: python -m bench.notifier [--rows 2000] [--rounds 3] [--warmup 200] [--global-rate 10000]
                                [--latency S]
Prints pushes/s for both, the ratio paybot/bare, and the production ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import LinkPreviewOptions
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import throwaway_database
from bot import texts
from bot.factory import create_bot
from bot.notifier import Notifier
from bot.runtime import tune_gc
from bot.telemetry import CountRequests
from core import outbox
from core.config import NotifierSettings, Settings, TelegramSettings
from core.db.session import create_engine, create_session_factory

FIRST_CHAT = 6_000_000_000
KIND = "deposit_status"
PRODUCTION = NotifierSettings()  # the defaults: Telegram's limits
SIDES = ("paybot", "bare")


def payload(chat_id: int) -> dict[str, Any]:
    """A credited deposit: the most common push, rendered by bot.texts like in production."""
    return {
        "payment_id": chat_id,
        "internal_id": f"PAY_20261203000000_{chat_id:010x}",
        "status": "finished",
        "amount_usd": Decimal("25.00"),
        "currency": "BTC",
        "pay_amount": "0.00026500",
        "actually_paid": "0.00026500",
        "credited_usd": Decimal("25.00"),
        "balance_usd": Decimal("125.00"),
    }


@dataclass(frozen=True)
class Layout:
    """Which chats a round sends to: fresh ones for every round and side."""

    rows: int
    warmup: int
    rounds: int

    def chats(self, round_: int, side: str) -> range:
        """Round 0 is the warm-up (``warmup`` chats), then rounds 1..rounds (``rows`` each)."""
        start = FIRST_CHAT + (2 * round_ + SIDES.index(side)) * self.rows
        return range(start, start + (self.warmup if round_ == 0 else self.rows))

    def all_chats(self) -> list[int]:
        return [c for r in range(self.rounds + 1) for side in SIDES for c in self.chats(r, side)]


# --- the fake Bot API, in its own process ------------------------------------------------------


def serve_fake(conn: Connection, chats: Sequence[int], latency: float) -> None:
    asyncio.run(_serve(conn, chats, latency))


async def _serve(conn: Connection, chats: Sequence[int], latency: float) -> None:
    from tests.fakes.telegram import FakeTelegram

    async with FakeTelegram() as tg:
        for chat_id in chats:
            tg.add_chat(chat_id)
        tg.latency = latency
        conn.send((tg.api_base, tg.token))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stats":  # successful sendMessage calls per chat, and the fake's bugs
                sent = {chat_id: len(tg.sent_messages(chat_id)) for chat_id in chats}
                conn.send((sent, len(tg.calls("sendMessage")), len(tg.internal_errors)))
            else:
                break


@dataclass
class Fake:
    api_base: str
    token: str
    conn: Connection

    def stats(self) -> tuple[dict[int, int], int, int]:
        self.conn.send("stats")
        stats: tuple[dict[int, int], int, int] = self.conn.recv()
        return stats


# --- measuring ---------------------------------------------------------------------------------


class InFlight(BaseRequestMiddleware):
    """Time spent in requests, so sends in flight = busy time / wall time (Little's law)."""

    def __init__(self) -> None:
        self.busy = 0.0

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        started = time.perf_counter()
        try:
            return await make_request(bot, method)
        finally:
            self.busy += time.perf_counter() - started


@dataclass(frozen=True)
class Run:
    per_second: float
    cpu_ms: float  # this process's CPU per push (the fake is elsewhere; PostgreSQL too)
    in_flight: float  # mean sends in flight


async def enqueue_rows(sessions: async_sessionmaker[AsyncSession], chats: range) -> None:
    async with sessions.begin() as session:
        for chat_id in chats:
            await outbox.enqueue(
                session,
                chat_id=chat_id,
                kind=KIND,
                payload=payload(chat_id),
                dedup_key=f"bench-notifier:{chat_id}",
            )


async def wait_drained(conn: asyncpg.Connection, chats: range) -> None:
    """Until no row of these chats is pending (checked every 10 ms)."""
    while True:
        pending = await conn.fetchval(
            "SELECT count(*) FROM notifications"
            " WHERE state = 'pending' AND chat_id BETWEEN $1 AND $2",
            chats.start,
            chats.stop - 1,
        )
        if not pending:
            return
        await asyncio.sleep(0.01)


async def paybot_round(
    bot: Bot,
    meter: InFlight,
    sessions: async_sessionmaker[AsyncSession],
    watch: asyncpg.Connection,
    settings: Settings,
    chats: range,
) -> Run:
    """A fresh Notifier (fresh pacing state) drains freshly enqueued rows, from start to the
    last row marked sent."""
    await enqueue_rows(sessions, chats)
    notifier = Notifier(bot, sessions, settings.notifier)
    stop = asyncio.Event()
    busy, cpu = meter.busy, time.process_time()
    started = time.perf_counter()
    running = asyncio.create_task(notifier.run_forever(stop))
    await wait_drained(watch, chats)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    stop.set()
    await running
    return Run(len(chats) / seconds, 1000 * cpu / len(chats), (meter.busy - busy) / seconds)


async def bare_round(bot: Bot, meter: InFlight, text: str, concurrency: int, chats: range) -> Run:
    """``concurrency`` tasks calling bot.send_message until every chat has its message."""
    todo = list(reversed(chats))

    async def sender() -> None:
        while todo:
            await bot.send_message(todo.pop(), text)

    busy, cpu = meter.busy, time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return Run(len(chats) / seconds, 1000 * cpu / len(chats), (meter.busy - busy) / seconds)


def bare_bot(fake: Fake) -> Bot:
    """Plain aiogram, with the same default properties as paybot's Bot (same request body)."""
    return Bot(
        fake.token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(fake.api_base)),
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
        ),
    )


async def verify(url: str, fake: Fake, layout: Layout) -> None:
    """Every row sent exactly once (counted at the fake) and marked sent; every bare send
    arrived exactly once too."""
    sent, calls, fake_errors = fake.stats()
    paybot = [c for r in range(layout.rounds + 1) for c in layout.chats(r, "paybot")]
    bare = [c for r in range(layout.rounds + 1) for c in layout.chats(r, "bare")]
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        states = dict(await conn.fetch("SELECT state, count(*) FROM notifications GROUP BY state"))
    finally:
        await conn.close()
    wrong = [c for c in paybot if sent[c] != 1]
    wrong_bare = [c for c in bare if sent[c] != 1]
    ok = not wrong and not wrong_bare and states == {"sent": len(paybot)} and not fake_errors
    ok = ok and calls == len(paybot) + len(bare)
    print(
        f"  verified: {states.get('sent', 0):,} of {len(paybot):,} outbox rows marked sent;"
        f" at the fake {len(paybot) - len(wrong):,} of their chats got exactly one message"
        f" (bare loop: {len(bare) - len(wrong_bare):,} of {len(bare):,});"
        f" {calls:,} sendMessage calls in all, {fake_errors} fake errors"
        + ("" if ok else f"  -- MISMATCH: rows by state {states}, first chats {wrong[:5]}")
    )
    if not ok:
        raise SystemExit("notifier benchmark: a row was not sent exactly once")


async def bench(url: str, fake: Fake, args: argparse.Namespace, layout: Layout) -> None:
    settings = Settings(
        telegram=TelegramSettings(bot_token=SecretStr(fake.token), api_base_url=fake.api_base),
        notifier=NotifierSettings(global_per_second=args.global_rate),
    )
    concurrency = settings.notifier.batch_size
    engine = create_engine(url, pool_size=settings.database.pool_size)
    sessions = create_session_factory(engine)
    watch = await asyncpg.connect(url.replace("+asyncpg", ""))
    # The notifier's Bot as build_app makes it: no retry middleware, requests counted.
    ours = create_bot(settings.telegram, retry=False)
    ours.session.middleware(CountRequests("notifier"))
    bare = bare_bot(fake)
    meters = {"paybot": InFlight(), "bare": InFlight()}
    ours.session.middleware(meters["paybot"])
    bare.session.middleware(meters["bare"])
    text = texts.deposit_status(outbox.jsonable(payload(FIRST_CHAT)))
    runs: dict[str, list[Run]] = {side: [] for side in SIDES}
    try:
        for round_ in range(layout.rounds + 1):  # alternate so drift affects both alike
            paybot_run = await paybot_round(
                ours, meters["paybot"], sessions, watch, settings, layout.chats(round_, "paybot")
            )
            bare_run = await bare_round(
                bare, meters["bare"], text, concurrency, layout.chats(round_, "bare")
            )
            if round_ == 0:  # warm-up: connections, caches, pydantic; then as `bot run` does
                tune_gc()
                continue
            runs["paybot"].append(paybot_run)
            runs["bare"].append(bare_run)
    finally:
        await ours.session.close()
        await bare.session.close()
        await watch.close()
        await engine.dispose()
    print(
        f"notifier benchmark: {layout.rows:,} outbox rows to {layout.rows:,} distinct private"
        f" chats per round, best of {layout.rounds}; notifier.global_per_second raised to"
        f" {args.global_rate:g}, other settings at their defaults (batch_size {concurrency});"
        f" bare loop with {concurrency} concurrent senders; fake Bot API in its own process,"
        f" {args.latency * 1000:g} ms added latency"
    )
    best = {side: max(r.per_second for r in found) for side, found in runs.items()}
    for label, side in (("paybot Notifier", "paybot"), ("bare send_message", "bare")):
        found = runs[side]
        print(
            f"  {label + ':':20}{best[side]:8.1f} pushes/s   (median"
            f" {statistics.median(r.per_second for r in found):.1f} /s,"
            f" {statistics.median(r.cpu_ms for r in found):.2f} ms CPU per push in this process,"
            f" {statistics.median(r.in_flight for r in found):.1f} sends in flight)"
        )
    print(f"  ratio paybot/bare:  {best['paybot'] / best['bare']:8.2f}")
    ceiling = PRODUCTION.global_per_second
    print(
        f"  production ceiling: {ceiling:g} pushes/s (notifier.global_per_second default;"
        f" per_chat_per_second {PRODUCTION.per_chat_per_second:g}, group_per_minute"
        f" {PRODUCTION.group_per_minute:g}: Telegram's limits), paced with 5% slack to"
        f" {ceiling / 1.05:.1f}/s; paybot's own rate is {best['paybot'] / ceiling:.0f}x that"
    )
    await verify(url, fake, layout)


async def main(args: argparse.Namespace, fake: Fake, layout: Layout) -> None:
    logging.basicConfig(level=logging.WARNING)
    async with throwaway_database() as url:
        await bench(url, fake, args, layout)


def run(args: argparse.Namespace) -> None:
    layout = Layout(args.rows, args.warmup, args.rounds)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(
        target=serve_fake, args=(theirs, layout.all_chats(), args.latency), daemon=True
    )
    child.start()
    try:
        api_base, token = ours.recv()
        asyncio.run(main(args, Fake(api_base, token, ours), layout))
    finally:
        ours.send("stop")
        child.join(10)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--global-rate", type=float, default=10_000.0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    if not 0 < args.warmup <= args.rows:
        parser.error("--warmup must be between 1 and --rows")
    return args


if __name__ == "__main__":
    run(parse())
