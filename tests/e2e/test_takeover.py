"""Crash recovery with real processes: `python -m bot run` (forked by tests/support/zygote.py)
is SIGKILLed while it holds an outbox
row (its send hangs in the fake Telegram) and a payment lease (its status request hangs in the
fake NOWPayments); the next process takes both over at once (within 10 s of its start), not
after the leases (300 s here; 60 s by default on main, where this test fails)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

from sqlalchemy import text

from core import outbox
from tests.fakes.nowpayments import FakeNowPayments, Fault
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, make_user
from tests.support.deposits import add_coins, seed_payments
from tests.support.process import ForkServer, bot_env

# Leases far longer than the test may take: only the take-over at start can pass it.
LEASES = {
    "PAYBOT_NOTIFIER__LEASE_SECONDS": "300",
    "PAYBOT_PAYMENTS__POLL_LEASE_SECONDS": "300",
}


async def within(
    seconds: float, check: Callable[[], bool], *, since: float | None = None
) -> float:
    """Poll ``check`` until it holds, at most ``seconds`` after ``since`` (monotonic; default
    now); the seconds from ``since`` until it held."""
    began = time.monotonic() if since is None else since
    while not check():
        if time.monotonic() - began > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def scalar(db: Db, sql: str, **params: object) -> object:
    async with db.sessions() as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def test_a_killed_process_claims_are_taken_over_by_the_next_one(
    tg: FakeTelegram, np: FakeNowPayments, fresh_db: Db, fork_server: ForkServer
) -> None:
    user = await make_user(fresh_db.sessions)
    tg.add_chat(user.telegram_id)
    await add_coins(fresh_db)
    [payment] = await seed_payments(fresh_db, np, [user.id], 1, lambda i, pid: None)
    env = bot_env(tg, np, fresh_db.url, **LEASES)

    # The first process claims the push and the payment, and hangs on both.
    tg.hang_chat(user.telegram_id)
    np.inject("get_payment", Fault.HANG)
    first = await fork_server.start(env)
    try:
        await tg.wait_for(lambda c: c.method == "setMyCommands", timeout=120)
        async with fresh_db.sessions.begin() as session:
            await outbox.enqueue(
                session,
                chat_id=user.telegram_id,
                kind="deposit_status",
                payload={"status": "finished", "internal_id": "D-KILL", "amount_usd": "5.00"},
                dedup_key="takeover-1",
            )
        await within(30, lambda: tg.hanging == 1 and np.requests["get_payment"] == 1)
        leased = await scalar(
            fresh_db,
            "SELECT lease_until > now() FROM payments WHERE id = :id",
            id=payment.payment_id,
        )
        claimed = await scalar(
            fresh_db,
            "SELECT lease_until > now() FROM notifications WHERE dedup_key = 'takeover-1'",
        )
        assert leased is True and claimed is True
        first.send_signal(signal.SIGKILL)
        code, _ = await first.finish()
        assert code == -signal.SIGKILL
    finally:
        if first.returncode is None:
            first.kill()
    # Telegram and the provider work again; the dead process's requests are dropped unanswered.
    tg.unhang_chat(user.telegram_id)
    np.heal()
    assert tg.sent_messages(user.telegram_id) == []

    mark = tg.mark()
    started = time.monotonic()
    second = await fork_server.start(env)
    try:
        # "Started" is when the process holds the lock and asks Telegram who it is: before
        # that the interpreter is importing (aiogram's models alone take seconds on a loaded
        # 2-core machine), which no take-over logic can shorten.
        up_call = await tg.wait_for(lambda c: c.method == "getMe" and c.seq > mark, timeout=120)
        up = up_call.at
        pushed = await within(
            10,
            lambda: any("D-KILL" in m["text"] for m in tg.sent_messages(user.telegram_id)),
            since=up,
        )
        checked = await within(10, lambda: np.requests["get_payment"] >= 2, since=up)
        second.send_signal(signal.SIGTERM)
        code, stderr = await second.finish()
    finally:
        if second.returncode is None:
            second.kill()
    assert code == 0, stderr
    print(
        f"takeover: up {up - started:.2f} s after the spawn; then the push in {pushed:.2f} s,"
        f" the payment checked in {checked:.2f} s"
    )
    assert "took over from a stopped process: 1 outbox rows and 1 payments released" in stderr
    assert [m["text"].count("D-KILL") for m in tg.sent_messages(user.telegram_id)] == [1]
    state = await scalar(
        fresh_db, "SELECT state FROM notifications WHERE dedup_key = 'takeover-1'"
    )
    assert state == "sent"
