"""Who may use the admin chat: the gate router's filters. They ask core.auth.AdminGate, the one
place an admin id is checked, and hand the handler its proof as ``admin`` (core.auth.Admin):
every admin method in core requires one, so a handler cannot act for anyone the gate refused."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.types import User as TelegramUser

from core.auth import Admin, AdminGate
from core.config import Settings

# Telegram ids are positive and fit a BIGINT; anything else in callback data is forged.
MAX_ID = 2**63 - 1


def in_admin_chat(settings: Settings, chat_id: int | None) -> bool:
    admin_chat = settings.telegram.admin_chat_id
    return admin_chat is not None and chat_id == admin_chat


def _admitted(gate: AdminGate, user: TelegramUser | None) -> dict[str, Admin] | bool:
    if user is None or user.is_bot:
        return False
    admin = gate.admit(user.id)
    return False if admin is None else {"admin": admin}


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


# Router filters. Coroutines on purpose (see bot.handlers.common.private_chat).


async def admin_chat_message(message: Message, settings: Settings) -> bool:
    return in_admin_chat(settings, message.chat.id)


async def admin_message(
    message: Message, settings: Settings, admin_gate: AdminGate
) -> dict[str, Admin] | bool:
    """An admin writing in the admin chat."""
    if not in_admin_chat(settings, message.chat.id):
        return False
    return _admitted(admin_gate, message.from_user)


async def admin_callback(
    callback: CallbackQuery, settings: Settings, admin_gate: AdminGate
) -> dict[str, Admin] | bool:
    """An admin pressing a button of a message in the admin chat."""
    chat_id = callback.message.chat.id if callback.message is not None else None
    if not in_admin_chat(settings, chat_id):
        return False
    return _admitted(admin_gate, callback.from_user)
