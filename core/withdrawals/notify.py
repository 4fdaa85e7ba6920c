"""Outbox rows for withdrawals, written in the transaction that changes the status.

Kinds (payloads are facts; the bot words them):
- ``withdrawal_status`` to the owner (chat_id = their Telegram id), on every transition.
- ``withdrawal_card`` to the admin chat, on the request and on every transition; the notifier
  posts the card once and edits it afterwards (admin_chat_message_id).
Dedup keys ``withdrawal:<id>:<status>:user|admin``: a status is reached at most once.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.config import Settings
from core.withdrawals.views import WithdrawalView

log = logging.getLogger(__name__)

STATUS_KIND = "withdrawal_status"
CARD_KIND = "withdrawal_card"


def _facts(view: WithdrawalView) -> dict[str, Any]:
    return {
        "withdrawal_id": view.id,
        "internal_id": view.internal_id,
        "status": view.status.value,
        "amount_usd": view.amount,
        "network_fee_usd": view.network_fee,
        "service_fee_usd": view.service_fee,
        "total_fee_usd": view.total_fee,
        "final_amount_usd": view.final_amount,
        "currency": view.currency_code,
        "address": view.wallet_address,
        "memo": view.memo,
        "tx_hash": view.transaction_hash,
        "reason": view.reject_reason,
        "decided_at": view.decided_at,
    }


def dedup_key(view: WithdrawalView, audience: str) -> str:
    return f"withdrawal:{view.id}:{view.status.value}:{audience}"


async def enqueue_card(session: AsyncSession, settings: Settings, view: WithdrawalView) -> None:
    chat_id = settings.telegram.admin_chat_id
    if chat_id is None:  # the bot refuses to start without it; other callers may run without
        log.warning(
            "admin_chat_id not set: no card for withdrawal %s",
            view.internal_id,
            extra={"withdrawal_id": view.id},
        )
        return
    payload = {
        **_facts(view),
        "user_id": view.user.id,
        "user_telegram_id": view.user.telegram_id,
        "username": view.user.username,
        "first_name": view.user.first_name,
        "decided_by": view.decided_by,
        "notes": view.admin_notes,
        "created_at": view.created_at,
    }
    await outbox.enqueue(
        session,
        chat_id=chat_id,
        kind=CARD_KIND,
        payload=payload,
        dedup_key=dedup_key(view, "admin"),
    )


async def enqueue_transition(
    session: AsyncSession, settings: Settings, view: WithdrawalView, *, actor: str
) -> None:
    """The owner's push and the card update. ``actor`` is "admin" or "user"; the admin's
    identity and notes stay off the owner's payload."""
    await outbox.enqueue(
        session,
        chat_id=view.user.telegram_id,
        kind=STATUS_KIND,
        payload={**_facts(view), "actor": actor},
        dedup_key=dedup_key(view, "user"),
    )
    await enqueue_card(session, settings, view)
