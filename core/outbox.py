"""The transactional outbox: services enqueue in the same DB transaction as the state change;
the notifier (bot/notifier.py) claims due rows after commit and reports what happened.

Rows carry a `kind` and a JSON payload of facts, not rendered text: the bot owns wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

_ENQUEUE = text(
    """
    INSERT INTO notifications (chat_id, kind, payload, dedup_key)
    VALUES (:chat_id, :kind, :payload, :dedup_key)
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("payload", type_=JSONB))

# A claimed row is pushed into the future by the lease, so a crashed notifier's rows come back.
# A row for a user who has blocked the bot is not claimed but skipped (a send would only earn
# another 403); writing to the bot again clears the flag, and later rows go out as usual.
_CLAIM = text(
    """
    WITH due AS (
        SELECT n.id, EXISTS (SELECT 1 FROM users u
                              WHERE u.telegram_id = n.chat_id AND u.blocked_bot) AS blocked
          FROM notifications n
         WHERE n.state = 'pending' AND n.next_attempt_at <= now()
         ORDER BY n.next_attempt_at, n.id
         LIMIT :limit
           FOR UPDATE OF n SKIP LOCKED
    )
    UPDATE notifications n
       SET next_attempt_at = CASE WHEN due.blocked THEN n.next_attempt_at
                                  ELSE now() + make_interval(secs => :lease) END,
           attempts = CASE WHEN due.blocked THEN n.attempts ELSE n.attempts + 1 END,
           state = CASE WHEN due.blocked THEN 'skipped' ELSE n.state END,
           last_error = CASE WHEN due.blocked THEN 'the user has blocked the bot'
                             ELSE n.last_error END
      FROM due
     WHERE n.id = due.id
    RETURNING n.id, n.chat_id, n.kind, n.payload, n.dedup_key, n.attempts, n.created_at,
              due.blocked
    """
)


def jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Decimals as strings (exact), datetimes as ISO text: JSON never carries a float amount."""

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return {str(k): convert(v) for k, v in payload.items()}


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    payload: Mapping[str, Any],
    dedup_key: str,
) -> bool:
    """Queue a message in the caller's transaction. A repeated dedup_key is a no-op (False)."""
    row = (
        await session.execute(
            _ENQUEUE,
            {
                "chat_id": chat_id,
                "kind": kind,
                "payload": jsonable(payload),
                "dedup_key": dedup_key[:200],
            },
        )
    ).first()
    return row is not None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    dedup_key: str
    attempts: int
    created_at: datetime


async def claim_due(
    session: AsyncSession, *, limit: int = 50, lease_seconds: float = 60.0
) -> list[OutboxMessage]:
    """Claim due rows for sending (commit right after); several notifiers never share a row.
    Rows for users who have blocked the bot are skipped instead (see _CLAIM)."""
    rows = (await session.execute(_CLAIM, {"limit": limit, "lease": lease_seconds})).all()
    return [
        OutboxMessage(r.id, r.chat_id, r.kind, r.payload, r.dedup_key, r.attempts, r.created_at)
        for r in rows
        if not r.blocked
    ]


async def mark_sent(session: AsyncSession, message_id: int) -> None:
    await session.execute(
        text(
            "UPDATE notifications SET state = 'sent', sent_at = now(), last_error = NULL"
            " WHERE id = :id AND state = 'pending'"
        ),
        {"id": message_id},
    )


async def retry_later(
    session: AsyncSession,
    message_id: int,
    *,
    delay: timedelta,
    error: str,
    max_attempts: int,
) -> bool:
    """Schedule another attempt, or mark the row failed once attempts are used up.
    Returns True if it will be retried."""
    row = (
        await session.execute(
            text(
                """
                UPDATE notifications
                   SET state = CASE WHEN attempts >= :max THEN 'failed' ELSE 'pending' END,
                       next_attempt_at = now() + make_interval(secs => :delay),
                       last_error = :error
                 WHERE id = :id AND state = 'pending'
                RETURNING state
                """
            ),
            {
                "id": message_id,
                "delay": delay.total_seconds(),
                "error": error[:1000],
                "max": max_attempts,
            },
        )
    ).first()
    return row is not None and row.state == "pending"


async def defer(session: AsyncSession, message_id: int, *, delay: timedelta) -> None:
    """Put a claimed row back without counting an attempt (rate limited by us or Telegram)."""
    await session.execute(
        text(
            "UPDATE notifications SET next_attempt_at = now() + make_interval(secs => :delay),"
            " attempts = greatest(attempts - 1, 0) WHERE id = :id AND state = 'pending'"
        ),
        {"id": message_id, "delay": delay.total_seconds()},
    )


async def skip_chat(session: AsyncSession, chat_id: int, reason: str) -> int:
    """Stop sending to a chat (the user blocked the bot): its pending rows become 'skipped'."""
    result = await session.execute(
        text(
            "UPDATE notifications SET state = 'skipped', last_error = :reason"
            " WHERE chat_id = :chat_id AND state = 'pending'"
        ),
        {"chat_id": chat_id, "reason": reason[:1000]},
    )
    return int(getattr(result, "rowcount", 0) or 0)
