"""Outbox rows for deposits, written in the transaction that changes the payment.

Kinds (payloads are facts; the bot words them):
- ``deposit_status`` to the owner (chat_id = their Telegram id) on every observed status change:
  payment_id, internal_id, status, previous_status, provider_status, final, amount_usd,
  credited_usd, pay_amount, actually_paid, currency, needs_review, reason; balance_usd after a
  credit; pay_address, memo, payment_uri, expires_at when the address is new to the user (a
  create found by order_id).
- ``deposit_review`` to the admin chat: a decision is needed (reasons partial_hold,
  amount_unknown, overpaid, finished_underpaid, finished_nothing_paid, paid_after_final,
  ended_with_payment, price_changed); money reviews add invoice_value_usd, current_value_usd and
  current_rate_unavailable (what arrived at the invoice's rate and now).
- ``deposit_alert`` to the admin chat: the provider disagrees with a settled payment or reports a
  repeated deposit, or an overpayment within tolerance was credited (reasons
  changed_after_credit, amount_changed_after_credit, changed_under_review, overpaid_credited,
  child_payment with child_payment_id, child_status, child_actually_paid, child_price_amount).
Admin payloads add user_id, user_telegram_id, username, provider_payment_id, reply_status,
reply_actually_paid. Dedup keys start with ``deposit:<payment id>:``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.db.models import FINAL_PAYMENT_STATUSES, Payment, User
from core.deposits.views import payment_uri, trim

log = logging.getLogger(__name__)

STATUS_KIND = "deposit_status"
REVIEW_KIND = "deposit_review"
ALERT_KIND = "deposit_alert"


def facts(
    p: Payment,
    *,
    previous: str | None,
    reason: str | None,
    balance: Decimal | None = None,
    with_address: bool = False,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "payment_id": p.id,
        "internal_id": p.internal_payment_id,
        "status": p.status,
        "previous_status": previous,
        "provider_status": p.provider_status,
        "final": p.status in FINAL_PAYMENT_STATUSES,
        "amount_usd": p.amount_usd,
        "credited_usd": p.credited_usd,
        "pay_amount": trim(p.pay_amount),
        "actually_paid": trim(p.actually_paid),
        "currency": p.currency_code,
        "needs_review": p.needs_review,
        "reason": reason,
    }
    if balance is not None:
        found["balance_usd"] = balance
    if with_address:
        found.update(
            pay_address=p.pay_address,
            memo=p.payin_extra_id,
            payment_uri=payment_uri(
                p.currency_code, p.pay_address, trim(p.pay_amount), memo=p.payin_extra_id
            ),
            expires_at=p.expires_at,
        )
    return found


@dataclass(frozen=True, slots=True)
class Message:
    """One outbox row (core.outbox.enqueue's arguments): settle writes its messages together
    with the payment's changes in one statement."""

    chat_id: int
    kind: str
    payload: dict[str, Any]
    dedup_key: str


def status_message(p: Payment, user: User, payload: dict[str, Any], observed: str) -> Message:
    """One message per (observed provider status, our status): a re-check never repeats it."""
    return Message(
        user.telegram_id, STATUS_KIND, payload, f"deposit:{p.id}:status:{observed}:{p.status}"
    )


def admin_message(
    chat_id: int | None,
    kind: str,
    p: Payment,
    user: User,
    payload: dict[str, Any],
    *,
    reply_status: str,
    reply_paid: Decimal | None,
    **extra: Any,
) -> Message | None:
    """One message per (kind, reason, child, reply status, amount); None (logged) without an
    admin chat."""
    reason = payload.get("reason")
    if chat_id is None:  # the bot refuses to start without it; other callers may run without
        log.error(
            "deposit %s needs an admin (%s): admin_chat_id not set", p.internal_payment_id, reason
        )
        return None
    full = {
        **payload,
        "user_id": p.user_id,
        "user_telegram_id": user.telegram_id,
        "username": user.username,
        "provider_payment_id": p.provider_payment_id,
        "reply_status": reply_status,
        "reply_actually_paid": reply_paid,
        **extra,
    }
    tag = extra.get("child_payment_id", "")
    return Message(
        chat_id, kind, full, f"deposit:{p.id}:{kind}:{reason}:{tag}:{reply_status}:{reply_paid}"
    )


async def enqueue(session: AsyncSession, message: Message) -> None:
    """One message on its own (settle writes its messages together with the payment)."""
    await outbox.enqueue(
        session,
        chat_id=message.chat_id,
        kind=message.kind,
        payload=message.payload,
        dedup_key=message.dedup_key,
    )


__all__ = [
    "ALERT_KIND",
    "REVIEW_KIND",
    "STATUS_KIND",
    "Message",
    "admin_message",
    "enqueue",
    "facts",
    "status_message",
]
