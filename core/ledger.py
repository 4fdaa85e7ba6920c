"""The ledger: the only writer of `transactions`, always inside the caller's DB transaction.

A posting locks the user's balance row, so postings of one user are serialised; the insert is
checked by the database (sign by type, non-negative balance_after, the balance-chain trigger that
also moves the cached balance). An idempotency key makes a repeated posting a no-op that returns
the first one; the same key with different terms is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import raw
from core.db.models import CREDIT_TYPES, DEBIT_TYPES, TxType
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidAmount
from core.money import require_usd
from core.outbox import jsonable

MAX_KEY_LENGTH = 128

# One round trip: lock the balance row, look for the key, check funds and insert. If another
# posting of the same key committed while we waited for the lock, `existing` (statement
# snapshot) misses it but ON CONFLICT does not: the insert yields nothing and we read it back.
POST_SQL = """
    WITH bal AS (
        SELECT balance_usd FROM user_balances WHERE user_id = $1 FOR UPDATE
    ), existing AS (
        SELECT id FROM transactions WHERE idempotency_key = $2
    ), ins AS (
        INSERT INTO transactions (user_id, type, amount_usd, balance_after, payment_id,
                                  withdrawal_id, idempotency_key, description, metadata)
        SELECT $1, $3, $4, bal.balance_usd + $4, $5, $6, $2, $7, $8
          FROM bal
         WHERE NOT EXISTS (SELECT 1 FROM existing) AND bal.balance_usd + $4 >= 0
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, created_at, balance_after
    )
    SELECT bal.balance_usd, (SELECT id FROM existing) AS existing_id,
           ins.id, ins.created_at, ins.balance_after
      FROM bal LEFT JOIN ins ON true
"""
_CREATE_BALANCE = text(
    "INSERT INTO user_balances (user_id) VALUES (:user_id) ON CONFLICT (user_id) DO NOTHING"
)
_BY_KEY = text(
    """
    SELECT id, user_id, type, amount_usd, balance_after, payment_id, withdrawal_id,
           idempotency_key, description, metadata, created_at
      FROM transactions WHERE idempotency_key = :key
    """
)
_HISTORY = text(
    """
    SELECT id, user_id, type, amount_usd, balance_after, payment_id, withdrawal_id,
           idempotency_key, description, metadata, created_at
      FROM transactions WHERE user_id = :user_id
     ORDER BY id DESC OFFSET :offset LIMIT :limit
    """
)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    user_id: int
    type: TxType
    amount: Decimal
    balance_after: Decimal
    idempotency_key: str
    created_at: datetime
    payment_id: int | None = None
    withdrawal_id: int | None = None
    description: str | None = None
    metadata: Mapping[str, Any] | None = None
    # False when the key had been posted before and this is the original entry.
    created: bool = True


@dataclass(frozen=True, slots=True)
class Balance:
    user_id: int
    balance: Decimal
    total_deposited: Decimal
    total_withdrawn: Decimal
    last_transaction_at: datetime | None

    @classmethod
    def from_row(cls, user_id: int, row: Mapping[str, Any] | None) -> Balance:
        """From a user_balances row; a user with no ledger entry yet (no row, or a LEFT JOIN's
        NULLs) has zeros."""
        if row is None or row["balance_usd"] is None:
            zero = Decimal("0.00")
            return cls(user_id, zero, zero, zero, None)
        return cls(
            user_id,
            row["balance_usd"],
            row["total_deposited"],
            row["total_withdrawn"],
            row["last_transaction_at"],
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[LedgerEntry]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.entries) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


@dataclass(frozen=True, slots=True)
class Mismatch:
    user_id: int
    kind: str  # cached_balance | chain | total_deposited | total_withdrawn | missing_balance_row
    expected: Decimal | None
    actual: Decimal | None
    transaction_id: int | None = None


def _check_amount(tx_type: TxType, amount: Decimal) -> Decimal:
    amount = require_usd(amount)
    if amount == 0:
        raise InvalidAmount("zero")
    if (tx_type in CREDIT_TYPES and amount < 0) or (tx_type in DEBIT_TYPES and amount > 0):
        raise InvalidAmount("wrong_sign", type=tx_type.value, amount=amount)
    return amount


def _entry(row: Any, *, created: bool) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        user_id=row.user_id,
        type=TxType(row.type),
        amount=row.amount_usd,
        balance_after=row.balance_after,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        payment_id=row.payment_id,
        withdrawal_id=row.withdrawal_id,
        description=row.description,
        metadata=row.metadata,
        created=created,
    )


async def _existing(
    session: AsyncSession, key: str, user_id: int, tx_type: TxType, amount: Decimal
) -> LedgerEntry | None:
    """The entry already posted under ``key`` (None if there is none), if its terms match."""
    row = (await session.execute(_BY_KEY, {"key": key})).one_or_none()
    if row is None:
        return None
    if row.user_id != user_id or row.type != tx_type.value or row.amount_usd != amount:
        raise IdempotencyConflict(
            "key_reused",
            key=key,
            existing=f"{row.type} {row.amount_usd} user {row.user_id}",
            attempted=f"{tx_type.value} {amount} user {user_id}",
        )
    return _entry(row, created=False)


async def post(
    session: AsyncSession,
    *,
    user_id: int,
    type: TxType,
    amount: Decimal,
    idempotency_key: str,
    payment_id: int | None = None,
    withdrawal_id: int | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Post a signed USD amount for a user. Does not commit: the caller owns the transaction.

    Raises InsufficientFunds if the balance would go below zero, IdempotencyConflict if the key
    was used for a different posting, InvalidAmount for a malformed amount or wrong sign.
    """
    tx_type = TxType(type)
    amount = _check_amount(tx_type, amount)
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValueError("idempotency_key must be 1-128 characters")
    args = (
        user_id,
        idempotency_key,
        tx_type.value,
        amount,
        payment_id,
        withdrawal_id,
        description,
        json.dumps(jsonable(metadata)) if metadata else "{}",
    )
    row = await raw.fetchrow(session, POST_SQL, *args)
    if row is None:  # first posting for this user: create the balance row, then post
        await session.execute(_CREATE_BALANCE, {"user_id": user_id})
        row = await raw.fetchrow(session, POST_SQL, *args)
        assert row is not None
    if row["id"] is not None:
        return LedgerEntry(
            id=row["id"],
            user_id=user_id,
            type=tx_type,
            amount=amount,
            balance_after=row["balance_after"],
            idempotency_key=idempotency_key,
            created_at=row["created_at"],
            payment_id=payment_id,
            withdrawal_id=withdrawal_id,
            description=description,
            metadata=dict(metadata or {}),
        )
    # The key exists (posted before: same terms return it, others conflict), or the funds fall
    # short. Look again either way: a same-key posting that committed while this one waited for
    # the balance lock is newer than the statement's snapshot, so `existing` missed it and the
    # balance it left may be what fell short.
    found = await _existing(session, idempotency_key, user_id, tx_type, amount)
    if found is None:
        raise InsufficientFunds(balance=row["balance_usd"], amount=-amount)
    return found


async def add_withdrawn_total(session: AsyncSession, user_id: int, amount: Decimal) -> None:
    """Count a completed withdrawal in total_withdrawn (the debit was posted at request)."""
    amount = require_usd(amount)
    if amount <= 0:
        raise InvalidAmount("zero")
    await session.execute(
        text(
            "UPDATE user_balances SET total_withdrawn = total_withdrawn + :amount"
            " WHERE user_id = :user_id"
        ),
        {"amount": amount, "user_id": user_id},
    )


async def get_balance(session: AsyncSession, user_id: int) -> Balance:
    row = await raw.fetchrow(
        session,
        "SELECT balance_usd, total_deposited, total_withdrawn, last_transaction_at"
        " FROM user_balances WHERE user_id = $1",
        user_id,
    )
    return Balance.from_row(user_id, row)


async def history(
    session: AsyncSession, user_id: int, *, offset: int = 0, limit: int = 10
) -> HistoryPage:
    """Newest first."""
    offset = max(offset, 0)
    limit = min(max(limit, 1), 100)
    total = (
        await session.execute(
            text("SELECT count(*) FROM transactions WHERE user_id = :user_id"),
            {"user_id": user_id},
        )
    ).scalar_one()
    rows = (
        await session.execute(
            _HISTORY,
            {"user_id": user_id, "offset": offset, "limit": limit},
        )
    ).all()
    return HistoryPage([_entry(r, created=False) for r in rows], total, offset, limit)


_RECONCILE_BALANCES = text(
    """
    WITH sums AS (
        SELECT user_id,
               sum(amount_usd) AS balance,
               coalesce(sum(amount_usd) FILTER (WHERE type = 'deposit'), 0) AS deposited
          FROM transactions GROUP BY user_id
    ), withdrawn AS (
        SELECT user_id, sum(amount_usd) AS withdrawn
          FROM withdrawal_requests WHERE status = 'completed' GROUP BY user_id
    )
    SELECT coalesce(b.user_id, s.user_id) AS user_id,
           b.user_id IS NULL AS missing,
           coalesce(s.balance, 0) AS expected_balance, b.balance_usd,
           coalesce(s.deposited, 0) AS expected_deposited, b.total_deposited,
           coalesce(w.withdrawn, 0) AS expected_withdrawn, b.total_withdrawn
      FROM user_balances b
      FULL JOIN sums s ON s.user_id = b.user_id
      LEFT JOIN withdrawn w ON w.user_id = coalesce(b.user_id, s.user_id)
     WHERE b.user_id IS NULL
        OR b.balance_usd <> coalesce(s.balance, 0)
        OR b.total_deposited <> coalesce(s.deposited, 0)
        OR b.total_withdrawn <> coalesce(w.withdrawn, 0)
     ORDER BY 1
    """
)
_RECONCILE_CHAIN = text(
    """
    SELECT user_id, id, expected, balance_after FROM (
        SELECT user_id, id, balance_after,
               coalesce(lag(balance_after) OVER w, 0) + amount_usd AS expected
          FROM transactions
        WINDOW w AS (PARTITION BY user_id ORDER BY id)
    ) chain
    WHERE balance_after <> expected
    ORDER BY user_id, id
    """
)


async def reconcile(session: AsyncSession) -> list[Mismatch]:
    """Every place where the cached balances or totals disagree with the ledger, or where a
    user's balance_after chain does not follow from the amounts. Empty means consistent."""
    found: list[Mismatch] = []
    for r in (await session.execute(_RECONCILE_BALANCES)).all():
        if r.missing:
            found.append(Mismatch(r.user_id, "missing_balance_row", r.expected_balance, None))
            continue
        checks: Sequence[tuple[str, Decimal, Decimal]] = (
            ("cached_balance", r.expected_balance, r.balance_usd),
            ("total_deposited", r.expected_deposited, r.total_deposited),
            ("total_withdrawn", r.expected_withdrawn, r.total_withdrawn),
        )
        found.extend(
            Mismatch(r.user_id, kind, expected, actual)
            for kind, expected, actual in checks
            if expected != actual
        )
    for r in (await session.execute(_RECONCILE_CHAIN)).all():
        found.append(Mismatch(r.user_id, "chain", r.expected, r.balance_after, r.id))
    return found


def describe(mismatches: Sequence[Mismatch]) -> str:
    """One line per mismatch, for logs and the admin chat."""
    return (
        "\n".join(
            f"user {m.user_id}: {m.kind} expected {m.expected} found {m.actual}"
            + (f" (transaction {m.transaction_id})" if m.transaction_id else "")
            for m in mismatches
        )
        or "ledger consistent"
    )


__all__ = [
    "Balance",
    "HistoryPage",
    "LedgerEntry",
    "Mismatch",
    "add_withdrawn_total",
    "describe",
    "get_balance",
    "history",
    "post",
    "reconcile",
]
