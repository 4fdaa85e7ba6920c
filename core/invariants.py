"""The money invariants, checked over the whole database: for tests and for operators.

``check(session)`` returns every violation it finds (empty: consistent), each naming the ids to
look at. It reads one REPEATABLE READ snapshot when the caller opens the transaction so
(``check_database`` does), and writes nothing. What it checks:

- the ledger (``core.ledger.reconcile``): cached balance and totals == the ledger's sums, each
  user's ``balance_after`` chain continuous, a balance row for every user with entries;
- no negative cached balance and no negative ``balance_after``;
- deposits: at most one credit (``deposit`` entry) per payment; a payment with
  ``credited_usd > 0`` has exactly one, of that amount, for its owner; no credit without one;
- withdrawals: exactly one hold of ``-amount_usd``; exactly one refund of ``amount_usd`` for a
  rejected or cancelled one, none for any other status;
- the outbox (a status change and its notification commit together):
  * every withdrawal status reached (the current one and every ``*_at`` stamp) has its
    ``withdrawal_status`` push to the owner (not ``pending``: the request is answered in the
    chat) and, with an admin chat, its ``withdrawal_card`` row;
  * every provider status a payment was seen to move to (a ``payment_events`` row without a
    note) has its ``deposit_status`` push, except ``waiting`` (the create flow shows the
    address itself); a payment in a final status has a push for that status, except
    ``create_failed`` (a refused create is answered at once); a payment an admin credited in
    review has that push; a payment waiting for review (``needs_review``) has an admin notice.

Run ``python -m core.invariants`` against the configured database: one line per violation,
exit status 1 if there is any.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger
from core.db.models import FINAL_PAYMENT_STATUSES, PaymentStatus
from core.exit_codes import ExitCode


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    detail: str
    user_id: int | None = None
    payment_id: int | None = None
    withdrawal_id: int | None = None
    transaction_id: int | None = None

    def __str__(self) -> str:
        ids = [
            f"{name} {value}"
            for name, value in (
                ("user", self.user_id),
                ("payment", self.payment_id),
                ("withdrawal", self.withdrawal_id),
                ("transaction", self.transaction_id),
            )
            if value is not None
        ]
        return f"{self.kind}: {self.detail} ({', '.join(ids)})"


_NEGATIVE_BALANCES = text(
    "SELECT user_id, balance_usd FROM user_balances WHERE balance_usd < 0 ORDER BY user_id"
)
_NEGATIVE_ENTRIES = text(
    "SELECT id, user_id, balance_after FROM transactions WHERE balance_after < 0 ORDER BY id"
)
_CREDITS = text(
    """
    SELECT p.id, p.user_id, p.credited_usd,
           count(t.id) AS credits,
           coalesce(sum(t.amount_usd), 0) AS total,
           coalesce(bool_and(t.user_id = p.user_id), true) AS same_user,
           min(t.id) AS first_id
      FROM payments p
      LEFT JOIN transactions t ON t.payment_id = p.id AND t.type = 'deposit'
     GROUP BY p.id
    HAVING count(t.id) > 1
        OR (coalesce(p.credited_usd, 0) > 0) <> (count(t.id) = 1)
        OR (count(t.id) = 1 AND (coalesce(sum(t.amount_usd), 0) <> p.credited_usd
                                 OR NOT bool_and(t.user_id = p.user_id)))
     ORDER BY p.id
    """
)
_ORPHAN_CREDITS = text(
    "SELECT id, user_id FROM transactions WHERE type = 'deposit' AND payment_id IS NULL"
    " ORDER BY id"
)
_WITHDRAWAL_MONEY = text(
    """
    SELECT w.id, w.user_id, w.status, w.amount_usd,
           count(t.id) FILTER (WHERE t.type = 'withdrawal') AS holds,
           coalesce(sum(t.amount_usd) FILTER (WHERE t.type = 'withdrawal'), 0) AS held,
           count(t.id) FILTER (WHERE t.type = 'refund') AS refunds,
           coalesce(sum(t.amount_usd) FILTER (WHERE t.type = 'refund'), 0) AS refunded,
           coalesce(bool_and(t.user_id = w.user_id), true) AS same_user
      FROM withdrawal_requests w
      LEFT JOIN transactions t ON t.withdrawal_id = w.id
     GROUP BY w.id
     ORDER BY w.id
    """
)
# Every status a withdrawal has reached: its current one and each stamped step.
_WITHDRAWAL_STEPS = text(
    """
    SELECT w.id, w.user_id, s.status
      FROM withdrawal_requests w
     CROSS JOIN LATERAL (VALUES ('pending', true),
                                ('approved', w.approved_at IS NOT NULL),
                                ('processing', w.processing_at IS NOT NULL),
                                ('completed', w.completed_at IS NOT NULL),
                                ('rejected', w.rejected_at IS NOT NULL),
                                ('cancelled', w.cancelled_at IS NOT NULL),
                                (w.status, true)) AS s(status, reached)
     WHERE s.reached
     GROUP BY w.id, w.user_id, s.status
     ORDER BY w.id, s.status
    """
)
_PUSHED = text(
    """
    SELECT DISTINCT (payload->>:id_key)::bigint AS id, payload->>:field AS value
      FROM notifications
     WHERE kind = :kind AND payload->>:id_key IS NOT NULL
    """
)
_PAYMENT_STEPS = text(
    """
    SELECT DISTINCT e.payment_id, p.user_id, e.status
      FROM payment_events e JOIN payments p ON p.id = e.payment_id
     WHERE e.note IS NULL AND e.status <> 'waiting'
     ORDER BY e.payment_id, e.status
    """
)
_PAYMENTS = text("SELECT id, user_id, status, needs_review FROM payments ORDER BY id")
_REVIEW_CREDITS = text(
    """
    SELECT DISTINCT e.payment_id, p.user_id
      FROM payment_events e JOIN payments p ON p.id = e.payment_id
     WHERE e.note = 'review:credit'
       AND NOT EXISTS (SELECT 1 FROM notifications n
                        WHERE n.dedup_key = 'deposit:' || e.payment_id || ':review:credit')
     ORDER BY e.payment_id
    """
)
_ADMIN_NOTICES = text(
    """
    SELECT DISTINCT (payload->>'payment_id')::bigint AS id
      FROM notifications
     WHERE kind LIKE 'deposit%' AND kind <> 'deposit_status'
       AND payload->>'payment_id' IS NOT NULL
    """
)


async def _ledger(session: AsyncSession) -> list[Violation]:
    found = [
        Violation(
            m.kind,
            f"expected {m.expected}, found {m.actual}",
            user_id=m.user_id,
            transaction_id=m.transaction_id,
        )
        for m in await ledger.reconcile(session)
    ]
    for r in (await session.execute(_NEGATIVE_BALANCES)).all():
        found.append(Violation("negative_balance", f"balance {r.balance_usd}", user_id=r.user_id))
    for r in (await session.execute(_NEGATIVE_ENTRIES)).all():
        found.append(
            Violation(
                "negative_balance_after",
                f"balance_after {r.balance_after}",
                user_id=r.user_id,
                transaction_id=r.id,
            )
        )
    return found


async def _credits(session: AsyncSession) -> list[Violation]:
    found: list[Violation] = []
    for r in (await session.execute(_CREDITS)).all():
        ids = {"user_id": r.user_id, "payment_id": r.id, "transaction_id": r.first_id}
        if r.credits > 1:
            found.append(Violation("duplicate_credit", f"{r.credits} credits", **ids))
        elif r.credits == 0:
            found.append(
                Violation("missing_credit", f"credited_usd {r.credited_usd}, no credit", **ids)
            )
        elif r.credited_usd is None or r.credited_usd <= 0:
            found.append(
                Violation("unrecorded_credit", f"credit of {r.total}, credited_usd null", **ids)
            )
        elif not r.same_user:
            found.append(Violation("credit_wrong_user", "credited to another user", **ids))
        else:
            found.append(
                Violation(
                    "credit_mismatch", f"credited_usd {r.credited_usd}, credit {r.total}", **ids
                )
            )
    for r in (await session.execute(_ORPHAN_CREDITS)).all():
        found.append(
            Violation(
                "credit_without_payment",
                "deposit entry names no payment",
                user_id=r.user_id,
                transaction_id=r.id,
            )
        )
    return found


async def _withdrawals(session: AsyncSession) -> list[Violation]:
    found: list[Violation] = []
    for r in (await session.execute(_WITHDRAWAL_MONEY)).all():
        ids = {"user_id": r.user_id, "withdrawal_id": r.id}
        if r.holds != 1 or r.held != -r.amount_usd:
            found.append(
                Violation(
                    "hold_mismatch", f"{r.holds} holds of {r.held} for {r.amount_usd}", **ids
                )
            )
        released = r.status in ("rejected", "cancelled")
        if released and r.refunds == 0:
            found.append(Violation("missing_refund", f"{r.status}, no refund", **ids))
        elif r.refunds > 1:
            found.append(Violation("duplicate_refund", f"{r.refunds} refunds", **ids))
        elif not released and r.refunds:
            found.append(Violation("unexpected_refund", f"{r.status}, refunded", **ids))
        elif r.refunds == 1 and r.refunded != r.amount_usd:
            found.append(
                Violation("refund_mismatch", f"refund {r.refunded} for {r.amount_usd}", **ids)
            )
        if not r.same_user:
            found.append(Violation("withdrawal_wrong_user", "entry of another user", **ids))
    return found


async def _pushed(
    session: AsyncSession, kind: str, id_key: str, field: str
) -> set[tuple[int, str]]:
    rows = await session.execute(_PUSHED, {"kind": kind, "id_key": id_key, "field": field})
    return {(r.id, r.value) for r in rows.all()}


async def _outbox(session: AsyncSession, *, admin_chat: bool) -> list[Violation]:
    # States first, rows after: outside one snapshot, a change committed in between then only
    # adds rows this check does not need, never a state whose row it has not read.
    withdrawal_steps = (await session.execute(_WITHDRAWAL_STEPS)).all()
    payment_steps = (await session.execute(_PAYMENT_STEPS)).all()
    payments = (await session.execute(_PAYMENTS)).all()
    review_credits = (await session.execute(_REVIEW_CREDITS)).all()
    user_pushes = await _pushed(session, "withdrawal_status", "withdrawal_id", "status")
    cards = await _pushed(session, "withdrawal_card", "withdrawal_id", "status")
    seen = await _pushed(session, "deposit_status", "payment_id", "provider_status")
    ours = await _pushed(session, "deposit_status", "payment_id", "status")
    notified = {r.id for r in (await session.execute(_ADMIN_NOTICES)).all()}

    found: list[Violation] = []
    for r in withdrawal_steps:
        ids = {"user_id": r.user_id, "withdrawal_id": r.id}
        if r.status != "pending" and (r.id, r.status) not in user_pushes:
            found.append(Violation("missing_push", f"no withdrawal_status {r.status}", **ids))
        if admin_chat and (r.id, r.status) not in cards:
            found.append(Violation("missing_card", f"no withdrawal_card {r.status}", **ids))
    for r in payment_steps:
        if (r.payment_id, r.status) not in seen:
            found.append(
                Violation(
                    "missing_push",
                    f"no deposit_status for provider status {r.status}",
                    user_id=r.user_id,
                    payment_id=r.payment_id,
                )
            )
    for r in payments:
        ids = {"user_id": r.user_id, "payment_id": r.id}
        final = r.status in FINAL_PAYMENT_STATUSES and r.status != PaymentStatus.CREATE_FAILED
        if final and (r.id, r.status) not in ours:
            found.append(Violation("missing_push", f"no deposit_status {r.status}", **ids))
        if admin_chat and r.needs_review and r.id not in notified:
            found.append(Violation("missing_admin_notice", "under review, admins not told", **ids))
    for r in review_credits:
        found.append(
            Violation(
                "missing_push",
                "no push for the review's credit",
                user_id=r.user_id,
                payment_id=r.payment_id,
            )
        )
    return found


async def check(session: AsyncSession, *, admin_chat: bool = True) -> list[Violation]:
    """Every violation in the database as the session sees it. ``admin_chat``: an admin chat
    is configured, so cards and review notices must have been queued too."""
    return [
        *await _ledger(session),
        *await _credits(session),
        *await _withdrawals(session),
        *await _outbox(session, admin_chat=admin_chat),
    ]


async def check_database(
    sessions: async_sessionmaker[AsyncSession], *, admin_chat: bool = True
) -> list[Violation]:
    """``check`` in one read-only REPEATABLE READ snapshot (safe while the bot runs)."""
    async with sessions() as session, session.begin():
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        return await check(session, admin_chat=admin_chat)


def describe(violations: Sequence[Violation]) -> str:
    return "\n".join(str(v) for v in violations) or "all invariants hold"


async def _main() -> ExitCode:
    from core.config import load_settings
    from core.db.session import create_engine, create_session_factory, database_url

    settings = load_settings()
    engine = create_engine(database_url(settings.database), pool_size=1)
    try:
        found = await check_database(
            create_session_factory(engine),
            admin_chat=settings.telegram.admin_chat_id is not None,
        )
    finally:
        await engine.dispose()
    sys.stdout.write(describe(found) + "\n")
    return ExitCode.FAILED if found else ExitCode.OK


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
