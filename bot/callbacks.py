"""Callback data: short versioned prefixes, typed fields, enum actions.

A button carries an id or a page number, never a decision: the handler asks the database what may
happen. Data that does not unpack (forged, truncated, an older version) matches no filter and is
answered by the fallback router. Bump the prefix's digit when a layout changes incompatibly.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from core.withdrawals import WithdrawalAction

# The largest history page a button may name; anything above is treated as forged.
MAX_PAGE = 100_000


class MenuAction(StrEnum):
    DEPOSIT = "dep"
    BALANCE = "bal"
    HISTORY = "his"
    WITHDRAW = "wd"
    DEPOSITS = "deps"
    WITHDRAWALS = "wds"
    HELP = "help"
    MENU = "menu"  # back to the main menu from any step


class MenuCallback(CallbackData, prefix="m1"):
    action: MenuAction


class LanguageCallback(CallbackData, prefix="l1"):
    locale: str


class HistoryCallback(CallbackData, prefix="h1"):
    page: int  # 0 = newest


# --- deposit & withdraw flows (bot/handlers/deposit.py, withdraw.py, my_items.py) -------------
# Out-of-range values fail validation, so such data matches no filter (the fallback answers it).

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,32}$")]
RowId = Annotated[int, Field(gt=0, le=2**63 - 1)]  # a BIGINT primary key


class Flow(StrEnum):
    DEPOSIT = "d"
    WITHDRAW = "w"


class CurrencyPageCallback(CallbackData, prefix="cp1"):
    flow: Flow
    page: Annotated[int, Field(ge=0, le=MAX_PAGE)]


class DepositCurrencyCallback(CallbackData, prefix="dc1"):
    code: CurrencyCode


class DepositPresetCallback(CallbackData, prefix="dp1"):
    code: CurrencyCode  # the amount step it belongs to
    cents: Annotated[int, Field(gt=0, le=10**14)]


class DepositCheckCallback(CallbackData, prefix="dk1"):
    payment_id: RowId


class WithdrawCurrencyCallback(CallbackData, prefix="wc1"):
    code: CurrencyCode


class ConfirmAction(StrEnum):
    CONFIRM = "ok"
    CANCEL = "no"


class WithdrawConfirmCallback(CallbackData, prefix="wf1"):
    # No id: the FSM data names the confirmation message the buttons must be pressed on.
    action: ConfirmAction


class WithdrawalCancelCallback(CallbackData, prefix="wx1"):
    withdrawal_id: RowId


# --- admin (bot/handlers/admin) ---------------------------------------------------------------
# Each button carries an id or a code and an action, never the outcome: the core checks the
# admin again and the database decides what may happen.


class AdminWithdrawalAction(StrEnum):
    APPROVE = "ap"
    REJECT = "rj"
    PROCESS = "pr"
    COMPLETE = "cp"


# A card button's action and the core action it asks for (core.withdrawals.actions), both ways.
CORE_ACTION: Mapping[AdminWithdrawalAction, WithdrawalAction] = MappingProxyType(
    {
        AdminWithdrawalAction.APPROVE: WithdrawalAction.APPROVE,
        AdminWithdrawalAction.REJECT: WithdrawalAction.REJECT,
        AdminWithdrawalAction.PROCESS: WithdrawalAction.PROCESS,
        AdminWithdrawalAction.COMPLETE: WithdrawalAction.COMPLETE,
    }
)
BUTTON_ACTION: Mapping[WithdrawalAction, AdminWithdrawalAction] = MappingProxyType(
    {core: button for button, core in CORE_ACTION.items()}
)


class AdminWithdrawalCallback(CallbackData, prefix="aw1"):
    id: RowId  # withdrawal_requests.id
    action: AdminWithdrawalAction


class AdminCurrencyAction(StrEnum):
    ON = "on"
    OFF = "off"


class AdminCurrencyCallback(CallbackData, prefix="ac2"):
    action: AdminCurrencyAction  # the state wanted, so a repeated press changes nothing more
    code: CurrencyCode
    page: Annotated[int, Field(ge=0, le=MAX_PAGE)] = 0  # the list page to show afterwards


class AdminCurrencyPageCallback(CallbackData, prefix="ap1"):
    page: Annotated[int, Field(ge=0, le=MAX_PAGE)]


class AdminReviewAction(StrEnum):
    CREDIT = "credit"
    CLOSE = "close"


class AdminReviewCallback(CallbackData, prefix="ar1"):
    """A deposit under review; the amount a credit posts is the core's, never the button's."""

    payment_id: RowId
    action: AdminReviewAction


class AdminCurrencySyncCallback(CallbackData, prefix="as1"):
    pass


class AdminAdjustCallback(CallbackData, prefix="aj1"):
    """The terms are read back from the message the button is on (the bot's own text)."""

    action: ConfirmAction


class LedgerPageDirection(StrEnum):
    OLDER = "o"  # rows older than the cursor
    NEWER = "n"  # rows newer than the cursor


class LedgerTypeCode(StrEnum):
    """Short codes for core.db.models.TxType (member names match), so the filters fit 64 bytes."""

    DEPOSIT = "d"
    WITHDRAWAL = "w"
    PAYMENT = "p"
    REFUND = "r"
    FEE = "f"
    BONUS = "b"
    ADJUSTMENT = "a"


class AdminTransactionsCallback(CallbackData, prefix="at1"):
    """A page of /transactions: the filters it was asked with and the id it continues from.
    A forged cursor shows at most another page of the same admin view, or nothing."""

    cursor: RowId
    direction: LedgerPageDirection
    user: Annotated[int, Field(gt=0, le=2**63 - 1)] | None = None  # a Telegram id
    type: LedgerTypeCode | None = None
    since: Annotated[int, Field(ge=19700101, le=99991231)] | None = None  # YYYYMMDD
