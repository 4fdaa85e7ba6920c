"""What an admin may do with a withdrawal from its card: the actions each status offers, the
early check before the bot asks for a reason or a hash, and completion straight from approved.

The database still decides: every move is a guarded UPDATE (core.withdrawals.transitions), so a
stale offer is refused there. ``admin`` arguments are core.auth.AdminGate's proof.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.addresses import validate_tx_hash
from core.auth import Admin
from core.config import Settings
from core.db.models import WithdrawalStatus
from core.errors import InvalidTransition, NotFound
from core.withdrawals import queries
from core.withdrawals.service import WithdrawalService
from core.withdrawals.states import REACHED_BY
from core.withdrawals.transitions import check_not_own
from core.withdrawals.views import WithdrawalView

S = WithdrawalStatus

# What /pending lists: everything an admin still has to act on.
OPEN_FOR_ADMIN = (S.PENDING, S.APPROVED, S.PROCESSING)


class WithdrawalAction(StrEnum):
    APPROVE = "approve"
    PROCESS = "process"
    COMPLETE = "complete"  # from approved too: moved to processing first, by the same admin
    REJECT = "reject"


_OFFERED: dict[WithdrawalStatus, tuple[WithdrawalAction, ...]] = {
    S.PENDING: (WithdrawalAction.APPROVE, WithdrawalAction.REJECT),
    S.APPROVED: (WithdrawalAction.PROCESS, WithdrawalAction.COMPLETE, WithdrawalAction.REJECT),
    S.PROCESSING: (WithdrawalAction.COMPLETE,),
}

# The status each action leads to (InvalidTransition's ``target``, as transitions sets it).
TARGET = {
    WithdrawalAction.APPROVE: S.APPROVED,
    WithdrawalAction.PROCESS: S.PROCESSING,
    WithdrawalAction.COMPLETE: S.COMPLETED,
    WithdrawalAction.REJECT: S.REJECTED,
}


def offered_actions(status: WithdrawalStatus) -> tuple[WithdrawalAction, ...]:
    """The buttons a card shows in this status."""
    return _OFFERED.get(status, ())


def _not_allowed(view: WithdrawalView, action: WithdrawalAction) -> InvalidTransition:
    return InvalidTransition(
        "not_allowed",
        withdrawal_id=view.id,
        status=view.status.value,
        target=TARGET[action].value,
        decided_by=view.decided_by,
        decided_at=view.decided_at,
    )


class WithdrawalActions:
    """The admin card's side of withdrawals, over WithdrawalService's guarded moves."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        withdrawals: WithdrawalService,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._withdrawals = withdrawals

    async def pending(self, *, admin: Admin, limit: int = 50) -> list[WithdrawalView]:
        """Pending, approved and processing ones, oldest first."""
        return await self._withdrawals.list_pending(statuses=OPEN_FOR_ADMIN, limit=limit)

    async def check(
        self, withdrawal_id: int, action: WithdrawalAction, *, admin: Admin
    ) -> WithdrawalView:
        """The withdrawal, if ``action`` may be taken now (before asking the admin for a reason
        or a hash). Raises Forbidden (own_withdrawal), NotFound, InvalidTransition."""
        view = await self._withdrawals.get(withdrawal_id)
        if action not in offered_actions(view.status):
            raise _not_allowed(view, action)
        check_not_own(self._settings, REACHED_BY[TARGET[action]], view, admin.telegram_id)
        return view

    async def approve(self, withdrawal_id: int, *, admin: Admin) -> WithdrawalView:
        return await self._withdrawals.approve(withdrawal_id, admin=admin)

    async def start_processing(self, withdrawal_id: int, *, admin: Admin) -> WithdrawalView:
        return await self._withdrawals.start_processing(withdrawal_id, admin=admin)

    async def reject(
        self,
        withdrawal_id: int,
        *,
        admin: Admin,
        reason: str,
        from_status: WithdrawalStatus | None,
    ) -> WithdrawalView:
        """Refunds the hold once. ``from_status``: what the admin was shown."""
        return await self._withdrawals.reject(
            withdrawal_id, admin=admin, reason=reason, from_status=from_status
        )

    async def complete(self, withdrawal_id: int, *, admin: Admin, tx_hash: str) -> WithdrawalView:
        """Processing → completed. An approved one is moved to processing first (the admin
        has sent the funds), but only once the hash fits the network, so a mistyped hash
        changes nothing. Raises InvalidAddress (bad_tx_hash), InvalidTransition, NotFound."""
        async with self._sessions() as session:
            network = await queries.network_of(session, withdrawal_id)
        if network is None:
            raise NotFound("withdrawal", withdrawal_id=withdrawal_id)
        validate_tx_hash(tx_hash, network=network)
        view = await self._withdrawals.get(withdrawal_id)
        if view.status is S.APPROVED:
            try:
                await self._withdrawals.start_processing(withdrawal_id, admin=admin)
            except InvalidTransition as exc:  # another admin marked it processing meanwhile
                if exc.params.get("status") != S.PROCESSING.value:
                    raise
        elif view.status is not S.PROCESSING:
            raise _not_allowed(view, WithdrawalAction.COMPLETE)
        return await self._withdrawals.complete(withdrawal_id, admin=admin, tx_hash=tx_hash)
