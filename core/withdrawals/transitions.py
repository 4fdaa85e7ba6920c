"""Status changes: one conditional UPDATE each, so of two racing admins exactly one wins; the
loser reads who did. The money side (refund, total_withdrawn) and the outbox rows are written in
the same transaction as the winning UPDATE."""

from __future__ import annotations

from typing import Any, NoReturn

from sqlalchemy import exists, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.config import Settings
from core.db.models import TxType, User, WithdrawalRequest, WithdrawalStatus
from core.errors import Forbidden, InvalidTransition, NotFound
from core.withdrawals import queries
from core.withdrawals.states import RELEASED_STATUSES, Move
from core.withdrawals.views import WithdrawalView, view_of

W = WithdrawalRequest
MAX_TEXT_LENGTH = 1000


def refund_key(withdrawal_id: int) -> str:
    return f"withdrawal:{withdrawal_id}:refund"


def owner_excluded(settings: Settings, move: Move) -> bool:
    """Four eyes: the admin who asked for a payout may not approve or send it."""
    return move.pays_out and not settings.payments.allow_self_approval


def _refuse_own(view: WithdrawalView, admin: int) -> None:
    if view.user.telegram_id == admin:
        raise Forbidden("own_withdrawal", withdrawal_id=view.id)


def check_not_own(settings: Settings, move: Move, view: WithdrawalView, admin: int) -> None:
    """Early word before asking an admin for a hash; ``apply`` enforces it in the UPDATE.
    Raises Forbidden (own_withdrawal)."""
    if owner_excluded(settings, move):
        _refuse_own(view, admin)


def clean_text(value: str | None, *, field: str, required: bool = False) -> str | None:
    """Raises InvalidTransition: reason_required (field), text_too_long (field, max_length)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise InvalidTransition("reason_required", field=field)
        return None
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidTransition("text_too_long", field=field, max_length=MAX_TEXT_LENGTH)
    return text


async def _refuse(
    session: AsyncSession,
    move: Move,
    withdrawal_id: int,
    owner_id: int | None,
    not_owner: int | None,
) -> NoReturn:
    # A new statement in READ COMMITTED: it sees the winner's commit we just waited for.
    current = await queries.get_view(session, withdrawal_id)
    if current is None:
        raise NotFound("withdrawal", withdrawal_id=withdrawal_id)
    if owner_id is not None and current.user.id != owner_id:
        raise Forbidden("not_owner", withdrawal_id=withdrawal_id)
    if not_owner is not None:
        _refuse_own(current, not_owner)
    raise InvalidTransition(
        "not_allowed",
        withdrawal_id=withdrawal_id,
        status=current.status.value,
        target=move.target.value,
        decided_by=current.decided_by,
        decided_at=current.decided_at,
    )


async def apply(
    session: AsyncSession,
    move: Move,
    withdrawal_id: int,
    *,
    admin: int | None = None,
    owner_id: int | None = None,
    notes: str | None = None,
    values: dict[str, Any] | None = None,
    from_status: WithdrawalStatus | None = None,
    not_owner: int | None = None,
) -> WithdrawalView:
    """Move one withdrawal if, at this instant, its status is one the move leaves from
    (narrowed to ``from_status`` when the caller acted on a card showing that status) and, with
    ``not_owner``, it does not belong to the user with that Telegram id."""
    sources = move.sources if from_status is None else move.sources & {from_status}
    changes: dict[str, Any] = {
        "status": move.target.value,
        move.at_column: func.now(),
        "updated_at": func.now(),
        **(values or {}),
    }
    if move.by_column is not None:
        changes[move.by_column] = admin
        changes["admin_telegram_id"] = admin
    if notes is not None:
        changes["admin_notes"] = notes
    stmt = update(W).where(W.id == withdrawal_id, W.status.in_([s.value for s in sources]))
    if owner_id is not None:
        stmt = stmt.where(W.user_id == owner_id)
    if not_owner is not None:
        stmt = stmt.where(~exists().where(User.id == W.user_id, User.telegram_id == not_owner))
    row = await session.scalar(
        stmt.values(**changes)
        .returning(W)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if row is None:
        await _refuse(session, move, withdrawal_id, owner_id, not_owner)
    user = await session.get(User, row.user_id)
    assert user is not None  # foreign key
    return view_of(row, user)


async def settle(session: AsyncSession, view: WithdrawalView) -> None:
    """The money side of a status reached just now. Only the winner of `apply` gets here, and
    the refund key makes a second refund impossible even so."""
    if view.status in RELEASED_STATUSES:
        await ledger.post(
            session,
            user_id=view.user.id,
            type=TxType.REFUND,
            amount=view.amount,
            idempotency_key=refund_key(view.id),
            withdrawal_id=view.id,
            metadata={"internal_id": view.internal_id, "step": view.status.value},
        )
    elif view.status is WithdrawalStatus.COMPLETED:
        # The debit was posted at request; completion only counts it.
        await ledger.add_withdrawn_total(session, view.user.id, view.amount)
