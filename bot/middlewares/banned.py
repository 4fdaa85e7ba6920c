"""Banned users get one polite sentence and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update

from bot import texts
from core.db.models import User

log = logging.getLogger(__name__)


async def reply_briefly(update: Update, text: str) -> None:
    """Answer a message or a button press with a short text, best effort (a refusal is only
    logged); other updates get nothing."""
    try:
        if update.message is not None:
            if update.message.chat.type == "private":
                await update.message.answer(text)
        elif update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
    except TelegramAPIError as exc:
        log.info("update %s: could not say %r: %s", update.update_id, text[:40], exc)


class BannedUsers(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("user")
        if user is not None and user.is_banned:
            if isinstance(event, Update):
                await reply_briefly(event, texts.BANNED)
            return None
        return await handler(event, data)
