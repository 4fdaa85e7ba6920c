"""The deposit service the bot calls: built once (composition root) with its dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.currencies import list_active
from core.db.models import Currency
from core.deposits import flows, review
from core.deposits.review import ReviewDecision, ReviewResult
from core.deposits.settlement import Outcome, SettlePolicy
from core.deposits.views import PaymentView, find_view, recent_for_user
from core.nowpayments import NowPaymentsClient


@dataclass(frozen=True, slots=True)
class DepositLimits:
    """What one deposit may be, in USD, and the amounts the amount step offers as buttons."""

    min_usd: Decimal
    max_usd: Decimal
    presets_usd: tuple[Decimal, ...]


class DepositService:
    """Create, check, list and review deposits. The policy is derived from the settings once,
    here: the payment poller is handed this one (bot.app), so both settle by the same rules."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: NowPaymentsClient,
        settings: Settings,
        *,
        policy: SettlePolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._settings = settings
        self.policy = policy or SettlePolicy.from_settings(settings)

    # --- the user ---------------------------------------------------------------------------

    @property
    def limits(self) -> DepositLimits:
        # Read from the settings each time: the service must not keep a stale copy of them.
        payments = self._settings.payments
        return DepositLimits(
            payments.min_deposit_usd, payments.max_deposit_usd, tuple(payments.deposit_presets_usd)
        )

    async def currencies(self) -> list[Currency]:
        """The coins a deposit may be made in, in display order."""
        async with self._sessions() as session:
            return await list_active(session)

    async def create(
        self,
        *,
        user_id: int,
        amount_usd: Decimal | str,
        currency_code: str,
        fixed_rate: bool = False,
    ) -> PaymentView:
        """See flows.create_deposit for what it raises."""
        return await flows.create_deposit(
            self._sessions,
            self._client,
            self._settings,
            user_id=user_id,
            amount_usd=amount_usd,
            currency_code=currency_code,
            fixed_rate=fixed_rate,
            policy=self.policy,
        )

    async def check_status(self, *, user_telegram_id: int, payment_id: int | str) -> PaymentView:
        """The user's "check status" button. See flows.check_status."""
        return await flows.check_status(
            self._sessions,
            self._client,
            self.policy,
            user_telegram_id=user_telegram_id,
            payment_id=payment_id,
        )

    def late_checkable(self, view: PaymentView, now: datetime | None = None) -> bool:
        """Whether a final deposit may still receive money (a check asks the provider)."""
        return flows.late_checkable(view, self.policy, now)

    async def list_for_user(self, user_id: int, *, limit: int = 10) -> list[PaymentView]:
        """A user's deposits, newest first."""
        async with self._sessions() as session:
            return await recent_for_user(session, user_id, limit)

    async def find(self, ref: int | str) -> PaymentView | None:
        """By row id, internal id (PAY_...) or provider payment id."""
        async with self._sessions() as session:
            return await find_view(session, ref)

    async def reconcile_creating(self, payment_id: int) -> Outcome:
        """Resolve a deposit whose create reply was lost. See flows.reconcile_creating."""
        return await flows.reconcile_creating(
            self._sessions, self._client, self.policy, payment_id
        )

    # --- admins -----------------------------------------------------------------------------

    async def recheck(self, *, admin_id: int, payment_ref: int | str) -> PaymentView:
        """Ask the provider about any payment now and settle. See flows.recheck."""
        return await flows.recheck(
            self._sessions, self._client, self.policy, admin_id=admin_id, payment_ref=payment_ref
        )

    async def review(
        self, payment_id: int, decision: ReviewDecision, *, admin_telegram_id: int
    ) -> ReviewResult:
        """End a deposit's review: credit what arrived, or close it. See review.decide."""
        return await review.decide(
            self._sessions,
            self._settings,
            payment_id,
            decision,
            admin_telegram_id=admin_telegram_id,
        )


__all__ = ["DepositLimits", "DepositService"]
