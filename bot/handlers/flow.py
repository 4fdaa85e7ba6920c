"""Pieces the deposit and withdrawal flows share: step filters, taking a step exactly once, showing
a step in place, and the paged coin list."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.callbacks import Flow
from bot.handlers.common import acknowledge, reply_to
from core import currencies
from core.db.models import Currency


async def free_text(message: Message) -> bool:
    """A step's answer: text that is not a command (a command typed mid-flow goes to its own
    handler, or to the fallback, and the step stays open). Async on purpose, see
    ``bot.handlers.common.private_chat``."""
    return message.text is not None and not message.text.startswith("/")


async def not_text(message: Message) -> bool:
    """A sticker, photo, voice message ... sent where a step expects text."""
    return message.text is None


async def not_command(message: Message) -> bool:
    """Anything but a command: a step that only takes buttons answers it with a hint, while a
    command typed mid-flow still reaches its own handler."""
    return message.text is None or not message.text.startswith("/")


async def claim(state: FSMContext, step: State) -> dict[str, Any] | None:
    """Take the open step for this update: its data, with the state cleared, or None if the step
    is not open (any more). Two updates racing for one step (a double tap) cannot both get it:
    with the memory storage nothing in here yields to the loop between the read and the clear,
    and the Redis set-up serialises a user's updates (SimpleEventIsolation). Put the state back
    with ``reopen`` when the step has to be answered again."""
    if await state.get_state() != step.state:
        return None
    data = await state.get_data()
    await state.clear()
    return data


async def reopen(state: FSMContext, step: State, data: dict[str, Any]) -> None:
    await state.set_state(step)
    await state.set_data(data)


async def show(
    target: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """A command gets a new message; a button turns its own message into the next step (or
    sends a new one when that message can no longer be edited). A step without buttons of its
    own gets the Menu button (the step's keyboards carry it too)."""
    markup = markup or keyboards.menu_only()
    if isinstance(target, Message):
        await target.answer(text, reply_markup=markup)
        return
    message = target.message
    if isinstance(message, Message) and message.text is not None:
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return
    await reply_to(target, text, markup)


async def drop_keyboard(message: Message) -> None:
    """Best effort: buttons of a step that is over go away (the handlers refuse them anyway)."""
    with contextlib.suppress(TelegramBadRequest):  # no buttons any more, deleted, too old
        await message.edit_reply_markup(reply_markup=None)


async def currency_list(
    session: AsyncSession, flow: Flow, page: int
) -> InlineKeyboardMarkup | None:
    """The active coins in display order, one page of them; None if there is no such page (or
    no coin at all on page 0)."""
    return coin_picker(await currencies.list_active(session), flow, page)


def coin_picker(found: Sequence[Currency], flow: Flow, page: int) -> InlineKeyboardMarkup | None:
    """One page of these coins as buttons; None if there is no such page."""
    choices = [(c.code, c.display_name) for c in found]
    return keyboards.currency_picker(choices, flow=flow, page=page)


async def show_currencies(
    target: Message | CallbackQuery, session: AsyncSession, flow: Flow, text: str
) -> bool:
    """The first page of the coin list as a step; False (and the user told) when there is no
    coin to pick. A button's query must already be answered."""
    markup = await currency_list(session, flow, 0)
    if markup is None:
        await show(target, texts.NO_CURRENCIES)
        return False
    await show(target, text, markup)
    return True


async def turn_currency_page(
    callback: CallbackQuery, session: AsyncSession, flow: Flow, page: int
) -> None:
    """Another page of the coin list, in place; the flow's state is not touched."""
    markup = await currency_list(session, flow, page)
    if markup is None:
        await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)
        return
    await acknowledge(callback)
    if isinstance(callback.message, Message):
        try:
            await callback.message.edit_reply_markup(reply_markup=markup)
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                raise
