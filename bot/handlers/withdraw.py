"""Withdrawals: amount → coin → address (→ memo when the coin needs one) → a confirmation with
the fees from WithdrawalService.quote → Confirm / Cancel → WithdrawalService.request.

The flow is a small form kept in the FSM data (amount, currency, address, memo). After every
answer ``_advance`` asks for the first field still missing; a refusal from core removes only the
field it is about (a bad address keeps amount and coin, a too-small amount keeps the rest), so
the user fixes that one field and is brought back to the confirmation; the amount question then
names what is kept. Limits every coin shares (the lowest minimum, the maximum) are checked at the
amount step, a coin's own higher minimum once it is picked. Confirm is double-tap safe
twice over: the step is claimed before core is called, and the request key names the
confirmation message, so core returns the first request for a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.callbacks import (
    ConfirmAction,
    CurrencyPageCallback,
    Flow,
    MenuAction,
    MenuCallback,
    WithdrawConfirmCallback,
    WithdrawCurrencyCallback,
)
from bot.handlers.common import acknowledge, private_callback, private_chat
from bot.handlers.flow import (
    claim,
    currency_list,
    drop_keyboard,
    free_text,
    not_command,
    not_text,
    reopen,
    show,
    turn_currency_page,
)
from bot.notifier import Notifier
from bot.states import WithdrawFlow
from core import currencies
from core.addresses import validate_address
from core.db.models import Currency, User
from core.errors import (
    CurrencyUnavailable,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAddress,
    InvalidAmount,
    LimitExceeded,
    PaybotError,
)
from core.ledger import get_balance
from core.money import parse_usd
from core.withdrawals import WithdrawalService

# The form's fields in the FSM data (strings only, so any storage can keep them).
AMOUNT = "amount"
CURRENCY = "currency"
ADDRESS = "address"
MEMO = "memo"
CONFIRMATION = "confirmation"  # message id of the confirmation being shown

MEMO_REASONS = frozenset({"memo_required", "memo_invalid"})


def _without(data: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in fields}


# --- the form ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Form:
    """What ``_advance`` works with, as one update's handler received it."""

    target: Message | CallbackQuery
    state: FSMContext
    session: AsyncSession
    user: User
    withdrawals: WithdrawalService


async def _advance(form: _Form, data: dict[str, Any], *, notice: str | None = None) -> None:
    """Ask for the first missing field, or show the confirmation. ``notice`` (why a field is
    asked again) goes in front of the question."""
    data = _without(data, CONFIRMATION)
    prefix = f"{notice}\n\n" if notice else ""
    if AMOUNT not in data:
        balance = await get_balance(form.session, form.user.id)
        await reopen(form.state, WithdrawFlow.amount, data)
        # Say what is kept: the next amount skips the steps already answered.
        kept = texts.withdraw_kept(data.get(CURRENCY), data.get(ADDRESS))
        await show(form.target, prefix + texts.withdraw_ask_amount(balance.balance) + kept)
        return
    amount = Decimal(data[AMOUNT])
    if CURRENCY not in data:
        markup = await currency_list(form.session, Flow.WITHDRAW, 0)
        if markup is None:
            await form.state.clear()
            await show(form.target, prefix + texts.NO_CURRENCIES)
            return
        await reopen(form.state, WithdrawFlow.currency, data)
        await show(form.target, prefix + texts.withdraw_pick_currency(amount), markup)
        return
    try:
        currency = await currencies.get_active(form.session, data[CURRENCY])
        quote = await form.withdrawals.quote(currency.code, amount)
    except CurrencyUnavailable as exc:
        data = _without(data, CURRENCY, ADDRESS, MEMO)
        await _advance(form, data, notice=_error(exc))
        return
    except InvalidAmount as exc:  # below this coin's minimum, fees eat it, above the maximum
        notice = texts.withdraw_coin_refused_amount(exc)
        await _advance(form, _without(data, AMOUNT), notice=notice)
        return
    if ADDRESS not in data:
        await reopen(form.state, WithdrawFlow.address, data)
        await show(form.target, prefix + texts.withdraw_ask_address(currency.code))
        return
    if currency.needs_memo and not data.get(MEMO):
        await reopen(form.state, WithdrawFlow.memo, data)
        await show(form.target, prefix + texts.withdraw_ask_memo(currency.code))
        return
    # Always a new message: its id makes the request key, so no two confirmations share one.
    if isinstance(form.target, CallbackQuery) and isinstance(form.target.message, Message):
        await drop_keyboard(form.target.message)
    chat = form.target if isinstance(form.target, Message) else form.target.message
    assert chat is not None  # private_callback: a button of a message in a private chat
    memo = data.get(MEMO) if currency.needs_memo else None
    text = texts.withdraw_confirm(quote, currency.code, data[ADDRESS], memo)
    sent = await chat.answer(prefix + text, reply_markup=keyboards.withdraw_confirm())
    await reopen(form.state, WithdrawFlow.confirm, {**data, CONFIRMATION: sent.message_id})


# --- step 1: the amount ------------------------------------------------------------------------


async def _start(
    target: Message | CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    balance = await get_balance(session, user.id)
    await reopen(state, WithdrawFlow.amount, {})
    await show(target, texts.withdraw_ask_amount(balance.balance))


async def withdraw_command(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await _start(message, state, session, user)


async def withdraw_button(
    callback: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await acknowledge(callback)
    await _start(callback, state, session, user)


async def amount_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    withdrawals: WithdrawalService,
) -> None:
    assert message.text is not None  # free_text
    try:
        amount = parse_usd(message.text)
    except InvalidAmount as exc:  # the step stays open
        await message.answer(texts.withdraw_amount_refused(exc))
        return
    data = await state.get_data()
    balance = await get_balance(session, user.id)
    error: PaybotError | None = None
    if CURRENCY not in data:  # a kept coin's own limits are checked by its quote in _advance
        error = await withdrawals.amount_refusal(amount)
    if error is None and amount > balance.balance:
        # Early word only; WithdrawalService.request checks again under the balance lock.
        error = InsufficientFunds(balance=balance.balance, amount=amount)
    if error is not None:
        await message.answer(texts.withdraw_amount_refused(error))
        return
    data = {**data, AMOUNT: str(amount)}
    await _advance(_Form(message, state, session, user, withdrawals), data)


# --- step 2: the coin --------------------------------------------------------------------------


async def currency_page(
    callback: CallbackQuery, callback_data: CurrencyPageCallback, session: AsyncSession
) -> None:
    await turn_currency_page(callback, session, Flow.WITHDRAW, callback_data.page)


async def currency_chosen(
    callback: CallbackQuery,
    callback_data: WithdrawCurrencyCallback,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    withdrawals: WithdrawalService,
) -> None:
    """Only at the coin step: the amount comes first, and an older list must not change the coin
    under a confirmation already shown."""
    data = await state.get_data()
    if await state.get_state() != WithdrawFlow.currency.state or AMOUNT not in data:
        await acknowledge(callback, texts.WITHDRAW_STEP_EXPIRED, alert=True)
        return
    await acknowledge(callback)
    data = {**_without(data, ADDRESS, MEMO), CURRENCY: callback_data.code}
    await _advance(_Form(callback, state, session, user, withdrawals), data)


# --- steps 3 and 4: address and memo -----------------------------------------------------------


async def _currency_of(state: FSMContext, session: AsyncSession) -> Currency | None:
    code = (await state.get_data()).get(CURRENCY)
    if not isinstance(code, str):
        return None
    try:
        return await currencies.get_active(session, code)
    except CurrencyUnavailable:
        return None


async def address_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    withdrawals: WithdrawalService,
) -> None:
    assert message.text is not None  # free_text
    data = await state.get_data()
    currency = await _currency_of(state, session)
    if currency is None:  # switched off meanwhile: _advance says so and asks for a coin
        await _advance(_Form(message, state, session, user, withdrawals), data)
        return
    try:
        # The rule WithdrawalService.request applies, without the memo (asked next).
        checked = validate_address(
            message.text,
            network=currency.network,
            currency=currency.code,
            wallet_regex=currency.wallet_regex,
        )
    except InvalidAddress as exc:  # the step stays open; amount and coin are kept
        await message.answer(texts.withdraw_address_refused(exc))
        return
    data = {**_without(data, MEMO), ADDRESS: checked.address}
    await _advance(_Form(message, state, session, user, withdrawals), data)


async def memo_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    withdrawals: WithdrawalService,
) -> None:
    assert message.text is not None  # free_text
    data = await state.get_data()
    currency = await _currency_of(state, session)
    if currency is None or not isinstance(data.get(ADDRESS), str):
        await _advance(_Form(message, state, session, user, withdrawals), data)
        return
    try:
        checked = validate_address(
            data[ADDRESS],
            network=currency.network,
            currency=currency.code,
            needs_memo=currency.needs_memo,
            memo=message.text,
            wallet_regex=currency.wallet_regex,
        )
    except InvalidAddress as exc:
        if exc.reason in MEMO_REASONS:  # the step stays open
            await message.answer(texts.withdraw_address_refused(exc))
            return
        data = _without(data, ADDRESS, MEMO)
        notice: str | None = texts.withdraw_address_refused(exc)
    else:
        data = {**data, MEMO: checked.memo or ""}
        notice = None
    await _advance(_Form(message, state, session, user, withdrawals), data, notice=notice)


# --- step 5: the confirmation ------------------------------------------------------------------


async def _claim_confirmation(callback: CallbackQuery, state: FSMContext) -> dict[str, Any] | None:
    """The form behind this very confirmation message, taken once; None for any other message
    (an older confirmation, one left by /cancel, a restart, a second tap)."""
    message = callback.message
    if not isinstance(message, Message):
        return None
    if (await state.get_data()).get(CONFIRMATION) != message.message_id:
        return None
    data = await claim(state, WithdrawFlow.confirm)
    if data is None or data.get(CONFIRMATION) != message.message_id:
        return None
    return data


async def aborted(callback: CallbackQuery, state: FSMContext) -> None:
    if await _claim_confirmation(callback, state) is None:
        await acknowledge(callback, texts.WITHDRAW_CONFIRM_EXPIRED, alert=True)
        return
    assert isinstance(callback.message, Message)  # _claim_confirmation
    await acknowledge(callback)
    await callback.message.edit_text(texts.WITHDRAW_ABORTED)


async def confirmed(
    callback: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    withdrawals: WithdrawalService,
    notifier: Notifier,
) -> None:
    data = await _claim_confirmation(callback, state)
    if data is None:
        await acknowledge(callback, texts.WITHDRAW_CONFIRM_EXPIRED, alert=True)
        return
    message = callback.message
    assert isinstance(message, Message)  # _claim_confirmation
    await acknowledge(callback)
    try:
        view = await withdrawals.request(
            user_id=user.id,
            currency_code=str(data[CURRENCY]),
            amount=Decimal(data[AMOUNT]),
            address=str(data[ADDRESS]),
            memo=data.get(MEMO) or None,
            request_key=f"confirm:{message.chat.id}:{message.message_id}",
        )
    except (
        InvalidAddress,
        InvalidAmount,
        InsufficientFunds,
        LimitExceeded,
        CurrencyUnavailable,
        IdempotencyConflict,
    ) as exc:
        await drop_keyboard(message)
        fixed = _fix(data, exc)
        if fixed is None:  # nothing to fix in this form: the flow ends here
            await message.answer(_error(exc))
            return
        form = _Form(message, state, session, user, withdrawals)
        await _advance(form, fixed, notice=_refusal(exc))
        return
    notifier.wake()  # the admin card is in the outbox
    await message.edit_text(texts.withdraw_requested(view))


def _fix(data: dict[str, Any], exc: PaybotError) -> dict[str, Any] | None:
    """The form without the field core refused; None when the refusal is not about a field."""
    if isinstance(exc, InvalidAddress):
        if exc.reason in MEMO_REASONS:
            return _without(data, MEMO)
        return _without(data, ADDRESS, MEMO)
    if isinstance(exc, InvalidAmount | InsufficientFunds):
        return _without(data, AMOUNT)
    if isinstance(exc, LimitExceeded) and exc.reason == "daily_cap":
        return _without(data, AMOUNT)
    if isinstance(exc, CurrencyUnavailable):
        return _without(data, CURRENCY, ADDRESS, MEMO)
    return None


def _refusal(exc: PaybotError) -> str:
    if isinstance(exc, InvalidAddress):
        return texts.withdraw_address_refused(exc)
    return _error(exc)


def _error(exc: PaybotError) -> str:
    return texts.error_text(exc.code, exc.reason, exc.params)


async def send_as_text(message: Message) -> None:
    await message.answer(texts.SEND_AS_TEXT)


async def use_the_buttons(message: Message) -> None:
    await message.answer(texts.WITHDRAW_USE_BUTTONS)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(withdraw_command, Command("withdraw"))
    router.callback_query.register(
        withdraw_button, MenuCallback.filter(F.action == MenuAction.WITHDRAW)
    )
    router.callback_query.register(
        currency_page, CurrencyPageCallback.filter(F.flow == Flow.WITHDRAW)
    )
    router.callback_query.register(currency_chosen, WithdrawCurrencyCallback.filter())
    router.callback_query.register(
        confirmed, WithdrawConfirmCallback.filter(F.action == ConfirmAction.CONFIRM)
    )
    router.callback_query.register(
        aborted, WithdrawConfirmCallback.filter(F.action == ConfirmAction.CANCEL)
    )
    steps = (
        (WithdrawFlow.amount, amount_typed),
        (WithdrawFlow.address, address_typed),
        (WithdrawFlow.memo, memo_typed),
    )
    for step, handler in steps:
        router.message.register(handler, StateFilter(step), free_text)
        router.message.register(send_as_text, StateFilter(step), not_text)
    router.message.register(
        use_the_buttons, StateFilter(WithdrawFlow.currency, WithdrawFlow.confirm), not_command
    )
    return router
