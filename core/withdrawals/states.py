"""The withdrawal state machine as data: which status a move leaves from, and which columns
record who made it and when.

pending → approved → processing → completed; pending | approved → rejected (admin);
pending → cancelled (the owner).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.db.models import WithdrawalStatus as S


@dataclass(frozen=True, slots=True)
class Move:
    target: S
    sources: frozenset[S]
    by_column: str | None  # the acting admin's Telegram id; None when the owner acts
    at_column: str
    # Sends money out: an admin may not make this move on their own request (unless the
    # payments.allow_self_approval setting says so).
    pays_out: bool = False


APPROVE = Move(S.APPROVED, frozenset({S.PENDING}), "approved_by", "approved_at", pays_out=True)
PROCESS = Move(
    S.PROCESSING, frozenset({S.APPROVED}), "processing_by", "processing_at", pays_out=True
)
COMPLETE = Move(
    S.COMPLETED, frozenset({S.PROCESSING}), "completed_by", "completed_at", pays_out=True
)
REJECT = Move(S.REJECTED, frozenset({S.PENDING, S.APPROVED}), "rejected_by", "rejected_at")
CANCEL = Move(S.CANCELLED, frozenset({S.PENDING}), None, "cancelled_at")

MOVES = (APPROVE, PROCESS, COMPLETE, REJECT, CANCEL)
# The move that produced a status, to say who decided and when.
REACHED_BY = {move.target: move for move in MOVES}

# Not final: count against max_pending_withdrawals.
OPEN_STATUSES = frozenset({S.PENDING, S.APPROVED, S.PROCESSING})
# Funds went back to the balance: not counted against the daily cap.
RELEASED_STATUSES = frozenset({S.REJECTED, S.CANCELLED})
# What /pending shows by default.
AWAITING_ADMIN = (S.PENDING, S.APPROVED)
