"""Who may use the admin chat: router-level filters, and the explicit check every admin action
repeats (the core checks a third time)."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.types import User as TelegramUser

from core.config import Settings
from core.errors import Forbidden

# Telegram ids are positive and fit a BIGINT; anything else in callback data is forged.
MAX_ID = 2**63 - 1


def is_admin(settings: Settings, user: TelegramUser | None) -> bool:
    return user is not None and not user.is_bot and user.id in settings.telegram.admin_ids


def in_admin_chat(settings: Settings, chat_id: int | None) -> bool:
    admin_chat = settings.telegram.admin_chat_id
    return admin_chat is not None and chat_id == admin_chat


def ensure_admin(settings: Settings, user: TelegramUser | None) -> int:
    """The acting admin's Telegram id. Raises Forbidden("not_admin") (the error router answers
    it politely)."""
    if user is None or not is_admin(settings, user):
        raise Forbidden("not_admin", actor=None if user is None else user.id)
    return user.id


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


# Router filters. Coroutines on purpose (see bot.handlers.common.private_chat).


async def admin_chat_message(message: Message, settings: Settings) -> bool:
    return in_admin_chat(settings, message.chat.id)


async def admin_message(message: Message, settings: Settings) -> bool:
    """An admin writing in the admin chat."""
    return in_admin_chat(settings, message.chat.id) and is_admin(settings, message.from_user)


async def admin_callback(callback: CallbackQuery, settings: Settings) -> bool:
    """An admin pressing a button of a message in the admin chat."""
    chat_id = callback.message.chat.id if callback.message is not None else None
    return in_admin_chat(settings, chat_id) and is_admin(settings, callback.from_user)
