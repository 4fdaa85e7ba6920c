"""The user's /help (and the menu's Help button): how deposits and withdrawals work, with the
live minimums and fees."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import MenuAction, MenuCallback
from bot.handlers.common import acknowledge, private_callback, private_chat, reply_to
from bot.reports.help import user_help
from core.config import Settings
from core.limits import user_limits


async def _text(session: AsyncSession, settings: Settings) -> str:
    limits = await user_limits(session, settings.payments)
    return user_help(limits, check_seconds=settings.payments.poll_interval_seconds)


async def help_command(message: Message, session: AsyncSession, settings: Settings) -> None:
    await message.answer(await _text(session, settings))


async def help_button(callback: CallbackQuery, session: AsyncSession, settings: Settings) -> None:
    await acknowledge(callback)
    await reply_to(callback, await _text(session, settings))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(help_command, Command("help"))
    router.callback_query.register(help_button, MenuCallback.filter(F.action == MenuAction.HELP))
    return router
