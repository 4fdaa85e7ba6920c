"""The user's push about a bonus or a manual adjustment: queued in the transaction that posts it.

The payload carries facts (amount, the balance right after, the admin's reason); the bot words it
in the user's language when it is sent.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox
from core.ledger import LedgerEntry

KIND = "balance_adjusted"


async def enqueue_push(session: AsyncSession, telegram_id: int, entry: LedgerEntry) -> bool:
    """Queue the push for a posted adjustment or bonus (once per ledger entry)."""
    return await outbox.enqueue(
        session,
        chat_id=telegram_id,
        kind=KIND,
        payload={
            "transaction_id": entry.id,
            "type": entry.type.value,
            "amount_usd": entry.amount,
            "balance_usd": entry.balance_after,
            "reason": entry.description or "",
        },
        dedup_key=f"adjusted:{entry.id}",
    )


__all__ = ["KIND", "enqueue_push"]
