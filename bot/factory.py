"""Factories for the Bot, the FSM storage and the Dispatcher. Nothing is built at import time."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import (
    DisabledEventIsolation,
    MemoryStorage,
    SimpleEventIsolation,
)
from aiogram.types import LinkPreviewOptions
from aiogram.utils.token import TokenValidationError
from aiohttp import ClientSession
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.middlewares import (
    BannedUsers,
    CurrentUser,
    HandlerContext,
    PinResponseModels,
    ReadSession,
    RetryRequests,
    Throttling,
    UpdateLocale,
)
from bot.middlewares.throttling import Clock
from core.config import TelegramSettings
from core.errors import ConfigError

log = logging.getLogger(__name__)


class BotSession(AiohttpSession):
    """aiogram's session; close() skips the 250 ms wait meant for TLS shutdown when the API is
    plain http (a local telegram-bot-api server next to the bot, or a test fake).

    The aiohttp client is remembered from create_session(), the public method aiogram gets it
    from; if aiogram ever stops calling it, close() still closes, with the wait."""

    _client: ClientSession | None = None

    async def create_session(self) -> ClientSession:
        self._client = await super().create_session()
        return self._client

    async def close(self) -> None:
        client = self._client
        if client is not None and not client.closed and not self.api.base.startswith("https://"):
            await client.close()  # then aiogram's close() finds it closed: no wait
        await super().close()


def api_server(settings: TelegramSettings) -> TelegramAPIServer:
    if settings.api_base_url:
        return TelegramAPIServer.from_base(settings.api_base_url.rstrip("/"))
    return PRODUCTION


def create_bot(settings: TelegramSettings, *, retry: bool = True) -> Bot:
    """The Bot with HTML default parse mode. ``retry`` adds the flood/5xx retry middleware; the
    notifier's Bot goes without it, because it owns pacing and retries through the outbox."""
    if settings.bot_token is None:
        raise ConfigError("incomplete", detail="telegram.bot_token: missing")
    session = BotSession(api=api_server(settings))
    session.middleware(PinResponseModels())
    if retry:
        session.middleware(RetryRequests())
    try:
        return Bot(
            settings.bot_token.get_secret_value(),
            session=session,
            default=DefaultBotProperties(
                parse_mode=ParseMode.HTML,
                link_preview=LinkPreviewOptions(is_disabled=True),
            ),
        )
    except TokenValidationError:
        # aiogram refuses a malformed token before any request; never echo the token itself.
        raise ConfigError(
            "invalid",
            detail=(
                "telegram.bot_token: is not a Telegram bot token (expected 123456:ABC..., from"
                " @BotFather; set PAYBOT_TELEGRAM__BOT_TOKEN in the environment or .env, or"
                " `telegram.bot_token` in the config file)"
            ),
        ) from None


def create_storage(settings: TelegramSettings) -> tuple[BaseStorage, BaseEventIsolation]:
    """Memory by default; Redis (keys carry the bot id) when FSM state must outlive a restart or
    be shared. SimpleEventIsolation serialises one user's updates in this process, which is
    enough with one poller per token (the advisory lock in bot/runtime.py)."""
    if settings.fsm_storage == "redis":
        try:
            from aiogram.fsm.storage.redis import RedisStorage
        except ImportError:
            raise ConfigError(
                "invalid",
                detail=(
                    "telegram.fsm_storage: 'redis' needs the redis package (pip install redis),"
                    " or set PAYBOT_TELEGRAM__FSM_STORAGE=memory"
                ),
            ) from None
        storage = RedisStorage.from_url(
            settings.redis_url, key_builder=DefaultKeyBuilder(with_bot_id=True)
        )
        return storage, SimpleEventIsolation()
    return MemoryStorage(), DisabledEventIsolation()


def read_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for the per-update reads: autocommit, same pool (about a fifth of a /balance
    round trip's CPU went into BEGIN and ROLLBACK)."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


def create_dispatcher(
    telegram: TelegramSettings,
    *,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    routers: Sequence[Router],
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    throttle_clock: Clock = time.monotonic,
    **workflow_data: Any,
) -> Dispatcher:
    """Middlewares in the order they run: the locale, throttling (before any DB work), the current
    user with their balance, the locale again (the user's stored choice), the banned check;
    then, around the chosen handler, a read session if it takes one and the handler context.
    Routers are tried in the given order. ``sessions`` (transactions, for services) goes into
    the workflow data. ``throttle_clock`` is what the throttling measures refills with (a test
    moves it on instead of waiting)."""
    if storage is None:
        storage, events_isolation = create_storage(telegram)
    dp = Dispatcher(
        storage=storage, events_isolation=events_isolation, sessions=sessions, **workflow_data
    )
    locale = UpdateLocale(telegram.admin_chat_id, telegram.admin_language)
    dp.update.outer_middleware(locale)
    dp.update.outer_middleware(Throttling(telegram.throttle_per_second, clock=throttle_clock))
    dp.update.outer_middleware(CurrentUser(engine, sessions))
    dp.update.outer_middleware(locale)  # again, now that the user's own choice is known
    dp.update.outer_middleware(BannedUsers())
    # Handlers are registered on these two observers only (and errors, which need neither).
    for inner in (ReadSession(read_sessions(engine)), HandlerContext()):
        dp.message.middleware(inner)
        dp.callback_query.middleware(inner)
    dp.include_routers(*routers)
    return dp
