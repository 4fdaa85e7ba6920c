"""The whole bot wiring (bot.app.build_app) against FakeTelegram, FakeNowPayments and a test DB.

``make_app(db, ...)`` builds and starts an App (stopped at teardown); ``app`` is one on the
shared e2e database. Helpers drive a user: ``say`` sends text and returns the bot's reply,
``press`` presses a button and returns the callback answer.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, Protocol

import pytest
from aiogram import Router
from pydantic import SecretStr

from bot.app import App, build_app
from bot.notifier import NotifierTuning, Renderer
from core.config import (
    DatabaseSettings,
    NotifierSettings,
    NowPaymentsSettings,
    Settings,
    TelegramSettings,
)
from core.db.session import create_engine, create_session_factory
from tests.conftest import Db, DbServer
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram

ADMIN_CHAT = -1009876543210
ADMIN_ID = 777_000_001
FAST = NotifierTuning(idle_seconds=0.05, lease_seconds=5.0, retry_base_seconds=0.05)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.max_poll_timeout = 2.0  # a cancelled long poll must not linger in the fake
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
async def np() -> AsyncIterator[FakeNowPayments]:
    async with FakeNowPayments() as fake:
        yield fake


@pytest.fixture(scope="session")
async def e2e_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """A database of the e2e tests' own: the apps here run a notifier, which must not send
    other test modules' outbox rows."""
    url = await db_server.create(f"paybot_test_e2e_{secrets.token_hex(4)}", template=template_db)
    engine = create_engine(url, pool_size=10)
    yield Db(url, engine, create_session_factory(engine))
    await engine.dispose()


def make_settings(
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
        **telegram: Any,
    ) -> Awaitable[App]: ...


@pytest.fixture
async def make_app(tg: FakeTelegram, np: FakeNowPayments) -> AsyncIterator[MakeApp]:
    apps: list[App] = []

    async def make(
        db: Db,
        *,
        notifier: NotifierSettings | None = None,
        tuning: NotifierTuning | None = FAST,
        routers: Sequence[Router] | None = None,
        renderers: dict[str, Renderer] | None = None,
        start: bool = True,
        **telegram: Any,
    ) -> App:
        settings = make_settings(tg, np, db.url, notifier=notifier, **telegram)
        app = build_app(
            settings,
            engine=db.engine,
            routers=routers,
            renderers=renderers,
            notifier_tuning=tuning,
            polling_timeout=1,
        )
        apps.append(app)
        if start:
            await app.start()
        return app

    yield make
    for app in apps:
        await app.stop()
    for app in apps:
        assert not app.failed


@pytest.fixture
async def app(make_app: MakeApp, e2e_db: Db) -> App:
    return await make_app(e2e_db)


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
