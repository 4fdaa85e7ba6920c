"""Admin commands in the admin chat: /pending, /payments, /user, /stats, /currencies (with
switches and a sync), /adjust and /bonus (with a confirm button); /help is in reports.py.

Handlers parse the command's form and call one core service; the rules live in core. ``admin``
is the proof the gate router's filter got from core.auth.AdminGate (see bot.handlers.admin).
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot import keyboards, texts
from bot.callbacks import (
    AdminAdjustCallback,
    AdminCurrencyAction,
    AdminCurrencyCallback,
    AdminCurrencyPageCallback,
    AdminCurrencySyncCallback,
    ConfirmAction,
)
from bot.handlers.common import acknowledge, edit_in_place
from core.admin import (
    CONFIRMATIONS,
    PAYMENT_FILTERS,
    Adjustments,
    AdjustmentTerms,
    AdminPrompts,
    CurrencySwitch,
    DepositDesk,
    Lookups,
    Refusal,
    StatsService,
    Taken,
)
from core.auth import Admin
from core.currencies import CurrencyCatalog
from core.db.models import Currency, TxType
from core.deposits.review import creditable
from core.errors import InsufficientFunds, NotFound
from core.withdrawals import WithdrawalActions

COMMANDS = ("pending", "payments", "user", "stats", "currencies", "adjust", "bonus", "help")


async def pending(message: Message, admin: Admin, withdrawal_actions: WithdrawalActions) -> None:
    views = await withdrawal_actions.pending(admin=admin)
    await message.answer(texts.admin_pending(views))


async def payments(
    message: Message, command: CommandObject, admin: Admin, deposit_desk: DepositDesk
) -> None:
    wanted = (command.args or "").strip().lower() or None
    if wanted is not None and wanted not in PAYMENT_FILTERS:
        await message.answer(texts.admin_unknown_payment_filter(wanted, PAYMENT_FILTERS))
        return
    views = await deposit_desk.recent(wanted, admin=admin)
    # Deposits waiting for a decision get their Credit / Close buttons here too.
    waiting = [(v.id, v.internal_id, creditable(v)) for v in views if v.needs_review]
    markup = keyboards.admin_review(waiting, name_each=True)
    await message.answer(texts.admin_payments(views, wanted), reply_markup=markup)


async def user_command(
    message: Message, command: CommandObject, admin: Admin, lookups: Lookups
) -> None:
    query = (command.args or "").strip()
    if not query or len(query.split()) != 1:
        await message.answer(texts.USER_USAGE)
        return
    try:
        summary = await lookups.user_summary(query, admin=admin)
    except NotFound:
        await message.answer(texts.USER_NOT_FOUND)
        return
    await message.answer(texts.admin_user_summary(summary))


async def stats(message: Message, admin: Admin, admin_stats: StatsService) -> None:
    figures = await admin_stats.figures(admin=admin)
    await message.answer(texts.admin_stats(figures))


# --- currencies -----------------------------------------------------------------------------


def _currency_list(coins: list[Currency], page: int = 0) -> tuple[str, InlineKeyboardMarkup]:
    """One page of the list; a page past the end (the list shrank) shows the last one."""
    per_page = keyboards.ADMIN_CURRENCIES_PER_PAGE
    page = max(0, min(page, (len(coins) - 1) // per_page))
    switches = [(c.code, c.is_active and not c.disabled_by_admin) for c in coins]
    return (
        texts.admin_currencies(coins, page, per_page),
        keyboards.admin_currencies(switches, page),
    )


async def currencies_command(
    message: Message, admin: Admin, currency_switch: CurrencySwitch
) -> None:
    coins = await currency_switch.list_all(admin=admin)
    text, markup = _currency_list(coins)
    await message.answer(text, reply_markup=markup)


async def _refresh_list(
    callback: CallbackQuery, switch: CurrencySwitch, admin: Admin, page: int = 0
) -> None:
    if isinstance(callback.message, Message):
        coins = await switch.list_all(admin=admin)
        text, markup = _currency_list(coins, page)
        await edit_in_place(callback.message, text, markup)


async def currency_page(
    callback: CallbackQuery,
    callback_data: AdminCurrencyPageCallback,
    admin: Admin,
    currency_switch: CurrencySwitch,
) -> None:
    await acknowledge(callback)
    await _refresh_list(callback, currency_switch, admin, callback_data.page)


async def currency_button(
    callback: CallbackQuery,
    callback_data: AdminCurrencyCallback,
    admin: Admin,
    currency_switch: CurrencySwitch,
) -> None:
    active = callback_data.action is AdminCurrencyAction.ON
    coin = await currency_switch.set_active(callback_data.code, active, admin=admin)
    await acknowledge(callback, texts.admin_currency_toast(coin.code, active))
    await _refresh_list(callback, currency_switch, admin, callback_data.page)


async def sync_button(
    callback: CallbackQuery,
    admin: Admin,
    currency_switch: CurrencySwitch,
    catalog: CurrencyCatalog,
) -> None:
    await acknowledge(callback, texts.CURRENCY_SYNC_STARTED)  # a sync may take longer than a query
    result = await currency_switch.sync(catalog, admin=admin)
    if isinstance(callback.message, Message):
        await callback.message.answer(texts.admin_sync_result(result))
    await _refresh_list(callback, currency_switch, admin)


# --- balance adjustments --------------------------------------------------------------------


def _balance_of(exc: InsufficientFunds) -> Decimal:
    balance = exc.params.get("balance")
    return balance if isinstance(balance, Decimal) else Decimal("0.00")


async def _plan(
    message: Message,
    command: CommandObject,
    admin: Admin,
    adjustments: Adjustments,
    prompts: AdminPrompts,
    kind: TxType,
) -> None:
    parts = (command.args or "").split(maxsplit=2)
    if len(parts) < 3:
        await message.answer(texts.BONUS_USAGE if kind is TxType.BONUS else texts.ADJUST_USAGE)
        return
    user_query, amount, reason = parts
    try:
        plan = await adjustments.plan(user_query, amount, reason, admin=admin, kind=kind)
    except NotFound:
        await message.answer(texts.USER_NOT_FOUND)
        return
    except InsufficientFunds as exc:
        await message.answer(texts.admin_adjust_insufficient(_balance_of(exc)))
        return
    sent = await message.answer(texts.admin_adjust_confirm(plan))
    # What Confirm posts is kept in core under this message, not read back from its text; the
    # buttons come once it is, so no press can arrive before its question is known.
    await prompts.ask_adjustment(sent.chat.id, sent.message_id, admin=admin, plan=plan)
    await sent.edit_reply_markup(reply_markup=keyboards.admin_adjust_confirm())


async def adjust_command(
    message: Message,
    command: CommandObject,
    admin: Admin,
    adjustments: Adjustments,
    admin_prompts: AdminPrompts,
) -> None:
    await _plan(message, command, admin, adjustments, admin_prompts, TxType.ADJUSTMENT)


async def bonus_command(
    message: Message,
    command: CommandObject,
    admin: Admin,
    adjustments: Adjustments,
    admin_prompts: AdminPrompts,
) -> None:
    await _plan(message, command, admin, adjustments, admin_prompts, TxType.BONUS)


async def _take_confirmation(
    callback: CallbackQuery, admin: Admin, admin_prompts: AdminPrompts
) -> tuple[Message, Taken, AdjustmentTerms] | None:
    """The confirmation message and its terms, used up; None (the admin was told) if it is
    gone, not theirs, expired or answered. Cancel uses it up too: a Confirm after it (or a
    Cancel after a Confirm) finds it answered."""
    confirm = callback.message
    if not isinstance(confirm, Message):
        await acknowledge(callback, texts.BUTTON_EXPIRED, alert=True)
        return None
    taken = await admin_prompts.take(
        confirm.chat.id, confirm.message_id, admin=admin, kinds=CONFIRMATIONS
    )
    if isinstance(taken, Refusal):
        await acknowledge(callback, texts.ADJUST_REFUSAL[taken.value], alert=True)
        return None
    terms = taken.what
    assert isinstance(terms, AdjustmentTerms)  # kinds
    return confirm, taken, terms


def _admin_name(callback: CallbackQuery, admin: Admin) -> str:
    return callback.from_user.first_name or str(admin.telegram_id)


async def adjust_cancel(
    callback: CallbackQuery, admin: Admin, admin_prompts: AdminPrompts
) -> None:
    if await _take_confirmation(callback, admin, admin_prompts) is None:
        return
    assert isinstance(callback.message, Message)  # _take_confirmation
    await acknowledge(callback)
    await edit_in_place(
        callback.message, texts.admin_adjust_cancelled(_admin_name(callback, admin)), None
    )


async def adjust_confirm(
    callback: CallbackQuery, admin: Admin, adjustments: Adjustments, admin_prompts: AdminPrompts
) -> None:
    found = await _take_confirmation(callback, admin, admin_prompts)
    if found is None:
        return
    confirm, taken, terms = found
    admin_name = _admin_name(callback, admin)
    chat_id, message_id = confirm.chat.id, confirm.message_id
    try:
        result = await adjustments.post(
            terms.user_telegram_id,
            terms.amount,
            terms.reason,
            admin=admin,
            # One confirm message, one posting, however often it is pressed.
            key=taken.key,
            kind=terms.kind,
        )
    except InsufficientFunds as exc:
        # The balance moved since the plan: pressing again later may succeed.
        await admin_prompts.give_back(chat_id, message_id, admin=admin)
        await acknowledge(callback, texts.admin_adjust_insufficient(_balance_of(exc)), alert=True)
        return
    except Exception:
        await admin_prompts.give_back(chat_id, message_id, admin=admin)
        raise
    if not result.created:  # posted before under this key: the ledger says so too
        await acknowledge(callback, texts.ADJUST_REFUSAL["used"], alert=True)
        return
    await acknowledge(callback, texts.ADJUST_DONE_TOAST)
    await edit_in_place(confirm, texts.admin_adjust_done(result, terms.reason, admin_name), None)


def create_router() -> Router:
    """Behind the admin gate (see bot.handlers.admin)."""
    router = Router(name=__name__)
    router.message.register(pending, Command("pending"))
    router.message.register(payments, Command("payments"))
    router.message.register(user_command, Command("user"))
    router.message.register(stats, Command("stats"))
    router.message.register(currencies_command, Command("currencies"))
    router.message.register(adjust_command, Command("adjust"))
    router.message.register(bonus_command, Command("bonus"))
    router.callback_query.register(currency_button, AdminCurrencyCallback.filter())
    router.callback_query.register(currency_page, AdminCurrencyPageCallback.filter())
    router.callback_query.register(sync_button, AdminCurrencySyncCallback.filter())
    router.callback_query.register(
        adjust_confirm, AdminAdjustCallback.filter(F.action == ConfirmAction.CONFIRM)
    )
    router.callback_query.register(
        adjust_cancel, AdminAdjustCallback.filter(F.action == ConfirmAction.CANCEL)
    )
    return router
