"""The ledger reconcile with its alert for the admin chat: run hourly by the background loop and
by ``python -m bot reconcile`` (no admin involved)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, outbox
from core.config import Settings
from core.ledger import Mismatch

log = logging.getLogger(__name__)

RECONCILE_ALERT_KIND = "reconcile_alert"
RECONCILE_ALERT_LINES = 20


def _alert_payload(found: Sequence[Mismatch]) -> dict[str, Any]:
    shown = list(found[:RECONCILE_ALERT_LINES])
    return {
        "count": len(found),
        "users": len({m.user_id for m in found}),
        "detail": ledger.describe(shown),
        "more": len(found) - len(shown),
    }


async def reconcile_and_alert(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> list[Mismatch]:
    """Run the ledger reconciliation; when it finds mismatches, queue a "reconcile_alert" for
    the admin chat in the same transaction (once a day for the same set of mismatches)."""
    async with sessions() as session, session.begin():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        found = await ledger.reconcile(session)
        if not found:
            return found
        log.error("reconcile: %s mismatches\n%s", len(found), ledger.describe(found))
        chat_id = settings.telegram.admin_chat_id
        if chat_id is None:
            log.error("reconcile: admin_chat_id not set, no alert sent")
            return found
        digest = hashlib.sha256(ledger.describe(found).encode()).hexdigest()[:32]
        day = datetime.now(UTC).date().isoformat()
        await outbox.enqueue(
            session,
            chat_id=chat_id,
            kind=RECONCILE_ALERT_KIND,
            payload=_alert_payload(found),
            dedup_key=f"reconcile:{day}:{digest}",
        )
    return found
