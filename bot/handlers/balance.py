"""Balance with totals, and the transaction history with newer/older buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.callbacks import MAX_PAGE, HistoryCallback, MenuAction, MenuCallback
from bot.handlers.common import (
    acknowledge,
    edit_in_place,
    private_callback,
    private_chat,
    reply_to,
)
from bot.reports.ledger import history_page as history_text
from core.db.models import User
from core.ledger import Balance, history

PAGE_SIZE = 5


async def _history(
    session: AsyncSession, user: User, page: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The page's text and buttons; None if the page has no entries (except an empty page 0)."""
    found = await history(session, user.id, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    if not found.entries:
        return (texts.HISTORY_EMPTY, None) if page == 0 else None
    markup = keyboards.history_navigation(
        page, has_previous=found.has_previous, has_next=found.has_next
    )
    return history_text(found, page), markup


async def balance_command(message: Message, balance: Balance) -> None:
    await message.answer(texts.balance_card(balance))


async def balance_button(callback: CallbackQuery, balance: Balance) -> None:
    await acknowledge(callback)
    await reply_to(callback, texts.balance_card(balance))


async def history_command(message: Message, session: AsyncSession, user: User) -> None:
    text, markup = await _history(session, user, 0) or (texts.HISTORY_EMPTY, None)
    await message.answer(text, reply_markup=markup)


async def history_button(callback: CallbackQuery, session: AsyncSession, user: User) -> None:
    await acknowledge(callback)
    text, markup = await _history(session, user, 0) or (texts.HISTORY_EMPTY, None)
    await reply_to(callback, text, markup)


async def history_page(
    callback: CallbackQuery, callback_data: HistoryCallback, session: AsyncSession, user: User
) -> None:
    """Edits the history message in place. The page number is only a hint from the client: a
    forged one shows at most this user's own page, or is refused and changes nothing."""
    page = callback_data.page
    found = await _history(session, user, page) if 0 <= page <= MAX_PAGE else None
    if found is None:
        await acknowledge(callback, texts.HISTORY_NO_PAGE)
        return
    await acknowledge(callback)
    text, markup = found
    if not isinstance(callback.message, Message):  # too old to edit: send it anew
        await reply_to(callback, text, markup)
        return
    await edit_in_place(callback.message, text, markup)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(balance_command, Command("balance"))
    router.message.register(history_command, Command("history"))
    router.callback_query.register(
        balance_button, MenuCallback.filter(F.action == MenuAction.BALANCE)
    )
    router.callback_query.register(
        history_button, MenuCallback.filter(F.action == MenuAction.HISTORY)
    )
    router.callback_query.register(history_page, HistoryCallback.filter())
    return router
