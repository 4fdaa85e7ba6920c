"""Bot API request counting for /metrics: a client-session middleware, added innermost so it
sees every attempt (a 429 that RetryRequests retries counts too)."""

from __future__ import annotations

import asyncio

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.aiogram_compat import api_method_name
from core import metrics


class CountRequests(BaseRequestMiddleware):
    """``paybot_telegram_requests_total{bot, method, outcome}``."""

    def __init__(self, bot_label: str) -> None:
        self.bot_label = bot_label

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        outcome = "error"
        try:
            response = await make_request(bot, method)
            outcome = "ok"
            return response
        except asyncio.CancelledError:  # a long poll ended by shutdown
            outcome = "cancelled"
            raise
        except TelegramRetryAfter:
            outcome = "retry_after"
            raise
        except TelegramForbiddenError:
            outcome = "forbidden"
            raise
        except TelegramBadRequest:
            outcome = "bad_request"
            raise
        finally:
            current = metrics.installed()
            if current is not None:
                current.telegram_requests.labels(
                    self.bot_label, api_method_name(method), outcome
                ).inc()
