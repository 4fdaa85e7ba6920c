"""Deposits under review in the admin chat: the Credit / Close buttons under a deposit notice
and under /payments review. The decision and its rules are core's (core.deposits.review)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot import texts
from bot.callbacks import AdminReviewCallback
from bot.handlers.admin.access import valid_id
from bot.handlers.common import acknowledge, edit_in_place
from bot.notifier import Notifier
from core.admin import DepositDesk, Lookups
from core.auth import Admin
from core.deposits.review import ReviewDecision
from core.errors import InvalidTransition


async def review_button(
    callback: CallbackQuery,
    callback_data: AdminReviewCallback,
    admin: Admin,
    deposit_desk: DepositDesk,
    lookups: Lookups,
    notifier: Notifier,
) -> None:
    if not valid_id(callback_data.payment_id):
        await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)
        return
    decision = ReviewDecision(callback_data.action.value)
    try:
        result = await deposit_desk.review(callback_data.payment_id, decision, admin=admin)
    except InvalidTransition as exc:
        if exc.reason != "not_under_review":
            raise
        by = exc.params.get("decided_by")
        names = await lookups.people([by] if isinstance(by, int) else [])
        await acknowledge(callback, texts.admin_review_already(exc.params, names), alert=True)
        return
    notifier.wake()  # the user's message
    await acknowledge(callback, texts.REVIEW_TOAST[decision.value])
    message = callback.message
    if isinstance(message, Message) and message.html_text:
        admin_id = admin.telegram_id
        names = await lookups.people([admin_id])
        line = texts.admin_review_decided(result.internal_id, result.credited, admin_id, names)
        # The decided deposit's buttons go; a list keeps the others' (they stay valid).
        markup = message.reply_markup
        if markup is not None:
            rows = [
                [b for b in row if not _for_payment(b.callback_data, result.payment_id)]
                for row in markup.inline_keyboard
            ]
            rows = [row for row in rows if row]
            markup = markup.model_copy(update={"inline_keyboard": rows}) if rows else None
        text = f"{message.html_text}\n\n{line}"
        if len(text) <= texts.MAX_MESSAGE_LENGTH:
            await edit_in_place(message, text, markup)
        else:  # a long list: the decision goes below it instead
            await message.edit_reply_markup(reply_markup=markup)
            await message.reply(line)


def _for_payment(data: str | None, payment_id: int) -> bool:
    try:
        return data is not None and AdminReviewCallback.unpack(data).payment_id == payment_id
    except (TypeError, ValueError):  # another kind of button
        return False


def create_router() -> Router:
    """Behind the admin gate (see bot.handlers.admin)."""
    router = Router(name=__name__)
    router.callback_query.register(review_button, AdminReviewCallback.filter())
    return router
