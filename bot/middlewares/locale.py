"""The language an update is answered in: the admin chat's setting in the admin chat, else the
user's choice (/language), else Telegram's language_code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject
from aiogram.types import User as TelegramUser

from bot.i18n import use_locale
from core.db.models import User


class UpdateLocale(BaseMiddleware):
    """Outer (update) middleware, registered twice: first, so even a throttling reply speaks
    the sender's language (Telegram's code), and again after CurrentUser, when the stored
    choice is known. The locale is reset when the update is done."""

    def __init__(self, admin_chat_id: int | None, admin_language: str) -> None:
        self._admin_chat_id = admin_chat_id
        self._admin_language = admin_language

    def locale_for(self, data: dict[str, Any]) -> str:
        chat: Chat | None = data.get("event_chat")
        if chat is not None and self._admin_chat_id is not None and chat.id == self._admin_chat_id:
            return self._admin_language
        user: User | None = data.get("user")
        if user is not None:
            return user.locale or user.language or ""
        tg_user: TelegramUser | None = data.get("event_from_user")
        return (tg_user.language_code or "") if tg_user is not None else ""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        with use_locale(self.locale_for(data)):
            return await handler(event, data)
