"""The money rules of a deposit, as pure functions: what arrived and the policy → what to do.

No I/O and no clock: settlement (core.deposits.settlement) applies the decision inside its locked
transaction. The rules (amounts in coin compare actually_paid with the invoice's pay_amount):

- finished, what arrived within ``tolerance_percent`` of pay_amount either way: credit the
  invoiced USD amount, or with ``credit_overpayment`` what arrived at the invoice's rate, at most
  the invoiced amount plus the tolerance. Never more.
- finished with more than that, less than that, nothing (0) or no amount at all: admin review.
  An invoice's rate may be days old (floating invoices live 7 days), so money beyond the invoice
  is never converted automatically.
- partially_paid: policy ``hold`` → review; ``credit`` → what arrived at the invoice's rate, at
  most the invoiced amount (review when that is below a cent or the amount is unknown).
- A deposit that ends as expired or failed with actually_paid > 0, or that ended without money
  and then reports money (a paid status or actually_paid > 0): review (``late_money``). Nothing
  that arrived is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Literal

from core.money import CENT, round_credit

FINISHED = "finished"
PARTIALLY_PAID = "partially_paid"
# Provider statuses that mean money is on its way or has arrived.
MONEY_STATUSES = frozenset({"confirming", "confirmed", "sending", FINISHED, PARTIALLY_PAID})


class Action(StrEnum):
    CREDIT = "credit"  # post credit_usd now (automatic)
    REVIEW = "review"  # final, nothing credited, needs_review: an admin decides


@dataclass(frozen=True, slots=True)
class MoneyPolicy:
    partial_payment_policy: Literal["credit", "hold"] = "hold"
    tolerance_percent: Decimal = Decimal("1")
    credit_overpayment: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str | None  # why (the payment event note, the user's and the admins' message)
    credit_usd: Decimal | None = None  # CREDIT only: > 0, at most the invoice + tolerance

    def __post_init__(self) -> None:
        if (self.action is Action.CREDIT) != (self.credit_usd is not None and self.credit_usd > 0):
            raise ValueError("a credit decision needs a positive amount, a review none")


def pro_rata(amount_usd: Decimal, paid: Decimal, pay_amount: Decimal) -> Decimal:
    """USD value of ``paid`` at the payment's own rate, rounded down to the cent."""
    with localcontext() as ctx:
        ctx.prec = 80
        value = amount_usd * paid / pay_amount
    return round_credit(value) if value >= CENT else Decimal("0.00")


def invoice_value(
    amount_usd: Decimal, paid: Decimal | None, pay_amount: Decimal | None
) -> Decimal | None:
    """What arrived, valued at the invoice's rate; None when either amount is unknown."""
    if paid is None or not pay_amount or pay_amount <= 0:
        return None
    return pro_rata(amount_usd, paid, pay_amount)


def _ratio_bounds(pay_amount: Decimal, percent: Decimal) -> tuple[Decimal, Decimal]:
    with localcontext() as ctx:
        ctx.prec = 80
        share = percent / 100
        return pay_amount * (1 - share), pay_amount * (1 + share)


def ceiling(amount_usd: Decimal, percent: Decimal) -> Decimal:
    """The most an automatic credit may be: the invoice plus the tolerance, down to the cent."""
    with localcontext() as ctx:
        ctx.prec = 80
        return round_credit(amount_usd * (1 + percent / 100))


def decide_paid(
    status: Literal["finished", "partially_paid"],
    *,
    amount_usd: Decimal,
    pay_amount: Decimal | None,
    paid: Decimal | None,
    policy: MoneyPolicy,
) -> Decision:
    """A payment the provider settled as ``status`` with ``paid`` coin of ``pay_amount`` asked
    for ``amount_usd``: credit (how much) or review (why)."""
    if not pay_amount or pay_amount <= 0:
        return Decision(Action.REVIEW, "amount_unknown")
    if paid is None or paid <= 0:
        reason = "finished_nothing_paid" if status == FINISHED else "amount_unknown"
        return Decision(Action.REVIEW, reason)
    low, high = _ratio_bounds(pay_amount, policy.tolerance_percent)
    if paid > high:
        return Decision(Action.REVIEW, "overpaid")
    if status == PARTIALLY_PAID:
        if policy.partial_payment_policy == "hold":
            return Decision(Action.REVIEW, "partial_hold")
        value = min(amount_usd, pro_rata(amount_usd, paid, pay_amount))
        if value <= 0:  # less than a cent at the invoice's rate: an admin looks
            return Decision(Action.REVIEW, "partial_hold")
        return Decision(Action.CREDIT, "partial_credit", value)
    if paid < low:
        return Decision(Action.REVIEW, "finished_underpaid")
    if policy.credit_overpayment and paid > pay_amount:
        top = ceiling(amount_usd, policy.tolerance_percent)
        value = max(min(pro_rata(amount_usd, paid, pay_amount), top), amount_usd)
        extra = "overpaid_credited" if value > amount_usd else None
        return Decision(Action.CREDIT, extra, value)
    return Decision(Action.CREDIT, None, amount_usd)


def late_money(provider_status: str, paid: Decimal | None) -> bool:
    """Whether a reply about a deposit that ended without money says money came after all."""
    return provider_status in MONEY_STATUSES or (paid is not None and paid > 0)


__all__ = [
    "MONEY_STATUSES",
    "Action",
    "Decision",
    "MoneyPolicy",
    "ceiling",
    "decide_paid",
    "invoice_value",
    "late_money",
    "pro_rata",
]
