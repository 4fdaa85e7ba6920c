"""Admin tools behind the admin chat, one module per domain (no aiogram here):

- ``stats``: /stats figures from one snapshot;
- ``lookups``: who a Telegram id is, one user's summary;
- ``adjustments``: balance adjustments and bonuses through the ledger;
- ``currencies``: the coin list, the on/off switch, a provider sync;
- ``deposits``: recent deposits by status, the review decision on a held one;
- ``prompts``: the questions the bot asks admins (a reason, a hash, a confirmation) and what
  an answer to each does;
- ``reconcile``: the ledger reconcile and its alert (no admin involved).

What a withdrawal card offers and does is core.withdrawals.actions. Authorisation is checked in
one place, core.auth.AdminGate: every admin method here takes its ``Admin`` proof.
"""

from core.admin.adjustments import (
    ADJUST_KINDS,
    AdjustmentPlan,
    AdjustmentResult,
    Adjustments,
    adjustment_amount,
    reason_text,
)
from core.admin.currencies import CurrencySwitch
from core.admin.deposits import PAYMENT_FILTERS, REVIEW_FILTER, DepositDesk
from core.admin.lookups import Lookups, Person, UserInfo, UserSummary, people
from core.admin.prompts import (
    CONFIRMATIONS,
    WITHDRAWAL_QUESTIONS,
    AdjustmentTerms,
    AdminPrompts,
    PromptAction,
    Refusal,
    Taken,
    WithdrawalPrompt,
)
from core.admin.reconcile import RECONCILE_ALERT_KIND, reconcile_and_alert
from core.admin.stats import Stats, StatsService, StatusTotal

__all__ = [
    "ADJUST_KINDS",
    "CONFIRMATIONS",
    "PAYMENT_FILTERS",
    "RECONCILE_ALERT_KIND",
    "REVIEW_FILTER",
    "WITHDRAWAL_QUESTIONS",
    "AdjustmentPlan",
    "AdjustmentResult",
    "AdjustmentTerms",
    "Adjustments",
    "AdminPrompts",
    "CurrencySwitch",
    "DepositDesk",
    "Lookups",
    "Person",
    "PromptAction",
    "Refusal",
    "Stats",
    "StatsService",
    "StatusTotal",
    "Taken",
    "UserInfo",
    "UserSummary",
    "WithdrawalPrompt",
    "adjustment_amount",
    "people",
    "reason_text",
    "reconcile_and_alert",
]
