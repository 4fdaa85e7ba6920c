"""Deposits through NOWPayments, shaped like core.withdrawals:

- service.DepositService: what the bot calls (create, check status, list, admin recheck and
  review), built once in the composition root;
- flows: creating a deposit, finding lost creates by order_id, status checks;
- decision: the pure settlement decision (reply + stored payment + policy → what to do);
  settlement: ``settle`` locks the row, decides and applies; rules: the money rules;
- review (admins end a review), notify (outbox rows), views (read models);
- poller and schedule: which payments are asked about when."""

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
from core.deposits.service import DepositLimits, DepositService
from core.deposits.settlement import Outcome, SettlePolicy, SettleResult, settle
from core.deposits.views import PaymentView

__all__ = [
    "DepositLimits",
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
