"""My deposits and My withdrawals: the recent ones with their status. An open deposit gets a
"Check status" button (handled in bot/handlers/deposit.py); a pending withdrawal a Cancel button
(core checks the owner and the status, and refunds the hold)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import keyboards, texts
from bot.callbacks import MenuAction, MenuCallback, WithdrawalCancelCallback
from bot.handlers.common import (
    acknowledge,
    edit_in_place,
    private_callback,
    private_chat,
    reply_to,
)
from bot.notifier import Notifier
from core.db.models import User, WithdrawalStatus
from core.deposits import DepositService
from core.errors import Forbidden, InvalidTransition, NotFound
from core.withdrawals import WithdrawalService

RECENT = 10


async def _deposits(
    deposits: DepositService, user: User
) -> tuple[str, InlineKeyboardMarkup | None]:
    found = await deposits.list_for_user(user.id, limit=RECENT)
    if not found:
        return texts.DEPOSITS_EMPTY, None
    open_ones = [(view.id, view.internal_id) for view in found if not view.is_final]
    return texts.deposits_list(found), keyboards.deposits_list(open_ones)


async def _withdrawals(
    service: WithdrawalService, user: User
) -> tuple[str, InlineKeyboardMarkup | None]:
    found = await service.list_for_user(user.id, limit=RECENT)
    if not found:
        return texts.WITHDRAWALS_EMPTY, None
    pending = [(v.id, v.internal_id) for v in found if v.status == WithdrawalStatus.PENDING]
    return texts.withdrawals_list(found), keyboards.withdrawals_list(pending)


async def deposits_command(message: Message, deposits: DepositService, user: User) -> None:
    text, markup = await _deposits(deposits, user)
    await message.answer(text, reply_markup=markup)


async def deposits_button(callback: CallbackQuery, deposits: DepositService, user: User) -> None:
    await acknowledge(callback)
    text, markup = await _deposits(deposits, user)
    await reply_to(callback, text, markup)


async def withdrawals_command(
    message: Message, user: User, withdrawals: WithdrawalService
) -> None:
    text, markup = await _withdrawals(withdrawals, user)
    await message.answer(text, reply_markup=markup)


async def withdrawals_button(
    callback: CallbackQuery, user: User, withdrawals: WithdrawalService
) -> None:
    await acknowledge(callback)
    text, markup = await _withdrawals(withdrawals, user)
    await reply_to(callback, text, markup)


async def cancel_withdrawal(
    callback: CallbackQuery,
    callback_data: WithdrawalCancelCallback,
    user: User,
    withdrawals: WithdrawalService,
    notifier: Notifier,
) -> None:
    """The button names a withdrawal; core decides whether this user may cancel it now (a
    forged id of someone else's, or one an admin already approved, is refused unchanged)."""
    try:
        view = await withdrawals.cancel(callback_data.withdrawal_id, user_id=user.id)
    except (NotFound, Forbidden, InvalidTransition) as exc:
        await acknowledge(callback, texts.error_text(exc.code, exc.reason, exc.params), alert=True)
        return
    notifier.wake()  # the user's push and the admin card's update are in the outbox
    await acknowledge(callback, texts.withdrawal_cancelled(view), alert=True)
    if not isinstance(callback.message, Message):
        return
    text, markup = await _withdrawals(withdrawals, user)
    await edit_in_place(callback.message, text, markup)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(deposits_command, Command("deposits"))
    router.message.register(withdrawals_command, Command("withdrawals"))
    router.callback_query.register(
        deposits_button, MenuCallback.filter(F.action == MenuAction.DEPOSITS)
    )
    router.callback_query.register(
        withdrawals_button, MenuCallback.filter(F.action == MenuAction.WITHDRAWALS)
    )
    router.callback_query.register(cancel_withdrawal, WithdrawalCancelCallback.filter())
    return router
