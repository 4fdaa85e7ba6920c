"""/cancel, the fallbacks (unknown input, outdated buttons) and the error router: domain errors
become friendly text, anything else is logged and gets an apology."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, InlineKeyboardMarkup, Message, Update
from aiogram.types import User as TelegramUser

from bot import texts
from bot.middlewares import handler_of
from core.errors import PaybotError

log = logging.getLogger(__name__)


async def private_chat(message: Message) -> bool:
    """Router filter for the user-facing routers. Written as a coroutine on purpose: aiogram runs
    synchronous filters, magic ``F`` expressions included, in a worker thread per check, which
    cost more than the rest of a /balance update put together."""
    return message.chat.type == ChatType.PRIVATE


async def private_callback(callback: CallbackQuery) -> bool:
    """Router filter: a button of a message in a private chat. The user-facing routers take
    only these, so forged user data pressed in the admin group edits nothing there."""
    message = callback.message
    return message is not None and message.chat.type == ChatType.PRIVATE


async def acknowledge(
    callback: CallbackQuery, text: str | None = None, *, alert: bool = False
) -> None:
    """Answer a button press, best effort: the answer is not retried (a late one is useless)
    and a refused one (flood control, an expired query) must not abort the handler's work."""
    try:
        await callback.answer(text if text is None else text[:200], show_alert=alert)
    except TelegramAPIError as exc:
        log.info("callback %s not answered: %s", callback.id, exc)


async def reply_to(
    callback: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """A new message in the chat of the pressed button (or the user's private chat)."""
    if isinstance(callback.message, Message):
        await callback.message.answer(text, reply_markup=markup)
    elif callback.bot is not None:
        await callback.bot.send_message(callback.from_user.id, text, reply_markup=markup)


async def edit_in_place(
    message: Message, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Edit a message; a repeated press that changes nothing ("message is not modified") is
    not an error."""
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


# --- /cancel ------------------------------------------------------------------------------------


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(texts.NOTHING_TO_CANCEL)
        return
    await state.clear()
    await message.answer(texts.CANCELLED)


def create_cancel_router() -> Router:
    """Tried first, so /cancel wins over any flow step that accepts free text."""
    router = Router(name=f"{__name__}.cancel")
    router.message.filter(private_chat)  # flows live in private chats; the admin group has none
    router.message.register(cancel, Command("cancel"))
    return router


# --- fallbacks ----------------------------------------------------------------------------------


async def unknown_input(message: Message) -> None:
    await message.answer(texts.UNKNOWN_INPUT)


async def outdated_button(callback: CallbackQuery) -> None:
    """Forged, malformed or outdated callback data: answered, nothing changes."""
    await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)


def create_fallback_router() -> Router:
    router = Router(name=f"{__name__}.fallback")
    router.message.register(unknown_input, private_chat)
    router.callback_query.register(outdated_button)
    return router


# --- errors -------------------------------------------------------------------------------------


async def _tell(bot: Bot, update: Update, text: str) -> None:
    """Best effort: the apology must not raise a second error."""
    try:
        if update.callback_query is not None:
            query = update.callback_query
            try:
                await query.answer(text[:200], show_alert=True)
            except TelegramAPIError:  # already answered or expired: say it in the chat
                await bot.send_message(query.from_user.id, text)
        elif update.message is not None:
            await update.message.answer(text)
    except TelegramAPIError as exc:
        log.warning("could not tell update %s about an error: %s", update.update_id, exc)


async def domain_error(event: ErrorEvent, bot: Bot) -> None:
    exc = event.exception
    assert isinstance(exc, PaybotError)
    log.info("update %s refused: %s", event.update.update_id, exc)
    await _tell(bot, event.update, texts.error_text(exc.code, exc.reason, exc.params))


async def unexpected_error(
    event: ErrorEvent, bot: Bot, event_from_user: TelegramUser | None = None
) -> None:
    exc = event.exception
    log.error(
        "update %s from user %s failed in %s: %s",
        event.update.update_id,
        event_from_user.id if event_from_user else None,
        handler_of(exc) or "(middleware)",
        type(exc).__name__,
        exc_info=exc,
    )
    await _tell(bot, event.update, texts.GENERIC_ERROR)


def create_error_router() -> Router:
    router = Router(name=f"{__name__}.errors")
    router.errors.register(domain_error, ExceptionTypeFilter(PaybotError))
    router.errors.register(unexpected_error)
    return router
