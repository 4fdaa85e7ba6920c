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
from aiogram.types import CallbackQuery, InaccessibleMessage, Message, ReplyParameters

from bot import keyboards, texts
from bot.callbacks import CORE_ACTION, AdminWithdrawalCallback
from bot.handlers.admin.access import valid_id
from bot.handlers.common import acknowledge
from bot.notifier import Notifier
from core.admin import Lookups
from core.auth import Admin
from core.db.models import WithdrawalStatus
from core.errors import InvalidTransition
from core.withdrawals import WithdrawalAction, WithdrawalActions, WithdrawalView

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


async def _already_handled(lookups: Lookups, exc: InvalidTransition) -> str:
    by = exc.params.get("decided_by")
    names = await lookups.people([by] if isinstance(by, int) else [])
    return texts.admin_already_handled(exc.params, names)


def _not_allowed(exc: InvalidTransition) -> bool:
    return exc.reason == "not_allowed"


async def _ask(card: Message | InaccessibleMessage, text: str, hint: str) -> None:
    """The prompt, as a reply to the card when it is still there."""
    reply = ReplyParameters(message_id=card.message_id, allow_sending_without_reply=True)
    await card.answer(text, reply_markup=keyboards.admin_prompt(hint), reply_parameters=reply)


async def card_button(
    callback: CallbackQuery,
    callback_data: AdminWithdrawalCallback,
    admin: Admin,
    withdrawal_actions: WithdrawalActions,
    lookups: Lookups,
    notifier: Notifier,
) -> None:
    card = callback.message
    if not valid_id(callback_data.id) or card is None:
        await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)
        return
    actions = withdrawal_actions
    action = CORE_ACTION[callback_data.action]
    withdrawal_id = callback_data.id
    admin_id = admin.telegram_id
    name = callback.from_user.first_name or str(admin_id)
    try:
        if action is WithdrawalAction.APPROVE:
            await actions.approve(withdrawal_id, admin=admin)
        elif action is WithdrawalAction.PROCESS:
            await actions.start_processing(withdrawal_id, admin=admin)
        else:
            view = await actions.check(withdrawal_id, action, admin=admin)
            if action is WithdrawalAction.REJECT:
                text = texts.admin_reject_prompt(view, admin_id, name)
                hint = texts.PROMPT_REASON_PLACEHOLDER
            else:
                text = texts.admin_complete_prompt(view, admin_id, name)
                hint = texts.PROMPT_HASH_PLACEHOLDER
            await acknowledge(callback, texts.ADMIN_WD_TOAST["prompt"])
            await _ask(card, text, hint)
            return
    except InvalidTransition as exc:
        if not _not_allowed(exc):
            raise
        await acknowledge(callback, await _already_handled(lookups, exc), alert=True)
        return
    notifier.wake()  # the card edit and the user's push
    await acknowledge(callback, texts.ADMIN_WD_TOAST[action.value])


async def prompt_answer(
    message: Message,
    prompt: Prompt,
    admin: Admin,
    withdrawal_actions: WithdrawalActions,
    lookups: Lookups,
    notifier: Notifier,
) -> None:
    answer = (message.text or "").strip()
    if not answer:
        await message.reply(texts.ADMIN_REPLY_NEEDS_TEXT)
        return
    view: WithdrawalView
    try:
        if prompt.action is WithdrawalAction.REJECT:
            view = await withdrawal_actions.reject(
                prompt.withdrawal_id,
                admin=admin,
                reason=answer,
                from_status=prompt.from_status,
            )
            reply = texts.admin_rejected(view)
        else:
            view = await withdrawal_actions.complete(
                prompt.withdrawal_id, admin=admin, tx_hash=answer
            )
            reply = texts.admin_completed(view)
    except InvalidTransition as exc:
        if not _not_allowed(exc):
            raise
        await message.reply(texts.esc(await _already_handled(lookups, exc)))
        return
    notifier.wake()
    await message.reply(reply)


def create_router() -> Router:
    """Behind the admin gate (see bot.handlers.admin)."""
    router = Router(name=__name__)
    router.callback_query.register(card_button, AdminWithdrawalCallback.filter())
    router.message.register(prompt_answer, replied_prompt)
    return router
