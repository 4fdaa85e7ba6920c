"""/id in any chat, private or group, even before any admin is configured: the chat's id and
the sender's, which is how an operator finds telegram.admin_chat_id and telegram.admin_ids."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import Message

from bot import texts

# Telegram's stand-in sender for an anonymous group admin (the real id is hidden).
_ANONYMOUS_ADMIN = 1087968824


async def show_ids(message: Message, ids_echo: Callable[[str], None] | None = None) -> None:
    """``ids_echo``: set by ``python -m bot ids`` to print each answer for the operator."""
    sender = message.from_user
    anonymous = sender is None or message.sender_chat is not None or sender.id == _ANONYMOUS_ADMIN
    user_id = None if anonymous or sender is None else sender.id
    is_group = message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
    await message.answer(texts.chat_ids(message.chat.id, is_group, user_id))
    if ids_echo is not None:
        title = f" {message.chat.title!r}" if message.chat.title else ""
        ids_echo(f"chat {message.chat.id} ({message.chat.type}{title}): user {user_id}")


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(show_ids, Command("id"))
    return router
