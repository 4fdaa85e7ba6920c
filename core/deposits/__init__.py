"""Deposits through NOWPayments: create, settle provider replies, poll, admin review.

See service.DepositService (what the bot calls), settlement (decide, then apply), rules (the
money rules), poller and schedule (when a payment is asked about), review, notify, views."""

from core.deposits.flows import (
    check_status,
    create_deposit,
    find_by_order_id,
    late_checkable,
    mark_create_failed,
    payment_view,
    provider_minimum,
    recheck,
    reconcile_creating,
)
from core.deposits.review import ReviewDecision, ReviewResult
from core.deposits.service import DepositService
from core.deposits.settlement import Outcome, SettlePolicy, SettleResult, settle
from core.deposits.views import PaymentView

__all__ = [
    "DepositService",
    "Outcome",
    "PaymentView",
    "ReviewDecision",
    "ReviewResult",
    "SettlePolicy",
    "SettleResult",
    "check_status",
    "create_deposit",
    "find_by_order_id",
    "late_checkable",
    "mark_create_failed",
    "payment_view",
    "provider_minimum",
    "recheck",
    "reconcile_creating",
    "settle",
]
