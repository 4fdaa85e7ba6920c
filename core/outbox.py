"""The transactional outbox: services enqueue in the same DB transaction as the state change;
the notifier (bot/notifier.py) claims due rows after commit and reports what happened.

Rows carry a `kind` and a JSON payload of facts, not rendered text: the bot owns wording.

A claim sets ``lease_until`` (and pushes ``next_attempt_at`` to it), so a crashed notifier's rows
come back when the lease ends; the process that takes the polling lock knows the previous one is
dead and calls ``release_claims`` at start, so they come back at once. Every outcome clears it.

Transient failures are retried until the row is older than the give-up age; a row that ends
``failed`` (a permanent refusal, or too old) raises an ``outbox_undelivered`` alert to the admin
chat in the same transaction. An alert that itself fails in the admin chat (the admin chat is the
failing target) is re-sent to each admin privately; a private alert that fails only logs, so
alerts never loop. ``backlog`` measures the queue for the notifier's backlog alert and /stats.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Boolean, DateTime, Interval, String

log = logging.getLogger(__name__)

_TIMESTAMPTZ = DateTime(timezone=True)

UNDELIVERED_KIND = "outbox_undelivered"
BACKLOG_KIND = "outbox_backlog"
# Alerts about the outbox itself: never alerted about again (see _alert_undelivered), and left
# out of the backlog that raises a backlog alert (an alert stuck in a dead admin chat must not
# start a new episode).
ALERT_KINDS = frozenset({UNDELIVERED_KIND, BACKLOG_KIND})
# Facts of the failed row copied into its alert, so admins can still act (withdrawal cards).
_ALERT_FACTS = ("withdrawal_id", "internal_id", "status", "payment_id", "amount_usd")

_ENQUEUE = text(
    """
    INSERT INTO notifications (chat_id, kind, payload, dedup_key)
    VALUES (:chat_id, :kind, :payload, :dedup_key)
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("payload", type_=JSONB))

# The same insert for a batch (arrays of chat ids, kinds, JSON payload texts and dedup keys, in
# that order), as the body of a data-modifying CTE that a caller chains into a statement of its
# own: settle writes a payment's messages in the statement that updates it.
ENQUEUE_ROWS = (
    "INSERT INTO notifications (chat_id, kind, payload, dedup_key)"
    " SELECT m.chat_id, m.kind, CAST(m.payload AS jsonb), m.dedup_key"
    " FROM unnest(:chats, :kinds, :payloads, :keys) WITH ORDINALITY"
    " AS m(chat_id, kind, payload, dedup_key, i) ORDER BY m.i"
    " ON CONFLICT (dedup_key) DO NOTHING"
)

# A claimed row is pushed into the future by the lease (lease_until), so a crashed notifier's
# rows come back (at once, through release_claims, when the next process takes the lock).
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
           lease_until = CASE WHEN due.blocked THEN NULL
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


@dataclass(frozen=True, slots=True)
class AlertRoute:
    """Where alerts about undelivered rows go: the admin chat, and the admins' private chats
    when the admin chat itself refuses them."""

    admin_chat_id: int | None
    admin_ids: Sequence[int] = ()


async def mark_sent(session: AsyncSession, message_id: int) -> None:
    await session.execute(
        text(
            "UPDATE notifications SET state = 'sent', sent_at = now(), last_error = NULL,"
            " lease_until = NULL WHERE id = :id AND state = 'pending'"
        ),
        {"id": message_id},
    )


async def retry_later(
    session: AsyncSession,
    message_id: int,
    *,
    delay: timedelta,
    error: str,
    give_up_after: timedelta,
    alerts: AlertRoute,
    now: datetime | None = None,
) -> bool:
    """Schedule another attempt after ``delay``, or, once the row is older than
    ``give_up_after``, mark it failed and alert (see module doc). True if it will be retried.
    ``now`` replaces the database clock (tests)."""
    row = (
        await session.execute(
            text(
                """
                UPDATE notifications
                   SET state = CASE WHEN created_at <= coalesce(:now, now()) - :give_up
                                    THEN 'failed' ELSE 'pending' END,
                       -- a failed row's next_attempt_at records when it ended
                       next_attempt_at = coalesce(:now, now())
                           + CASE WHEN created_at <= coalesce(:now, now()) - :give_up
                                  THEN interval '0' ELSE :delay END,
                       lease_until = NULL,
                       last_error = :error
                 WHERE id = :id AND state = 'pending'
                RETURNING state, id, chat_id, kind, payload, dedup_key, created_at
                """
            ).bindparams(
                bindparam("now", type_=_TIMESTAMPTZ),
                bindparam("delay", type_=Interval()),
                bindparam("give_up", type_=Interval()),
            ),
            {
                "id": message_id,
                "delay": delay,
                "give_up": give_up_after,
                "error": error[:1000],
                "now": now,
            },
        )
    ).first()
    if row is None:
        return False
    if row.state == "failed":
        await _alert_undelivered(session, row, error, alerts)
        return False
    return True


async def give_up(
    session: AsyncSession, message_id: int, *, error: str, alerts: AlertRoute
) -> bool:
    """A permanent refusal: mark the row failed now and alert. False if it was not pending."""
    row = (
        await session.execute(
            text(
                "UPDATE notifications SET state = 'failed', lease_until = NULL,"
                " next_attempt_at = now(), last_error = :error"
                " WHERE id = :id AND state = 'pending'"
                " RETURNING id, chat_id, kind, payload, dedup_key, created_at"
            ),
            {"id": message_id, "error": error[:1000]},
        )
    ).first()
    if row is None:
        return False
    await _alert_undelivered(session, row, error, alerts)
    return True


async def _alert_undelivered(
    session: AsyncSession, row: Any, error: str, alerts: AlertRoute
) -> None:
    """Queue the alert for a row that ended failed, in the same transaction. Bounded: an alert
    is alerted about once more (privately, when the admin chat refused it), never again."""
    if row.kind in ALERT_KINDS:
        if row.payload.get("fallback") or row.chat_id != alerts.admin_chat_id:
            log.critical(
                "outbox: alert row %s to chat %s failed too (%s); not re-sent: %s",
                row.id,
                row.chat_id,
                error,
                row.payload,
            )
            return
        # The admin chat itself is the failing target: tell each admin privately.
        log.critical("outbox: the admin chat refused alert row %s (%s)", row.id, error)
        for admin in alerts.admin_ids:
            await enqueue(
                session,
                chat_id=admin,
                kind=row.kind,
                payload={**row.payload, "fallback": True, "admin_chat_error": error[:300]},
                dedup_key=f"{row.dedup_key[:150]}:to:{admin}",
            )
        return
    log.error(
        "outbox: row %s (%s) to chat %s ended undelivered: %s",
        row.id,
        row.kind,
        row.chat_id,
        error,
    )
    if alerts.admin_chat_id is None:
        return
    payload: dict[str, Any] = {
        "row_id": row.id,
        "kind": row.kind,
        "chat_id": row.chat_id,
        "error": error[:300],
        "created_at": row.created_at,
        "to_admin_chat": row.chat_id == alerts.admin_chat_id,
    }
    payload.update({k: row.payload[k] for k in _ALERT_FACTS if k in row.payload})
    await enqueue(
        session,
        chat_id=alerts.admin_chat_id,
        kind=UNDELIVERED_KIND,
        payload=payload,
        dedup_key=f"undelivered:{row.id}",
    )


async def defer(session: AsyncSession, message_id: int, *, delay: timedelta) -> None:
    """Put a claimed row back without counting an attempt (rate limited by us or Telegram)."""
    await session.execute(
        text(
            "UPDATE notifications SET next_attempt_at = now() + make_interval(secs => :delay),"
            " attempts = greatest(attempts - 1, 0), lease_until = NULL"
            " WHERE id = :id AND state = 'pending'"
        ),
        {"id": message_id, "delay": delay.total_seconds()},
    )


async def skip_chat(session: AsyncSession, chat_id: int, reason: str) -> int:
    """Stop sending to a chat (the user blocked the bot): its pending rows become 'skipped'."""
    result = await session.execute(
        text(
            "UPDATE notifications SET state = 'skipped', last_error = :reason, lease_until = NULL"
            " WHERE chat_id = :chat_id AND state = 'pending'"
        ),
        {"chat_id": chat_id, "reason": reason[:1000]},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_claims(session: AsyncSession) -> int:
    """Make every claimed row due now. Only for a process that has just taken the polling lock:
    whoever claimed them before is dead. Retry and 429 deferrals (no lease) keep their time."""
    result = await session.execute(
        text(
            "UPDATE notifications SET lease_until = NULL,"
            " next_attempt_at = least(next_attempt_at, now())"
            " WHERE state = 'pending' AND lease_until IS NOT NULL"
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


_BACKLOG = text(
    """
    SELECT (SELECT count(*) FROM notifications
             WHERE state = 'pending' AND (:all_kinds OR kind <> ALL(:alerts))) AS depth,
           oldest.id AS oldest_id,
           coalesce(:now, now()) - oldest.created_at AS oldest_age,
           (SELECT count(*) FROM notifications
             WHERE state = 'failed' AND (:all_kinds OR kind <> ALL(:alerts))
               AND next_attempt_at > coalesce(:now, now()) - interval '1 day') AS failed_recently
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (SELECT id, created_at FROM notifications
                          WHERE state = 'pending' AND (:all_kinds OR kind <> ALL(:alerts))
                          ORDER BY created_at, id LIMIT 1) AS oldest ON true
    """
).bindparams(
    bindparam("now", type_=_TIMESTAMPTZ),
    bindparam("all_kinds", type_=Boolean()),
    bindparam("alerts", type_=ARRAY(String())),
)


@dataclass(frozen=True, slots=True)
class Backlog:
    depth: int  # pending rows
    oldest_id: int | None
    oldest_age: timedelta | None  # of the oldest pending row
    failed_recently: int  # rows that ended failed in the last day


async def backlog(
    session: AsyncSession, *, include_alerts: bool = True, now: datetime | None = None
) -> Backlog:
    """The queue now. Without ``include_alerts`` the outbox's own alerts are left out (what the
    backlog alert measures). ``now`` replaces the database clock (tests)."""
    row = (
        await session.execute(
            _BACKLOG,
            {"now": now, "all_kinds": include_alerts, "alerts": sorted(ALERT_KINDS)},
        )
    ).one()
    return Backlog(
        depth=int(row.depth),
        oldest_id=row.oldest_id,
        oldest_age=row.oldest_age,
        failed_recently=int(row.failed_recently),
    )


async def raise_backlog_alert(
    session: AsyncSession, alerts: AlertRoute, found: Backlog, *, threshold: timedelta
) -> bool:
    """Queue one backlog alert for the admin chat; the oldest row names the episode, so a
    restart during the same episode does not alert again. False if deduplicated or no chat."""
    if alerts.admin_chat_id is None or found.oldest_id is None or found.oldest_age is None:
        return False
    return await enqueue(
        session,
        chat_id=alerts.admin_chat_id,
        kind=BACKLOG_KIND,
        payload={
            "depth": found.depth,
            "oldest_minutes": int(found.oldest_age.total_seconds() // 60),
            "threshold_minutes": int(threshold.total_seconds() // 60),
        },
        dedup_key=f"backlog:{found.oldest_id}",
    )
