"""Withdrawals: request with fees and address checks, funds held at request, admin decisions as
guarded state transitions, the owner's cancel. See service.WithdrawalService; what an admin's card
offers is actions.WithdrawalActions."""

from core.withdrawals.actions import (
    OPEN_FOR_ADMIN,
    WithdrawalAction,
    WithdrawalActions,
    offered_actions,
)
from core.withdrawals.notify import CARD_KIND, STATUS_KIND
from core.withdrawals.request import hold_key
from core.withdrawals.service import WithdrawalService
from core.withdrawals.states import AWAITING_ADMIN, OPEN_STATUSES
from core.withdrawals.transitions import refund_key
from core.withdrawals.views import Decision, UserRef, WithdrawalCard, WithdrawalView

__all__ = [
    "AWAITING_ADMIN",
    "CARD_KIND",
    "OPEN_FOR_ADMIN",
    "OPEN_STATUSES",
    "STATUS_KIND",
    "Decision",
    "UserRef",
    "WithdrawalAction",
    "WithdrawalActions",
    "WithdrawalCard",
    "WithdrawalService",
    "WithdrawalView",
    "hold_key",
    "offered_actions",
    "refund_key",
]
