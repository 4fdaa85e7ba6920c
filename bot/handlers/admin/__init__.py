"""The admin chat: withdrawal cards and their replies, admin commands, alerts.

Gating: the gate router's filters let only admins acting in the admin chat
(``telegram.admin_chat_id``) reach the handlers. Whether the sender is an admin is asked of
core.auth.AdminGate, the one place that checks ``telegram.admin_ids``; it hands the handler an
``admin`` proof that every admin method in core requires. Anyone else who presses an admin
button or answers an admin prompt gets a polite refusal and nothing changes.

Wiring: ``create_router()`` goes into ``get_routers(...)`` before the fallbacks;
``create_renderers(withdrawals)`` is merged over ``bot.notifier.RENDERERS``.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, or_f
from aiogram.types import CallbackQuery, Message

from bot import texts
from bot.callbacks import (
    AdminAdjustCallback,
    AdminCurrencyCallback,
    AdminCurrencyPageCallback,
    AdminCurrencySyncCallback,
    AdminReviewCallback,
    AdminWithdrawalCallback,
)
from bot.handlers.admin import commands, deposits, reports, withdrawals
from bot.handlers.admin.access import admin_callback, admin_chat_message, admin_message
from bot.handlers.admin.renderers import create_renderers
from bot.handlers.common import acknowledge

__all__ = [
    "admin_callback",
    "admin_message",
    "create_renderers",
    "create_router",
]


async def refuse_button(callback: CallbackQuery) -> None:
    await acknowledge(callback, texts.ADMIN_ONLY, alert=True)


async def refuse_message(message: Message) -> None:
    await message.reply(texts.ADMIN_ONLY)


def create_refusal_router() -> Router:
    """After the gate: admin buttons and admin-chat commands or prompt answers from anyone
    else. Nothing is called but the answer."""
    router = Router(name=f"{__name__}.refusal")
    router.callback_query.register(
        refuse_button,
        or_f(
            AdminWithdrawalCallback.filter(),
            AdminCurrencyCallback.filter(),
            AdminCurrencyPageCallback.filter(),
            AdminCurrencySyncCallback.filter(),
            AdminAdjustCallback.filter(),
            AdminReviewCallback.filter(),
        ),
    )
    router.message.filter(admin_chat_message)
    router.message.register(refuse_message, Command(*commands.COMMANDS))
    router.message.register(refuse_message, withdrawals.replied_to_bot)
    return router


def create_router() -> Router:
    router = Router(name=__name__)
    gate = Router(name=f"{__name__}.gate")
    gate.message.filter(admin_message)
    gate.callback_query.filter(admin_callback)
    gate.include_routers(
        withdrawals.create_router(), deposits.create_router(), commands.create_router()
    )
    router.include_routers(gate, reports.create_router(), create_refusal_router())
    return router
