"""Keeps aiogram's per-method response models alive.

aiogram validates every reply with a pydantic model parametrised by the method's return type;
pydantic caches such models only weakly, so the cyclic GC keeps discarding them and the next
request rebuilds one (about 10 ms of CPU each, a tenth of the bot's time under load). Holding one
strong reference per method type used makes the cache stick (bot.aiogram_compat.response_model).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.aiogram_compat import response_model


class PinResponseModels(BaseRequestMiddleware):
    def __init__(self) -> None:
        self._pinned: dict[type[Any], Any] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._pinned:
            self._pinned[kind] = response_model(method)
        return await make_request(bot, method)
