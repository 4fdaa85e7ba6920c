"""/payments and the review buttons: recent deposits by status, and an admin's decision on a
deposit held for review (core.deposits.review decides what it does)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import Admin
from core.config import Settings
from core.db.models import PaymentStatus
from core.deposits import review as deposit_review
from core.deposits.review import ReviewDecision, ReviewResult
from core.deposits.views import PaymentView, list_by_status
from core.errors import NotFound

# `/payments <filter>`: a status, or "review" for payments held for an admin.
REVIEW_FILTER = "review"
PAYMENT_FILTERS = (REVIEW_FILTER, *(s.value for s in PaymentStatus))


class DepositDesk:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def recent(
        self, status: str | None = None, *, admin: Admin, limit: int = 20
    ) -> list[PaymentView]:
        """Newest first; ``status`` one of PAYMENT_FILTERS. Raises NotFound("payment_status")."""
        wanted = (status or "").strip().lower()
        if wanted and wanted not in PAYMENT_FILTERS:
            raise NotFound("payment_status", status=wanted[:32])
        async with self._sessions() as session:
            if wanted == REVIEW_FILTER:
                return await list_by_status(session, needs_review=True, limit=limit)
            return await list_by_status(session, [wanted] if wanted else None, limit=limit)

    async def review(
        self, payment_id: int, decision: ReviewDecision, *, admin: Admin
    ) -> ReviewResult:
        """End a deposit's review: credit what arrived, or close it. See core.deposits.review."""
        return await deposit_review.decide(
            self._sessions,
            self._settings,
            payment_id,
            decision,
            admin_telegram_id=admin.telegram_id,
        )
