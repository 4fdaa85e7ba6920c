"""Withdrawal cards in the admin chat: the buttons, and the replies to the bot's prompts.

Prompts are stateless: the bot's question names the withdrawal (its last line, see
``texts.prompt_ref``) and the answer is a reply to it, read back from the replied-to message. A
restart between question and answer loses nothing, and any admin may answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, Message, ReplyParameters
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keyboards, texts
from bot.callbacks import AdminWithdrawalCallback
from bot.handlers.admin.access import ensure_admin, valid_id
from bot.handlers.common import acknowledge
from bot.notifier import Notifier
from core.admin import AdminService, WithdrawalAction
from core.config import Settings
from core.db.models import WithdrawalStatus
from core.errors import InvalidTransition
from core.withdrawals import WithdrawalView

_REF = re.compile(
    r"^ref: (?P<action>reject|complete) (?P<id>[0-9]{1,18})(?: from (?P<status>[a-z]+))?$",
    re.MULTILINE,
)
_STATUSES = frozenset(s.value for s in WithdrawalStatus)


@dataclass(frozen=True, slots=True)
class Prompt:
    action: WithdrawalAction
    withdrawal_id: int
    from_status: WithdrawalStatus | None


def parse_prompt(text: str) -> Prompt | None:
    """The last ref line of a prompt the bot sent (see texts.prompt_ref)."""
    found = list(_REF.finditer(text))
    if not found:
        return None
    match = found[-1]
    withdrawal_id = int(match["id"])
    if not valid_id(withdrawal_id):
        return None
    status = match["status"]
    if status is not None and status not in _STATUSES:
        return None
    return Prompt(
        WithdrawalAction(match["action"]),
        withdrawal_id,
        WithdrawalStatus(status) if status else None,
    )


async def replied_prompt(message: Message, bot: Bot) -> dict[str, Any] | bool:
    """Filter: a reply to one of the bot's prompts; hands the handler ``prompt``."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot.id:
        return False
    prompt = parse_prompt(replied.text or "")
    return False if prompt is None else {"prompt": prompt}


async def _already_handled(service: AdminService, exc: InvalidTransition) -> str:
    by = exc.params.get("decided_by")
    names = await service.people([by] if isinstance(by, int) else [])
    return texts.admin_already_handled(exc.params, names)


def _not_allowed(exc: InvalidTransition) -> bool:
    return exc.reason == "not_allowed"


async def _ask(callback: CallbackQuery, bot: Bot, chat_id: int, text: str, hint: str) -> None:
    """The prompt, as a reply to the card when it is still there."""
    card = callback.message
    reply = (
        ReplyParameters(message_id=card.message_id, allow_sending_without_reply=True)
        if card is not None
        else None
    )
    await bot.send_message(
        chat_id, text, reply_markup=keyboards.admin_prompt(hint), reply_parameters=reply
    )


async def card_button(
    callback: CallbackQuery,
    callback_data: AdminWithdrawalCallback,
    bot: Bot,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    notifier: Notifier,
) -> None:
    admin_id = ensure_admin(settings, callback.from_user)
    if not valid_id(callback_data.id) or callback.message is None:
        await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)
        return
    service = AdminService(sessions, settings)
    action = WithdrawalAction[callback_data.action.name]
    withdrawal_id = callback_data.id
    name = callback.from_user.first_name or str(admin_id)
    chat_id = callback.message.chat.id
    try:
        if action is WithdrawalAction.APPROVE:
            await service.approve(withdrawal_id, admin_telegram_id=admin_id)
        elif action is WithdrawalAction.PROCESS:
            await service.start_processing(withdrawal_id, admin_telegram_id=admin_id)
        else:
            view = await service.check_action(withdrawal_id, action, admin_telegram_id=admin_id)
            if action is WithdrawalAction.REJECT:
                text = texts.admin_reject_prompt(view, admin_id, name)
                hint = texts.PROMPT_REASON_PLACEHOLDER
            else:
                text = texts.admin_complete_prompt(view, admin_id, name)
                hint = texts.PROMPT_HASH_PLACEHOLDER
            await acknowledge(callback, texts.ADMIN_WD_TOAST["prompt"])
            await _ask(callback, bot, chat_id, text, hint)
            return
    except InvalidTransition as exc:
        if not _not_allowed(exc):
            raise
        await acknowledge(callback, await _already_handled(service, exc), alert=True)
        return
    notifier.wake()  # the card edit and the user's push
    await acknowledge(callback, texts.ADMIN_WD_TOAST[action.value])


async def prompt_answer(
    message: Message,
    prompt: Prompt,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    notifier: Notifier,
) -> None:
    admin_id = ensure_admin(settings, message.from_user)
    answer = (message.text or "").strip()
    if not answer:
        await message.reply(texts.ADMIN_REPLY_NEEDS_TEXT)
        return
    service = AdminService(sessions, settings)
    view: WithdrawalView
    try:
        if prompt.action is WithdrawalAction.REJECT:
            view = await service.reject(
                prompt.withdrawal_id,
                admin_telegram_id=admin_id,
                reason=answer,
                from_status=prompt.from_status,
            )
            reply = texts.admin_rejected(view)
        else:
            view = await service.complete(
                prompt.withdrawal_id, admin_telegram_id=admin_id, tx_hash=answer
            )
            reply = texts.admin_completed(view)
    except InvalidTransition as exc:
        if not _not_allowed(exc):
            raise
        await message.reply(texts.esc(await _already_handled(service, exc)))
        return
    notifier.wake()
    await message.reply(reply)


def create_router() -> Router:
    """Behind the admin gate (see bot.handlers.admin)."""
    router = Router(name=__name__)
    router.callback_query.register(card_button, AdminWithdrawalCallback.filter())
    router.message.register(prompt_answer, replied_prompt)
    return router
