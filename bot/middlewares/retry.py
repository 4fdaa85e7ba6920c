"""Client-session middleware: retry Telegram's flood control (retry_after) and server/network
errors with a bounded backoff.

Not retried: answerCallbackQuery (a late answer is useless; the query expires) and getUpdates
(the polling loop in bot/runtime.py has its own policy).
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.aiogram_compat import api_method_name

log = logging.getLogger(__name__)

# nginx answers 502 with an HTML page, which aiogram reports as ClientDecodeError.
TRANSIENT = (TelegramServerError, TelegramNetworkError, ClientDecodeError)
_NOT_RETRIED: frozenset[type[TelegramMethod[Any]]] = frozenset({AnswerCallbackQuery, GetUpdates})


class RetryRequests(BaseRequestMiddleware):
    def __init__(
        self,
        *,
        max_retries: int = 3,
        max_retry_after: float = 30.0,
        base_delay: float = 0.5,
        max_delay: float = 5.0,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.base_delay = base_delay
        self.max_delay = max_delay

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if type(method) in _NOT_RETRIED:
            return await make_request(bot, method)
        name = api_method_name(method)
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt >= self.max_retries or exc.retry_after > self.max_retry_after:
                    raise
                delay = float(exc.retry_after)
                log.warning("%s: flood control, retrying in %.0f s", name, delay)
            except TRANSIENT as exc:
                if attempt >= self.max_retries:
                    raise
                delay = min(self.base_delay * 2**attempt, self.max_delay)
                delay *= random.uniform(0.8, 1.2)  # jitter
                log.warning("%s: %s, retrying in %.1f s", name, type(exc).__name__, delay)
            attempt += 1
            await asyncio.sleep(delay)
