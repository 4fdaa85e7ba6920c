"""Keyboards. Labels come from bot.texts (in the current locale, so keyboards are built per
message), callback data from callbacks.py. Every step of a flow carries a Menu button: the main
menu is reachable without typing /start."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot import texts
from bot.callbacks import (
    AdminAdjustCallback,
    AdminCurrencyAction,
    AdminCurrencyCallback,
    AdminCurrencyPageCallback,
    AdminCurrencySyncCallback,
    AdminReviewAction,
    AdminReviewCallback,
    AdminWithdrawalAction,
    AdminWithdrawalCallback,
    ConfirmAction,
    CurrencyPageCallback,
    DepositCheckCallback,
    DepositCurrencyCallback,
    DepositPresetCallback,
    Flow,
    HistoryCallback,
    LanguageCallback,
    MenuAction,
    MenuCallback,
    WithdrawalCancelCallback,
    WithdrawConfirmCallback,
    WithdrawCurrencyCallback,
)
from bot.i18n import LOCALES, t, use_locale

_MENU: tuple[tuple[tuple[str, MenuAction], ...], ...] = (
    (("btn-deposit", MenuAction.DEPOSIT), ("btn-withdraw", MenuAction.WITHDRAW)),
    (("btn-balance", MenuAction.BALANCE), ("btn-history", MenuAction.HISTORY)),
    (("btn-deposits", MenuAction.DEPOSITS), ("btn-withdrawals", MenuAction.WITHDRAWALS)),
    (("btn-help", MenuAction.HELP),),
)


def main_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=t(key), callback_data=MenuCallback(action=action).pack())
                for key, action in row
            ]
            for row in _MENU
        ]
    )


def _menu_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=texts.BTN_MENU, callback_data=MenuCallback(action=MenuAction.MENU).pack()
    )


def menu_only() -> InlineKeyboardMarkup:
    """For a step that takes typed text: the way back to the main menu."""
    return InlineKeyboardMarkup(inline_keyboard=[[_menu_button()]])


def _with_menu(builder: InlineKeyboardBuilder) -> InlineKeyboardMarkup:
    builder.row(_menu_button())
    return builder.as_markup()


def language_picker() -> InlineKeyboardMarkup:
    """One button per locale, each named in its own language."""
    row = []
    for locale in LOCALES:
        with use_locale(locale):
            label = t("language-name")
        row.append(
            InlineKeyboardButton(text=label, callback_data=LanguageCallback(locale=locale).pack())
        )
    return InlineKeyboardMarkup(inline_keyboard=[row])


def history_navigation(
    page: int, *, has_previous: bool, has_next: bool
) -> InlineKeyboardMarkup | None:
    """Newer/older buttons; None when everything fits on one page."""
    builder = InlineKeyboardBuilder()
    if has_previous:
        builder.button(text=texts.BTN_PREVIOUS, callback_data=HistoryCallback(page=page - 1))
    if has_next:
        builder.button(text=texts.BTN_NEXT, callback_data=HistoryCallback(page=page + 1))
    if not has_previous and not has_next:
        return None
    return builder.as_markup()


# --- deposit & withdraw flows ---------------------------------------------------------------

CURRENCIES_PER_PAGE = 8
CURRENCIES_PER_ROW = 2
ITEM_BUTTONS = 5  # "Check status" / "Cancel" buttons under a list, newest first


def _add_page_turns(
    builder: InlineKeyboardBuilder,
    page: int,
    more: bool,
    data_for: Callable[[int], CallbackData],
) -> None:
    """A ◀ ▶ row under a paged list: back unless on the first page, on while ``more``."""
    turns: list[InlineKeyboardButton] = []
    if page > 0:
        previous = data_for(page - 1).pack()
        turns.append(InlineKeyboardButton(text=texts.BTN_PAGE_PREVIOUS, callback_data=previous))
    if more:
        following = data_for(page + 1).pack()
        turns.append(InlineKeyboardButton(text=texts.BTN_PAGE_NEXT, callback_data=following))
    if turns:
        builder.row(*turns)


def currency_picker(
    choices: Sequence[tuple[str, str]], *, flow: Flow, page: int
) -> InlineKeyboardMarkup | None:
    """(code, label) pairs in display order, a page of them with ◀ ▶ when they need more than
    one; None when the page does not exist (or there is nothing at all)."""
    first = page * CURRENCIES_PER_PAGE
    if page < 0 or first >= len(choices):
        return None
    builder = InlineKeyboardBuilder()
    for code, label in choices[first : first + CURRENCIES_PER_PAGE]:
        data = (
            DepositCurrencyCallback(code=code)
            if flow == Flow.DEPOSIT
            else WithdrawCurrencyCallback(code=code)
        )
        builder.button(text=label, callback_data=data)
    builder.adjust(CURRENCIES_PER_ROW)
    more = first + CURRENCIES_PER_PAGE < len(choices)
    _add_page_turns(builder, page, more, lambda to: CurrencyPageCallback(flow=flow, page=to))
    return _with_menu(builder)


def deposit_presets(code: str, presets: Sequence[Decimal]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for amount in presets:
        cents = int(amount.scaleb(2))
        builder.button(
            text=texts.btn_usd(amount), callback_data=DepositPresetCallback(code=code, cents=cents)
        )
    builder.adjust(4)
    return _with_menu(builder)


def deposit_check(payment_id: int) -> InlineKeyboardMarkup:
    data = DepositCheckCallback(payment_id=payment_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=texts.BTN_CHECK_STATUS, callback_data=data)]]
    )


def deposits_list(open_payments: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """A "Check status" button per open deposit: (row id, internal id)."""
    builder = InlineKeyboardBuilder()
    for payment_id, internal_id in open_payments[:ITEM_BUTTONS]:
        builder.button(
            text=texts.btn_check_deposit(internal_id),
            callback_data=DepositCheckCallback(payment_id=payment_id),
        )
    builder.adjust(1)
    return builder.as_markup() if open_payments else None


def withdraw_confirm() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=texts.BTN_CONFIRM, callback_data=WithdrawConfirmCallback(action=ConfirmAction.CONFIRM)
    )
    builder.button(
        text=texts.BTN_CANCEL, callback_data=WithdrawConfirmCallback(action=ConfirmAction.CANCEL)
    )
    return _with_menu(builder)


def withdrawals_list(pending: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """A "Cancel" button per pending withdrawal: (row id, internal id)."""
    builder = InlineKeyboardBuilder()
    for withdrawal_id, internal_id in pending[:ITEM_BUTTONS]:
        builder.button(
            text=texts.btn_cancel_withdrawal(internal_id),
            callback_data=WithdrawalCancelCallback(withdrawal_id=withdrawal_id),
        )
    builder.adjust(1)
    return builder.as_markup() if pending else None


# --- admin ------------------------------------------------------------------------------------

_ADMIN_WD_BUTTONS: dict[AdminWithdrawalAction, str] = {
    AdminWithdrawalAction.APPROVE: texts.BTN_WD_APPROVE,
    AdminWithdrawalAction.REJECT: texts.BTN_WD_REJECT,
    AdminWithdrawalAction.PROCESS: texts.BTN_WD_PROCESS,
    AdminWithdrawalAction.COMPLETE: texts.BTN_WD_COMPLETE,
}
# Switches per page of the admin's coin list (a synced list can hold hundreds of coins).
ADMIN_CURRENCIES_PER_PAGE = 30


def admin_withdrawal_card(
    withdrawal_id: int, actions: Sequence[AdminWithdrawalAction]
) -> InlineKeyboardMarkup | None:
    """The card's buttons (in the given order, two per row); None once nothing is left."""
    if not actions:
        return None
    builder = InlineKeyboardBuilder()
    for action in actions:
        builder.button(
            text=_ADMIN_WD_BUTTONS[action],
            callback_data=AdminWithdrawalCallback(id=withdrawal_id, action=action),
        )
    builder.adjust(2)
    return builder.as_markup()


def admin_prompt(placeholder: str) -> ForceReply:
    """Opens the reply field for the admin mentioned in the prompt."""
    return ForceReply(force_reply=True, selective=True, input_field_placeholder=placeholder[:64])


def admin_currencies(coins: Sequence[tuple[str, bool]], page: int) -> InlineKeyboardMarkup:
    """A switch per coin on this page (code, currently on), ◀ ▶ when the list has more pages,
    then the sync button."""
    first = page * ADMIN_CURRENCIES_PER_PAGE
    builder = InlineKeyboardBuilder()
    for code, active in coins[first : first + ADMIN_CURRENCIES_PER_PAGE]:
        action = AdminCurrencyAction.OFF if active else AdminCurrencyAction.ON
        try:
            data = AdminCurrencyCallback(action=action, code=code, page=page)
        except ValueError:  # a code that cannot travel in callback data gets no switch
            continue
        builder.button(text=texts.btn_currency(code, active), callback_data=data)
    builder.adjust(3)
    more = first + ADMIN_CURRENCIES_PER_PAGE < len(coins)
    _add_page_turns(builder, page, more, lambda to: AdminCurrencyPageCallback(page=to))
    builder.row(
        InlineKeyboardButton(
            text=texts.BTN_CURRENCY_SYNC, callback_data=AdminCurrencySyncCallback().pack()
        )
    )
    return builder.as_markup()


def admin_review(
    choices: Sequence[tuple[int, str, Decimal | None]], *, name_each: bool = False
) -> InlineKeyboardMarkup | None:
    """Per deposit under review (row id, internal id, what a credit would post): Credit (when
    something can be credited) and Close. ``name_each`` labels buttons with the deposit id (a
    list of several)."""
    builder = InlineKeyboardBuilder()
    widths: list[int] = []
    for payment_id, internal_id, credit in choices[: ITEM_BUTTONS * 2]:
        label = internal_id if name_each else None
        row = 0
        if credit is not None:
            builder.button(
                text=texts.btn_review_credit(credit, label),
                callback_data=AdminReviewCallback(
                    payment_id=payment_id, action=AdminReviewAction.CREDIT
                ),
            )
            row += 1
        builder.button(
            text=texts.btn_review_close(label),
            callback_data=AdminReviewCallback(
                payment_id=payment_id, action=AdminReviewAction.CLOSE
            ),
        )
        widths.append(row + 1)
    if not widths:
        return None
    builder.adjust(*widths)
    return builder.as_markup()


def admin_adjust_confirm() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=texts.BTN_ADJUST_CONFIRM,
        callback_data=AdminAdjustCallback(action=ConfirmAction.CONFIRM),
    )
    builder.button(
        text=texts.BTN_ADJUST_CANCEL,
        callback_data=AdminAdjustCallback(action=ConfirmAction.CANCEL),
    )
    return builder.as_markup()
