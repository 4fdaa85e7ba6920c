"""The real process (`python -m bot run`, forked by tests/support/zygote.py) logging at DEBUG,
as text and as JSON, while the provider and Telegram fail: ids come out as fields, httpx stays
quiet, and no secret (bot token, API key, provider password, database password) reaches the
output. /healthz and /metrics of the same process answer over HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db.models import Payment
from tests.fakes.nowpayments import FakeNowPayments, Fault
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, make_user
from tests.support.process import ForkServer, bot_env

DB_PASSWORD = "db-Pa55-w0rd-xyz"  # local trust auth ignores it; the process must still hide it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def due_payment(db: Db) -> int:
    """A waiting deposit due for a check now."""
    user = await make_user(db.sessions)
    async with db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO currencies (code, name, token, network) VALUES"
                " ('BTC', 'Bitcoin', 'BTC', 'btc') ON CONFLICT DO NOTHING"
            )
        )
        payment = Payment(
            internal_payment_id="PAY_20261203120000_0badc0de",
            user_id=user.id,
            amount_usd=Decimal("25.00"),
            currency_code="BTC",
            provider_payment_id="4999000001",
            status="waiting",
            pay_amount=Decimal("0.001"),
        )
        session.add(payment)
        await session.flush()
        await session.execute(
            text("UPDATE payments SET next_check_at = now() WHERE id = :id"), {"id": payment.id}
        )
        return payment.id


async def last_error(db: Db, payment_id: int) -> str | None:
    async with db.sessions() as session:
        found = await session.execute(
            text("SELECT last_error FROM payments WHERE id = :id"), {"id": payment_id}
        )
        return found.scalar_one_or_none()


@pytest.mark.parametrize("json_format", [False, True], ids=["text", "json"])
async def test_debug_logs_carry_ids_and_no_secrets(
    tg: FakeTelegram,
    np: FakeNowPayments,
    fresh_db: Db,
    json_format: bool,
    fork_server: ForkServer,
) -> None:
    payment_id = await due_payment(fresh_db)
    url = make_url(fresh_db.url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    port = free_port()
    env = bot_env(
        tg,
        np,
        url,
        PAYBOT_LOGGING__LEVEL="DEBUG",
        PAYBOT_LOGGING__JSON_FORMAT=str(json_format).lower(),
        PAYBOT_NOWPAYMENTS__EMAIL=np.email,
        PAYBOT_NOWPAYMENTS__PASSWORD=np.password,
        PAYBOT_OBSERVABILITY__HTTP_PORT=str(port),
    )
    # The provider refuses every status check (after the client tried its JWT) and the
    # currency sync; Telegram fails getUpdates twice and the replies to a user.
    np.inject("get_payment", Fault.UNAUTHORIZED)
    np.inject("full_currencies", Fault.SERVER_ERROR, status=500)
    tg.fail_next("getUpdates", 502, times=2)
    bot = await fork_server.start(env)
    try:
        await tg.wait_for(lambda c: c.method == "setMyCommands", timeout=60)
        deadline = time.monotonic() + 30
        while await last_error(fresh_db, payment_id) is None:
            assert time.monotonic() < deadline, "the poller never checked the payment"
            await asyncio.sleep(0.05)
        user = 4_242_424_242
        tg.fail_next("sendMessage", 400, times=2, chat_id=user)  # the reply, then the apology
        mark = tg.mark()
        tg.send_text(user, "/start")
        for _ in range(2):
            call = await tg.wait_for(
                lambda c: c.method == "sendMessage" and c.params.get("chat_id") == user,
                timeout=30,
                since=mark,
            )
            mark = call.seq + 1
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
            scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
        bot.send_signal(signal.SIGTERM)
        code, stderr = await bot.finish()
    finally:
        if bot.returncode is None:
            bot.kill()
    assert code == 0, stderr[-3000:]
    assert health.status_code == 200, health.text
    assert 'paybot_provider_requests_total{endpoint="/v1/payment/{id}",outcome="4xx"}' in (
        scraped.text
    )

    for secret in (tg.token, tg.token.split(":")[1], np.api_key, np.password, DB_PASSWORD):
        assert secret not in stderr
    assert "HTTP Request:" not in stderr  # httpx's line per request

    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines
    if json_format:
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
        polled = [r for r in records if r.get("payment_id") == payment_id]
        assert polled and polled[0]["logger"] == "core.deposits.poller"
        assert any(r["level"] == "DEBUG" for r in records)
        assert any("getUpdates failed" in r["message"] for r in records)
    else:
        polled = [line for line in lines if f"payment_id={payment_id}" in line]
        assert polled and " core.deposits.poller: " in polled[0]
        assert any(" DEBUG " in line for line in lines)
        assert any("getUpdates failed" in line for line in lines)
