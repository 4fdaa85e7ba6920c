"""/start: register, balance, main menu (/help is bot.handlers.help)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot import keyboards, texts
from bot.handlers.common import private_callback, private_chat
from core.db.models import User
from core.ledger import Balance


async def start(message: Message, user: User, balance: Balance, state: FSMContext) -> None:
    # The user row was created by the DB middleware; /start also leaves any unfinished flow.
    await state.clear()
    await message.answer(
        texts.welcome(user.first_name, balance.balance), reply_markup=keyboards.main_menu()
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(start, CommandStart())
    return router
