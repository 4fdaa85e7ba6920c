"""/start: register, balance, main menu (/help is bot.handlers.help)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import MenuAction, MenuCallback
from bot.handlers.common import acknowledge, private_callback, private_chat
from bot.handlers.flow import show
from core.db.models import User
from core.ledger import Balance


async def start(message: Message, user: User, balance: Balance, state: FSMContext) -> None:
    # The user row was created by the DB middleware; /start also leaves any unfinished flow.
    await state.clear()
    await message.answer(
        texts.welcome(user.first_name, balance.balance), reply_markup=keyboards.main_menu()
    )


async def menu_button(callback: CallbackQuery, balance: Balance, state: FSMContext) -> None:
    """From any step: the step is left and its message becomes the main menu."""
    await state.clear()
    await acknowledge(callback)
    await show(callback, texts.menu(balance.balance), keyboards.main_menu())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(start, CommandStart())
    router.callback_query.register(menu_button, MenuCallback.filter(F.action == MenuAction.MENU))
    return router
