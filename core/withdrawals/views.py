"""Read models handed to the bot: plain frozen facts, no ORM objects, no wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.db.models import User, WithdrawalRequest, WithdrawalStatus
from core.ledger import Balance, LedgerEntry
from core.withdrawals.states import REACHED_BY


@dataclass(frozen=True, slots=True)
class UserRef:
    id: int
    telegram_id: int
    username: str | None
    first_name: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    status: WithdrawalStatus
    by: int | None  # Telegram id: the admin, or the owner for a cancel
    at: datetime


@dataclass(frozen=True, slots=True)
class WithdrawalView:
    id: int
    internal_id: str
    user: UserRef
    status: WithdrawalStatus
    currency_code: str
    amount: Decimal
    network_fee: Decimal
    service_fee: Decimal
    total_fee: Decimal
    final_amount: Decimal
    wallet_address: str
    memo: str | None
    transaction_hash: str | None
    reject_reason: str | None
    admin_notes: str | None
    admin_telegram_id: int | None
    admin_chat_message_id: int | None
    created_at: datetime
    updated_at: datetime
    approved_by: int | None
    approved_at: datetime | None
    processing_by: int | None
    processing_at: datetime | None
    completed_by: int | None
    completed_at: datetime | None
    rejected_by: int | None
    rejected_at: datetime | None
    cancelled_at: datetime | None

    def _decision(self, status: WithdrawalStatus) -> Decision | None:
        move = REACHED_BY.get(status)
        at = getattr(self, move.at_column) if move else None
        if move is None or at is None:
            return None
        by = getattr(self, move.by_column) if move.by_column else self.user.telegram_id
        return Decision(status, by, at)

    def decisions(self) -> list[Decision]:
        """Every move made so far, oldest first."""
        found = [d for d in map(self._decision, REACHED_BY) if d is not None]
        return sorted(found, key=lambda d: d.at)

    @property
    def last_decision(self) -> Decision | None:
        """Who moved it to its current status, and when (None while pending)."""
        return self._decision(self.status)

    @property
    def decided_by(self) -> int | None:
        decision = self.last_decision
        return decision.by if decision else None

    @property
    def decided_at(self) -> datetime | None:
        decision = self.last_decision
        return decision.at if decision else None


@dataclass(frozen=True, slots=True)
class WithdrawalCard:
    """Everything the admin chat card shows."""

    withdrawal: WithdrawalView
    currency_name: str  # 'USDT (TRC20)'
    network: str
    balance: Balance
    recent: list[LedgerEntry]


def view_of(row: WithdrawalRequest, user: User) -> WithdrawalView:
    return WithdrawalView(
        id=row.id,
        internal_id=row.internal_withdrawal_id,
        user=UserRef(user.id, user.telegram_id, user.username, user.first_name),
        status=WithdrawalStatus(row.status),
        currency_code=row.currency_code,
        amount=row.amount_usd,
        network_fee=row.network_fee_usd,
        service_fee=row.service_fee_usd,
        total_fee=row.total_fee_usd,
        final_amount=row.final_amount_usd,
        wallet_address=row.wallet_address,
        memo=row.memo,
        transaction_hash=row.transaction_hash,
        reject_reason=row.reject_reason,
        admin_notes=row.admin_notes,
        admin_telegram_id=row.admin_telegram_id,
        admin_chat_message_id=row.admin_chat_message_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        processing_by=row.processing_by,
        processing_at=row.processing_at,
        completed_by=row.completed_by,
        completed_at=row.completed_at,
        rejected_by=row.rejected_by,
        rejected_at=row.rejected_at,
        cancelled_at=row.cancelled_at,
    )
