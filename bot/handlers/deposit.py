"""Deposits: pick a coin → an amount (typed or a preset) → one message with the amount to send,
the address, the memo where needed, the expiry and a QR code → "Check status".

Rules live in core.deposits (DepositService: limits, provider minimums, settlement); this
module parses the form of the input, calls it and words the outcome. Later status changes arrive
as pushes from the outbox (kind ``deposit_status``), the same whether the poller or "Check
status" saw them first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.callbacks import (
    CurrencyPageCallback,
    DepositCheckCallback,
    DepositCurrencyCallback,
    DepositPresetCallback,
    Flow,
    MenuAction,
    MenuCallback,
)
from bot.handlers.common import acknowledge, private_callback, private_chat
from bot.handlers.flow import (
    claim,
    coin_picker,
    drop_keyboard,
    free_text,
    not_command,
    not_text,
    reopen,
    show,
    show_currencies,
    turn_currency_page,
)
from bot.notifier import Notifier
from bot.qr import qr_png
from bot.states import DepositFlow
from core import currencies
from core.db.models import User
from core.deposits import DepositLimits, DepositService, PaymentView
from core.errors import (
    CurrencyUnavailable,
    Forbidden,
    InvalidAmount,
    LimitExceeded,
    NotFound,
    ProviderRefused,
    ProviderUnavailable,
)
from core.money import parse_usd

QR_FILENAME = "deposit-qr.png"

# What create_deposit may refuse in a way the user can act on in this flow.
Refusal = InvalidAmount | ProviderRefused | CurrencyUnavailable | ProviderUnavailable


# --- step 1: the coin --------------------------------------------------------------------------


async def _start(
    target: Message | CallbackQuery, state: FSMContext, session: AsyncSession
) -> None:
    await state.set_state(DepositFlow.currency)
    await state.set_data({})
    if not await show_currencies(target, session, Flow.DEPOSIT, texts.DEPOSIT_PICK_CURRENCY):
        await state.clear()


async def deposit_command(message: Message, state: FSMContext, session: AsyncSession) -> None:
    await _start(message, state, session)


async def deposit_button(
    callback: CallbackQuery, state: FSMContext, session: AsyncSession
) -> None:
    await acknowledge(callback)
    await _start(callback, state, session)


async def currency_page(
    callback: CallbackQuery, callback_data: CurrencyPageCallback, session: AsyncSession
) -> None:
    await turn_currency_page(callback, session, Flow.DEPOSIT, callback_data.page)


# --- step 2: the amount ------------------------------------------------------------------------


async def currency_chosen(
    callback: CallbackQuery,
    callback_data: DepositCurrencyCallback,
    state: FSMContext,
    session: AsyncSession,
    deposits: DepositService,
) -> None:
    """Valid from any state: a coin button of an older list just opens the amount step again
    (nothing is created before an amount is given)."""
    try:
        currency = await currencies.get_active(session, callback_data.code)
    except CurrencyUnavailable as exc:
        await acknowledge(callback, texts.error_text(exc.code, exc.reason, exc.params), alert=True)
        return
    await acknowledge(callback)
    await reopen(state, DepositFlow.amount, {"currency": currency.code})
    limits = deposits.limits
    await show(
        callback,
        texts.deposit_ask_amount(currency.code, limits.min_usd, limits.max_usd),
        keyboards.deposit_presets(currency.code, limits.presets_usd),
    )


@dataclass(frozen=True, slots=True)
class _ClaimedStep:
    """The amount step one update took (``claim``): the chat to answer in, and what reopens the
    step when the user has to answer again."""

    bot: Bot
    chat_id: int
    state: FSMContext
    data: dict[str, Any]

    async def say(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await self.bot.send_message(self.chat_id, text, reply_markup=markup)


async def amount_typed(
    message: Message, state: FSMContext, bot: Bot, user: User, deposits: DepositService
) -> None:
    assert message.text is not None  # free_text
    try:
        amount = parse_usd(message.text)
    except InvalidAmount as exc:  # the step stays open
        await message.answer(_amount_refused(exc, deposits.limits))
        return
    data = await claim(state, DepositFlow.amount)
    if data is None:  # a parallel update (a preset tapped meanwhile) took the step
        return
    await _create(_ClaimedStep(bot, message.chat.id, state, data), amount, user, deposits)


async def preset_chosen(
    callback: CallbackQuery,
    callback_data: DepositPresetCallback,
    state: FSMContext,
    bot: Bot,
    user: User,
    deposits: DepositService,
) -> None:
    """Only while the amount step of this very coin is open: a preset of an older prompt (after
    /cancel, another deposit, a restart) or a second tap is refused, never a second payment."""
    if (await state.get_data()).get("currency") != callback_data.code:
        await acknowledge(callback, texts.DEPOSIT_STEP_EXPIRED, alert=True)
        return
    data = await claim(state, DepositFlow.amount)
    if data is None:
        await acknowledge(callback, texts.DEPOSIT_STEP_EXPIRED, alert=True)
        return
    await acknowledge(callback)
    if isinstance(callback.message, Message):
        await drop_keyboard(callback.message)
    amount = Decimal(callback_data.cents).scaleb(-2)
    await _create(_ClaimedStep(bot, callback.from_user.id, state, data), amount, user, deposits)


async def _create(
    step: _ClaimedStep, amount: Decimal, user: User, deposits: DepositService
) -> None:
    """A refusal the user can fix opens the right step again."""
    try:
        view = await deposits.create(
            user_id=user.id,
            amount_usd=amount,
            currency_code=str(step.data.get("currency", "")),
        )
    except (InvalidAmount, ProviderRefused, CurrencyUnavailable, ProviderUnavailable) as exc:
        await _refused(step, exc, deposits)
        return
    await send_invoice(step.bot, step.chat_id, view)


async def _refused(step: _ClaimedStep, exc: Refusal, deposits: DepositService) -> None:
    if isinstance(exc, ProviderUnavailable) and exc.reason == "outcome_unknown":
        # The poller attaches or fails it and tells the user; a retry could make a second one.
        await step.say(texts.deposit_create_pending(exc.params.get("payment")))
        return
    error = texts.error_text(exc.code, exc.reason, exc.params)
    coin_gone = isinstance(exc, CurrencyUnavailable) or (
        isinstance(exc, ProviderRefused) and exc.reason == "currency_unavailable"
    )
    if coin_gone:
        markup = coin_picker(await deposits.currencies(), Flow.DEPOSIT, 0)
        if markup is None:
            await step.say(f"{error}\n\n{texts.NO_CURRENCIES}")
            return
        await reopen(step.state, DepositFlow.currency, {})
        await step.say(f"{error}\n\n{texts.DEPOSIT_PICK_CURRENCY}", markup)
        return
    await reopen(step.state, DepositFlow.amount, step.data)
    if isinstance(exc, InvalidAmount):
        await step.say(_amount_refused(exc, deposits.limits))
    else:
        await step.say(texts.deposit_try_again(exc))


def _amount_refused(exc: InvalidAmount, limits: DepositLimits) -> str:
    return texts.deposit_amount_refused(exc, limits.min_usd, limits.max_usd)


async def send_as_text(message: Message) -> None:
    await message.answer(texts.SEND_AS_TEXT)


async def use_the_buttons(message: Message) -> None:
    await message.answer(texts.DEPOSIT_USE_BUTTONS)


# --- step 3: where to pay ----------------------------------------------------------------------


async def send_invoice(bot: Bot, chat_id: int, view: PaymentView) -> None:
    """The QR code of the payment URI as a photo with the text as its caption, or the photo and
    then the text when the text is longer than a caption may be."""
    text = texts.deposit_invoice(view)
    markup = keyboards.deposit_check(view.id)
    if view.payment_uri is None:  # no address (never after a successful create)
        await bot.send_message(chat_id, text, reply_markup=markup)
        return
    photo = BufferedInputFile(qr_png(view.payment_uri), filename=QR_FILENAME)
    if texts.fits_caption(text):
        await bot.send_photo(chat_id, photo, caption=text, reply_markup=markup)
        return
    await bot.send_photo(chat_id, photo)
    await bot.send_message(chat_id, text, reply_markup=markup)


# --- "Check status" ----------------------------------------------------------------------------


async def check_status(
    callback: CallbackQuery,
    callback_data: DepositCheckCallback,
    deposits: DepositService,
    notifier: Notifier,
) -> None:
    """The poller's settle, now. Core checks the owner before asking the provider; a change is
    pushed through the outbox like any other, and this answer says where things stand."""
    try:
        view = await deposits.check_status(
            user_telegram_id=callback.from_user.id,
            payment_id=callback_data.payment_id,
        )
    except (NotFound, Forbidden, LimitExceeded, ProviderUnavailable) as exc:
        await acknowledge(callback, texts.error_text(exc.code, exc.reason, exc.params), alert=True)
        return
    notifier.wake()
    await acknowledge(callback, texts.deposit_check_answer(view), alert=True)
    message = callback.message
    settled = view.is_final and not deposits.late_checkable(view)
    if settled and isinstance(message, Message) and _only_button(message, callback_data):
        await drop_keyboard(message)  # the invoice: nothing left to check (late money may be)


def _only_button(message: Message, data: DepositCheckCallback) -> bool:
    """Whether this check button is all the message carries (an invoice, not a list)."""
    markup = message.reply_markup
    if markup is None:
        return False
    found = [button.callback_data for row in markup.inline_keyboard for button in row]
    return found == [data.pack()]


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(private_chat)
    router.callback_query.filter(private_callback)
    router.message.register(deposit_command, Command("deposit"))
    router.callback_query.register(
        deposit_button, MenuCallback.filter(F.action == MenuAction.DEPOSIT)
    )
    router.callback_query.register(
        currency_page, CurrencyPageCallback.filter(F.flow == Flow.DEPOSIT)
    )
    router.callback_query.register(currency_chosen, DepositCurrencyCallback.filter())
    router.callback_query.register(preset_chosen, DepositPresetCallback.filter())
    router.callback_query.register(check_status, DepositCheckCallback.filter())
    router.message.register(amount_typed, StateFilter(DepositFlow.amount), free_text)
    router.message.register(send_as_text, StateFilter(DepositFlow.amount), not_text)
    router.message.register(use_the_buttons, StateFilter(DepositFlow.currency), not_command)
    return router
