"""/language: English or Russian, stored as the user's choice (it outlives Telegram's
language_code, which a profile refresh rewrites)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keyboards, texts
from bot.callbacks import LanguageCallback
from bot.handlers.common import (
    acknowledge,
    edit_in_place,
    private_callback,
    private_chat,
    reply_to,
)
from bot.i18n import LOCALES, use_locale
from core import users


async def language_command(message: Message) -> None:
    await message.answer(texts.LANGUAGE_CHOOSE, reply_markup=keyboards.language_picker())


async def language_chosen(
    callback: CallbackQuery,
    callback_data: LanguageCallback,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    locale = callback_data.locale
    if locale not in LOCALES:  # forged or from an older version
        await acknowledge(callback, texts.BUTTON_EXPIRED)
        return
    async with sessions.begin() as session:
        await users.set_locale(session, callback.from_user.id, locale)
    with use_locale(locale):  # the confirmation already speaks the new language
        await acknowledge(callback)
        text = texts.language_changed()
        if isinstance(callback.message, Message):
            await edit_in_place(callback.message, text)
        else:
            await reply_to(callback, text)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(language_command, Command("language"))
    router.callback_query.register(language_chosen, LanguageCallback.filter())
    return router
