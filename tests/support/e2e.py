"""Driving the whole bot (bot.app.build_app) against FakeTelegram and FakeNowPayments: the
settings an app is built with, and ``say``/``press``, which act as a user and return the bot's
reply (no tests here; the fixtures are in tests/e2e/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from aiogram import Router
from pydantic import SecretStr
from sqlalchemy import text

from bot.app import App
from bot.middlewares.throttling import Clock
from bot.notifier import NotifierTuning, Renderer
from core.config import (
    DatabaseSettings,
    NotifierSettings,
    NowPaymentsSettings,
    Settings,
    TelegramSettings,
)
from core.db.models import User
from core.deposits import DepositService
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, make_user, post_deposit

ADMIN_CHAT = -1009876543210
ADMIN_ID = 777_000_001
FAST = NotifierTuning(idle_seconds=0.05, lease_seconds=5.0, retry_base_seconds=0.05)
TRX = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"

CURRENCIES = text(
    """
    INSERT INTO currencies (code, name, token, network, needs_memo, is_active, sort_order)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', false, true, 10),
           ('USDTTRC20', 'Tether USD (TRC20)', 'USDT', 'trx', false, true, 30)
    ON CONFLICT DO NOTHING
    """
)


def app_settings(
    tg: FakeTelegram,
    np: FakeNowPayments,
    db_url: str,
    *,
    notifier: NotifierSettings | None = None,
    **telegram: Any,
) -> Settings:
    options: dict[str, Any] = {
        "bot_token": SecretStr(tg.token),
        "admin_chat_id": ADMIN_CHAT,
        "admin_ids": [ADMIN_ID],
        "api_base_url": tg.api_base,
        "throttle_per_second": 100.0,
        "shutdown_grace_seconds": 5.0,
        **telegram,
    }
    return Settings(
        telegram=TelegramSettings(**options),
        database=DatabaseSettings(url=SecretStr(db_url)),
        nowpayments=NowPaymentsSettings(
            api_key=SecretStr(np.api_key),
            base_url=np.base_url,
            catalog_requests_per_second=50.0,  # an admin's sync must answer within the waits
        ),
        notifier=notifier or NotifierSettings(),
    )


class MakeApp(Protocol):
    def __call__(
        self,
        db: Db,
        *,
        notifier: NotifierSettings | None = ...,
        tuning: NotifierTuning | None = ...,
        routers: Sequence[Router] | None = ...,
        renderers: dict[str, Renderer] | None = ...,
        start: bool = ...,
        throttle_clock: Clock = ...,
        **telegram: Any,
    ) -> Awaitable[App]: ...


def deposit_service(app: App) -> DepositService:
    """The app's one DepositService, as its handlers get it (the dispatcher's workflow data)."""
    service = app.dispatcher["deposits"]
    assert isinstance(service, DepositService)
    return service


async def say(tg: FakeTelegram, user_id: int, text: str, **sender: Any) -> dict[str, Any]:
    """The user writes; the bot's first message after that."""
    mark = tg.mark()
    tg.send_text(user_id, text, **sender)
    return await tg.wait_for_message(user_id, since=mark)


async def press(
    tg: FakeTelegram, user_id: int, message_id: int, data: str, *, forged: bool = False
) -> dict[str, Any]:
    """The user presses a button of a bot message; the bot's answerCallbackQuery params."""
    mark = tg.mark()
    query = tg.press_button(user_id, message_id, user_id, data, check_button=not forged)
    await tg.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query,
        since=mark,
    )
    answer = tg.callback_answer(query)
    assert answer is not None
    return answer


async def customer(db: Db, tg: FakeTelegram, amount: str = "100.00", **fields: Any) -> User:
    user = await make_user(db.sessions, **fields)
    tg.add_chat(user.telegram_id)
    async with db.sessions.begin() as session:
        await post_deposit(session, user.id, Decimal(amount), f"e2e-admin:{secrets.token_hex(6)}")
    return user
