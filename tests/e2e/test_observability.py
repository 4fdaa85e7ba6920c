"""/healthz and /metrics over real HTTP, from a running app against the fakes and a database of
this module's own; /id in a private chat and in a group."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import App, build_app
from core import metrics
from core.config import ObservabilitySettings
from core.deposits.poller import Poller
from core.withdrawals.service import WithdrawalService
from tests.fakes.nowpayments import FakeNowPayments, Fault
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, DbServer, clone, make_user, next_telegram_id
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID, FAST, app_settings, deposit_service, say
from tests.support.paths import ROOT
from tests.support.process import ForkServer, child_env

COINS = text(
    """
    INSERT INTO currencies (code, name, token, network, decimal_places, needs_memo,
                            min_amount_usd, sort_order)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', 8, false, 2.00, 10),
           ('USDTTRC20', 'Tether USD (TRC20)', 'USDT', 'trx', 6, false, 1.00, 30)
    """
)
TRX = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"

Start = Callable[[Db], Awaitable[App]]


async def _own_db(db_server: DbServer, template_db: str) -> Db:
    return await clone(db_server, template_db, COINS, label="obs_", pool_size=10)


@pytest.fixture(scope="module")
async def obs_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    db = await _own_db(db_server, template_db)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def start(tg: FakeTelegram, np: FakeNowPayments) -> AsyncIterator[Start]:
    """Build and start an app with the HTTP endpoint on a free port; stopped at teardown."""
    apps: list[App] = []

    async def run(db: Db) -> App:
        settings = app_settings(tg, np, db.url).model_copy(
            update={"observability": ObservabilitySettings(http_port=0)}
        )
        app = build_app(settings, engine=db.engine, notifier_tuning=FAST, polling_timeout=1)
        apps.append(app)
        await app.start()
        return app

    yield run
    for app in apps:
        await app.stop()


def base(app: App) -> str:
    assert app.http is not None
    return f"http://127.0.0.1:{app.http.port}"


async def healthz(app: App) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(base(app) + "/healthz")
    return response.status_code, response.json()


async def until_healthy(app: App) -> dict[str, Any]:
    """The loops beat as soon as their tasks first run: wait for that (bounded)."""
    deadline = time.monotonic() + 10
    while True:
        status, body = await healthz(app)
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body
        await asyncio.sleep(0.02)


async def scrape(app: App) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(base(app) + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape_until(app: App, ready: Callable[[Samples], float]) -> Samples:
    deadline = time.monotonic() + 10
    while True:
        samples = await scrape(app)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.02)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_healthz_ok_then_503_when_heartbeats_are_stale(start: Start, obs_db: Db) -> None:
    app = await start(obs_db)
    body = await until_healthy(app)
    assert body["status"] == "ok" and body["problems"] == []
    assert set(body["checks"]) == {"database", "telegram", "poller", "notifier"}
    assert all(check["ok"] for check in body["checks"].values())

    # An hour later by the heartbeats' clock, with no loop going round in between.
    app.health.clock = lambda: time.monotonic() + 3600
    status, body = await healthz(app)
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": True}
    stale = {name for name, check in body["checks"].items() if not check["ok"]}
    assert stale == {"telegram", "poller", "notifier"}
    assert any(p.startswith("poller: no heartbeat for") for p in body["problems"])

    app.health.clock = time.monotonic
    assert (await healthz(app))[0] == 200
    assert value(await scrape(app), "paybot_database_figures_fresh") == 1

    running = app.health.polling_running
    app.health.polling_running = lambda: False
    status, body = await healthz(app)
    assert status == 503 and body["problems"] == ["telegram: the polling task is not running"]
    app.health.polling_running = running


async def test_healthz_503_when_the_database_is_gone(
    start: Start, db_server: DbServer, template_db: str
) -> None:
    db = await _own_db(db_server, template_db)
    try:
        app = await start(db)
        await until_healthy(app)
        name = make_url(db.url).database  # also a socket URL (the embedded server)
        async with db_server.admin.connect() as conn:
            await conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        status, body = await healthz(app)
        assert status == 503
        assert body["checks"]["database"]["ok"] is False
        assert any(p.startswith("database: not answering") for p in body["problems"])
        # /metrics still answers, and says its database figures are not current.
        scraped = await scrape(app)
        assert value(scraped, "paybot_database_figures_fresh") == 0
        await app.stop()
    finally:
        await db.engine.dispose()


async def test_metrics_follow_a_real_deposit_and_withdrawal(
    start: Start, obs_db: Db, np: FakeNowPayments, tg: FakeTelegram
) -> None:
    app = await start(obs_db)
    before = await scrape(app)
    user = await make_user(obs_db.sessions)
    tg.add_chat(user.telegram_id)  # the user has written to the bot before
    view = await deposit_service(app).create(
        user_id=user.id,
        amount_usd="25",
        currency_code="BTC",
    )
    created = await scrape(app)
    assert change(before, created, "paybot_payments", status="waiting") == 1
    assert change(before, created, "paybot_deposit_credits_total") == 0
    posts = ("paybot_provider_requests_total", "/v1/payment", "2xx")
    assert change(before, created, posts[0], endpoint=posts[1], outcome=posts[2]) == 1

    assert view.provider_payment_id is not None
    np.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount)
    async with obs_db.sessions.begin() as session:  # due now instead of in 10 s
        await session.execute(
            text("UPDATE payments SET next_check_at = now() WHERE id = :id"), {"id": view.id}
        )
    policy = deposit_service(app).policy
    poller = Poller(app.sessions, app.nowpayments, app.settings, policy=policy)
    await poller.run_once()  # the app's own poller may have taken it first: same outcome
    await tg.wait_for_message(user.telegram_id, contains="Deposit credited")
    # The notifier marks the row sent just after Telegram took the message.
    credited = await scrape_until(app, lambda s: value(s, "paybot_outbox_messages", state="sent"))
    assert change(before, credited, "paybot_payments", status="finished") == 1
    assert change(before, credited, "paybot_payments", status="waiting") == 0
    assert change(before, credited, "paybot_deposit_credits_total") == 1
    assert change(before, credited, "paybot_deposit_credited_usd_total") == 25
    assert change(before, credited, "paybot_balances_usd") == 25
    polls = ("paybot_provider_requests_total", "/v1/payment/{id}", "2xx")
    assert change(before, credited, polls[0], endpoint=polls[1], outcome=polls[2]) >= 1
    assert value(credited, "paybot_loop_seconds_count", loop="poller_batch") >= 1
    sent = value(
        credited,
        "paybot_telegram_requests_total",
        bot="notifier",
        method="sendMessage",
        outcome="ok",
    )
    assert sent >= 1
    assert value(credited, "paybot_outbox_messages", state="sent") >= 1

    withdrawals = WithdrawalService(app.sessions, app.settings)
    await withdrawals.request(
        user_id=user.id, currency_code="USDTTRC20", amount=Decimal("10"), address=TRX
    )
    held = await scrape(app)
    assert change(before, held, "paybot_withdrawals", status="pending") == 1
    assert change(before, held, "paybot_withdrawals_usd", status="pending") == 10
    assert change(before, held, "paybot_balances_usd") == 15  # the hold leaves the balances
    for component in ("telegram", "poller", "notifier"):
        assert ("paybot_heartbeat_age_seconds", (("component", component),)) in held


async def test_provider_errors_and_telegram_429s_are_counted(
    start: Start, obs_db: Db, np: FakeNowPayments, tg: FakeTelegram
) -> None:
    app = await start(obs_db)
    before = await scrape(app)
    np.inject("status", Fault.SERVER_ERROR, count=1, status=500)
    await app.nowpayments.status()  # a read: retried after the 500
    tg.fail_next("sendMessage", 429, retry_after=1)  # the reply is retried after 1 s
    user = next_telegram_id()
    await say(tg, user, "/help")
    after = await scrape(app)
    failed = ("paybot_provider_requests_total", "/v1/status", "5xx")
    assert change(before, after, failed[0], endpoint=failed[1], outcome=failed[2]) == 1
    retried = ("paybot_provider_requests_total", "/v1/status", "2xx")
    assert change(before, after, retried[0], endpoint=retried[1], outcome=retried[2]) == 1
    flood = ("paybot_telegram_requests_total", "updates", "sendMessage", "retry_after")
    assert change(before, after, flood[0], bot=flood[1], method=flood[2], outcome=flood[3]) == 1
    sent = ("paybot_telegram_requests_total", "updates", "sendMessage", "ok")
    assert change(before, after, sent[0], bot=sent[1], method=sent[2], outcome=sent[3]) == 1


async def test_id_answers_in_private_and_in_a_group_without_admins(
    tg: FakeTelegram, np: FakeNowPayments, obs_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    # Before any admin is configured: no admin chat, no admin ids.
    settings = app_settings(tg, np, obs_db.url, admin_chat_id=None, admin_ids=[])
    app = build_app(settings, engine=obs_db.engine, notifier_tuning=FAST, polling_timeout=1)
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await app.start()
    # Every start says what will not work without the provider login.
    [warning] = [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.app" and r.getMessage().startswith("nowpayments.email/password")
    ]
    assert warning.startswith("nowpayments.email/password: not set")
    assert "cannot be found by order_id" in warning
    try:
        user = next_telegram_id()
        reply = await say(tg, user, "/id")
        assert reply["text"].startswith(f"This chat's id: {user}")
        assert f"Your user id: {user}" in reply["text"] and "admin_ids" in reply["text"]
        mark = tg.mark()
        tg.send_text(ADMIN_ID, "/id", ADMIN_CHAT, chat_type="supergroup")
        # Other rows in the shared database (alerts, cards) may reach this chat too.
        group = await tg.wait_for_message(ADMIN_CHAT, since=mark, contains="This chat's id")
        assert group["text"].startswith(f"This chat's id: {ADMIN_CHAT}")
        assert f"Your user id: {ADMIN_ID}" in group["text"]
        assert "admin_chat_id" in group["text"]
    finally:
        await app.stop()
    assert metrics.installed() is None


async def test_ids_command_answers_with_nothing_but_the_token(
    tg: FakeTelegram, fork_server: ForkServer
) -> None:
    """`python -m bot ids` before anything else is configured (no admins, no API key, no
    database): /id answers in private and in a group, and the ids are printed."""
    env = child_env()
    env |= {
        "PAYBOT_CONFIG": str(ROOT / "config.dev.yaml"),
        "PAYBOT_TELEGRAM__BOT_TOKEN": tg.token,
        "PAYBOT_TELEGRAM__API_BASE_URL": tg.api_base,
    }
    proc = await fork_server.start(env, "ids")
    try:
        await tg.wait_for(lambda c: c.method == "getUpdates", timeout=60)
        user = next_telegram_id()
        reply = await say(tg, user, "/id")
        assert f"Your user id: {user}" in reply["text"]
        mark = tg.mark()
        tg.send_text(ADMIN_ID, "/id", ADMIN_CHAT, chat_type="supergroup", chat_title="Admins")
        group = await tg.wait_for_message(ADMIN_CHAT, since=mark)
        assert group["text"].startswith(f"This chat's id: {ADMIN_CHAT}")
        proc.send_signal(signal.SIGTERM)
        code, err = await proc.finish()
    finally:
        if proc.returncode is None:
            proc.kill()
    assert code == 0, err
    printed = proc.stdout
    assert f"chat {user} (private): user {user}" in printed
    assert f"chat {ADMIN_CHAT} (supergroup 'Admins'): user {ADMIN_ID}" in printed
    assert tg.token not in printed + err
