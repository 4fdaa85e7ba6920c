"""The process: `python -m bot run` as a subprocess against the fakes, graceful and bounded
shutdown, one poller per token, and a malformed token. The first test execs the command itself;
the others fork it from the fork server (tests/support/zygote.py), which runs the same
bot/__main__.py without importing aiogram again."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from pydantic import SecretStr

from bot.app import run_app
from bot.handlers import get_routers
from core.exit_codes import ExitCode
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, next_telegram_id
from tests.support.e2e import MakeApp, app_settings, say
from tests.support.process import BotProcess, ForkServer, bot_env


async def test_run_answers_and_sigterm_waits_for_the_handler_in_flight(
    tg: FakeTelegram, np: FakeNowPayments, fresh_db: Db
) -> None:
    bot = await BotProcess.start(bot_env(tg, np, fresh_db.url))
    try:
        await tg.wait_for(lambda c: c.method == "setMyCommands", timeout=60)
        user = next_telegram_id()
        reply = await say(tg, user, "/start", first_name="Proc")
        assert "Welcome, Proc" in reply["text"]

        # Every Bot API call now takes a second: SIGTERM lands while /balance is being answered.
        tg.latency = 1.0
        mark = tg.mark()
        tg.send_text(user, "/balance")
        await asyncio.sleep(0.5)
        bot.send_signal(signal.SIGTERM)
        code, stderr = await bot.finish()
    finally:
        if bot.returncode is None:
            bot.kill()
    assert code == ExitCode.OK, stderr
    answer = await tg.wait_for_message(user, since=mark, timeout=0.1)
    assert "Your balance" in answer["text"]
    assert "stopping" in stderr and "Traceback" not in stderr
    assert tg.token not in stderr and tg.token.split(":")[1] not in stderr
    assert "a superuser: it could disable the ledger's triggers" in stderr  # the test's login


async def test_a_second_instance_with_the_same_token_refuses_to_start(
    make_app: MakeApp, tg: FakeTelegram, np: FakeNowPayments, e2e_db: Db, fork_server: ForkServer
) -> None:
    await make_app(e2e_db)  # holds the polling lock
    mark = tg.mark()
    second = await fork_server.start(bot_env(tg, np, e2e_db.url))
    code, stderr = await second.finish(60)
    assert code == ExitCode.ALREADY_RUNNING
    assert "already running for bot id 123456789" in stderr
    # It stopped before talking to Telegram (no deleteWebhook, no commands).
    assert [c.method for c in tg.calls() if c.seq >= mark and c.method != "getUpdates"] == []


async def test_malformed_token_exits_2_naming_the_setting(
    tg: FakeTelegram,
    np: FakeNowPayments,
    e2e_db: Db,
    capsys: pytest.CaptureFixture[str],
    fork_server: ForkServer,
) -> None:
    # Through the CLI: the config check refuses it before the bot is built.
    env = bot_env(tg, np, e2e_db.url, PAYBOT_TELEGRAM__BOT_TOKEN="12345:not a token")
    code, stderr = await (await fork_server.start(env)).finish()
    assert code == ExitCode.CONFIG
    assert "telegram.bot_token" in stderr and "not a token" not in stderr

    # run_app itself: a token that slipped past validation fails inside aiogram's Bot(...).
    settings = app_settings(tg, np, e2e_db.url)
    bad = settings.telegram.model_copy(update={"bot_token": SecretStr("12345:has space")})
    assert await run_app(settings.model_copy(update={"telegram": bad})) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "telegram.bot_token" in err and "has space" not in err


async def test_stop_waits_for_handlers_but_only_within_the_grace(
    make_app: MakeApp, tg: FakeTelegram, e2e_db: Db
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(message: Message) -> None:
        started.set()
        await asyncio.sleep(0.5)
        await message.answer("slow done")

    async def stuck(message: Message) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def routers() -> list[Router]:
        extra = Router(name="slow")
        extra.message.register(slow, Command("slow"))
        extra.message.register(stuck, Command("stuck"))
        return get_routers(extra)

    user = next_telegram_id()
    app = await make_app(e2e_db, routers=routers(), shutdown_grace_seconds=1.5)
    tg.send_text(user, "/slow")
    await started.wait()
    began = time.monotonic()
    await app.stop()
    assert time.monotonic() - began < 1.5
    assert [m["text"] for m in tg.sent_messages(user)] == ["slow done"]  # before stop returned

    started.clear()
    app = await make_app(e2e_db, routers=routers(), shutdown_grace_seconds=1.5)
    tg.send_text(user, "/stuck")
    await started.wait()
    began = time.monotonic()
    await app.stop()
    assert 1.4 < time.monotonic() - began < 3.0  # bounded by the grace
    assert cancelled.is_set()
    # the update was confirmed: a restart does not run the cut-off handler again
    assert tg.pending_updates == 0
