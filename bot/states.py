"""FSM states. /cancel (bot/handlers/common.py) leaves any of them.

The deposit and withdrawal flows are wired in a later phase; their steps are declared here so the
storage keys stay stable across releases.
"""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class DepositFlow(StatesGroup):
    amount = State()
    currency = State()


class WithdrawFlow(StatesGroup):
    currency = State()
    amount = State()
    address = State()
    memo = State()
    confirm = State()
