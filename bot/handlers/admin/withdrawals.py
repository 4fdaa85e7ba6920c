"""Withdrawal cards in the admin chat: the buttons, and the replies to the bot's questions.

Reject and Complete ask the admin who pressed for a reason or a transaction hash, as a message
to reply to. What a reply to that message does is stored in core (core.admin.prompts, keyed by
the chat and the question's message id), not written into the question, so the question reads
as a sentence and a restart between question and answer loses nothing. Only the admin who was
asked may answer, once, before the question expires; any other reply to one of the bot's
messages here changes nothing and is told why in one sentence.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InaccessibleMessage, Message, ReplyParameters

from bot import keyboards, texts
from bot.callbacks import CORE_ACTION, AdminWithdrawalAction, AdminWithdrawalCallback
from bot.handlers.admin.access import valid_id
from bot.handlers.common import acknowledge
from bot.notifier import Notifier
from core.admin import (
    WITHDRAWAL_QUESTIONS,
    AdminPrompts,
    Lookups,
    PromptAction,
    Refusal,
    WithdrawalPrompt,
)
from core.auth import Admin
from core.errors import InvalidTransition
from core.withdrawals import WithdrawalAction, WithdrawalActions, WithdrawalView


async def replied_to_bot(message: Message, bot: Bot) -> bool:
    """Filter: a reply to one of the bot's own messages that is not a command (a command
    replied to a question is still the command)."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot.id:
        return False
    return not (message.text or "").startswith("/")


async def _already_handled(lookups: Lookups, exc: InvalidTransition) -> str:
    by = exc.params.get("decided_by")
    names = await lookups.people([by] if isinstance(by, int) else [])
    return texts.admin_already_handled(exc.params, names)


def _not_allowed(exc: InvalidTransition) -> bool:
    return exc.reason == "not_allowed"


async def _ask(
    card: Message | InaccessibleMessage,
    view: WithdrawalView,
    action: WithdrawalAction,
    admin: Admin,
    name: str,
    prompts: AdminPrompts,
) -> None:
    """The question, as a reply to the card when it is still there, and what its answer does."""
    if action is WithdrawalAction.REJECT:
        text = texts.admin_reject_prompt(view, admin.telegram_id, name)
        hint = texts.PROMPT_REASON_PLACEHOLDER
    else:
        text = texts.admin_complete_prompt(view, admin.telegram_id, name)
        hint = texts.PROMPT_HASH_PLACEHOLDER
    reply = ReplyParameters(message_id=card.message_id, allow_sending_without_reply=True)
    sent = await card.answer(
        text, reply_markup=keyboards.admin_prompt(hint), reply_parameters=reply
    )
    await prompts.ask_withdrawal(
        sent.chat.id,
        sent.message_id,
        admin=admin,
        action=PromptAction(action.value),
        withdrawal_id=view.id,
        # A reject is refused if the withdrawal moved on from what the question showed.
        from_status=view.status if action is WithdrawalAction.REJECT else None,
    )


# Buttons that decide at once, and buttons that ask a question (a reason, a tx hash) first.
_QUESTIONS = frozenset({AdminWithdrawalAction.REJECT, AdminWithdrawalAction.COMPLETE})


async def _card_of(callback: CallbackQuery, callback_data: AdminWithdrawalCallback) -> bool:
    if not valid_id(callback_data.id) or callback.message is None:
        await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)
        return False
    return True


async def _refused(callback: CallbackQuery, exc: InvalidTransition, lookups: Lookups) -> None:
    if not _not_allowed(exc):
        raise exc
    await acknowledge(callback, await _already_handled(lookups, exc), alert=True)


async def decision_button(
    callback: CallbackQuery,
    callback_data: AdminWithdrawalCallback,
    admin: Admin,
    withdrawal_actions: WithdrawalActions,
    lookups: Lookups,
    notifier: Notifier,
) -> None:
    """Approve or Processing: the move is made now."""
    if not await _card_of(callback, callback_data):
        return
    action = CORE_ACTION[callback_data.action]
    try:
        if action is WithdrawalAction.APPROVE:
            await withdrawal_actions.approve(callback_data.id, admin=admin)
        else:
            await withdrawal_actions.start_processing(callback_data.id, admin=admin)
    except InvalidTransition as exc:
        await _refused(callback, exc, lookups)
        return
    notifier.wake()  # the card edit and the user's push
    await acknowledge(callback, texts.ADMIN_WD_TOAST[action.value])


async def question_button(
    callback: CallbackQuery,
    callback_data: AdminWithdrawalCallback,
    admin: Admin,
    withdrawal_actions: WithdrawalActions,
    lookups: Lookups,
    admin_prompts: AdminPrompts,
) -> None:
    """Reject or Complete: a question the admin answers by replying (bot.handlers prompts)."""
    if not await _card_of(callback, callback_data):
        return
    assert callback.message is not None  # _card_of
    action = CORE_ACTION[callback_data.action]
    name = callback.from_user.first_name or str(admin.telegram_id)
    try:
        view = await withdrawal_actions.check(callback_data.id, action, admin=admin)
        await _ask(callback.message, view, action, admin, name, admin_prompts)
    except InvalidTransition as exc:
        await _refused(callback, exc, lookups)
        return
    # Only now: "reply below" is true once an answer will be recognised.
    await acknowledge(callback, texts.ADMIN_WD_TOAST["prompt"])


async def _act(
    prompt: WithdrawalPrompt, answer: str, admin: Admin, actions: WithdrawalActions
) -> str:
    if prompt.action is PromptAction.REJECT:
        view = await actions.reject(
            prompt.withdrawal_id, admin=admin, reason=answer, from_status=prompt.from_status
        )
        return texts.admin_rejected(view)
    view = await actions.complete(prompt.withdrawal_id, admin=admin, tx_hash=answer)
    return texts.admin_completed(view)


async def prompt_answer(
    message: Message,
    admin: Admin,
    withdrawal_actions: WithdrawalActions,
    admin_prompts: AdminPrompts,
    lookups: Lookups,
    notifier: Notifier,
) -> None:
    answer = (message.text or "").strip()
    if not answer:
        await message.reply(texts.ADMIN_REPLY_NEEDS_TEXT)
        return
    assert message.reply_to_message is not None  # replied_to_bot
    chat_id, question_id = message.chat.id, message.reply_to_message.message_id
    taken = await admin_prompts.take(chat_id, question_id, admin=admin, kinds=WITHDRAWAL_QUESTIONS)
    if isinstance(taken, Refusal):
        await message.reply(texts.PROMPT_REFUSAL[taken.value])
        return
    assert isinstance(taken.what, WithdrawalPrompt)  # kinds
    try:
        reply = await _act(taken.what, answer, admin, withdrawal_actions)
    except InvalidTransition as exc:
        if not _not_allowed(exc):
            await admin_prompts.give_back(chat_id, question_id, admin=admin)
            raise
        # The withdrawal moved on meanwhile: the question is moot, it stays answered.
        await message.reply(texts.esc(await _already_handled(lookups, exc)))
        return
    except Exception:
        # A mistyped hash, a reason too long: the admin may answer the same question again.
        await admin_prompts.give_back(chat_id, question_id, admin=admin)
        raise
    notifier.wake()
    await message.reply(reply)


def create_router() -> Router:
    """Behind the admin gate (see bot.handlers.admin)."""
    router = Router(name=__name__)
    router.callback_query.register(
        question_button, AdminWithdrawalCallback.filter(F.action.in_(_QUESTIONS))
    )
    router.callback_query.register(decision_button, AdminWithdrawalCallback.filter())
    router.message.register(prompt_answer, replied_to_bot)
    return router
