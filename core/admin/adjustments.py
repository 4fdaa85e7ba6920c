"""/adjust and /bonus: a balance adjustment or a bonus, checked first (the plan the confirm
button shows), then posted through the ledger once per confirmation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger
from core.admin import notify as adjustment_notify
from core.admin.lookups import Person, person_of
from core.auth import Admin
from core.db.models import TxType
from core.errors import InsufficientFunds, InvalidAmount, InvalidTransition, NotFound
from core.ledger import LedgerEntry
from core.money import parse_usd, require_usd
from core.users import find_user, get_by_telegram_id

log = logging.getLogger(__name__)

ADJUST_KINDS = frozenset({TxType.ADJUSTMENT, TxType.BONUS})
MAX_REASON_LENGTH = 500
MAX_ADJUST_KEY_LENGTH = 100


@dataclass(frozen=True, slots=True)
class AdjustmentPlan:
    """What the confirm button will post, with the balance it was checked against."""

    user: Person
    kind: TxType
    amount: Decimal
    reason: str
    balance: Decimal

    @property
    def balance_after(self) -> Decimal:
        return self.balance + self.amount


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    user: Person
    entry: LedgerEntry
    created: bool  # False: this confirmation had been posted before (a repeated press)


def reason_text(reason: str | None) -> str:
    """An adjustment's reason, required. Raises InvalidTransition (reason_required,
    text_too_long)."""
    cleaned = reason.strip() if isinstance(reason, str) else ""
    if not cleaned:
        raise InvalidTransition("reason_required", field="reason")
    if len(cleaned) > MAX_REASON_LENGTH:
        raise InvalidTransition("text_too_long", field="reason", max_length=MAX_REASON_LENGTH)
    return cleaned


def adjustment_amount(value: str | Decimal, kind: TxType) -> Decimal:
    """A signed USD amount for an adjustment (a bonus only adds). Raises InvalidAmount."""
    if kind not in ADJUST_KINDS:
        raise ValueError(f"not an adjustment type: {kind!r}")
    if isinstance(value, str):
        amount = parse_usd(value, allow_negative=kind is TxType.ADJUSTMENT)
    else:
        amount = require_usd(value)
    if amount == 0:
        raise InvalidAmount("zero")
    if kind is TxType.BONUS and amount < 0:
        raise InvalidAmount("negative")
    return amount


def adjust_key(key: str) -> str:
    """The ledger key of one confirmation (the caller names it, e.g. by its confirm button)."""
    if not key or len(key) > MAX_ADJUST_KEY_LENGTH:
        raise ValueError("an adjustment key must be 1-100 characters")
    return f"adjust:{key}"


class Adjustments:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def plan(
        self,
        user_query: str,
        amount: str | Decimal,
        reason: str,
        *,
        admin: Admin,
        kind: TxType = TxType.ADJUSTMENT,
    ) -> AdjustmentPlan:
        """Check an adjustment before asking for confirmation. Raises InvalidAmount,
        InvalidTransition (reason_required, text_too_long), NotFound (user), InsufficientFunds
        (it would take the balance below zero now)."""
        value = adjustment_amount(amount, kind)
        cleaned = reason_text(reason)
        async with self._sessions() as session:
            user = await find_user(session, user_query)
            if user is None:
                raise NotFound("user", query=user_query.strip()[:64])
            balance = await ledger.get_balance(session, user.id)
        if balance.balance + value < 0:
            raise InsufficientFunds(balance=balance.balance, amount=-value)
        return AdjustmentPlan(person_of(user), TxType(kind), value, cleaned, balance.balance)

    async def post(
        self,
        user_telegram_id: int,
        amount: Decimal,
        reason: str,
        *,
        admin: Admin,
        key: str,
        kind: TxType = TxType.ADJUSTMENT,
    ) -> AdjustmentResult:
        """Post a bonus or an adjustment through the ledger. ``key`` names this confirmation:
        posting it again returns the first entry (``created`` False). Raises InvalidAmount,
        InvalidTransition (reason), NotFound (user), InsufficientFunds (the ledger refuses a
        balance below zero), IdempotencyConflict."""
        value = adjustment_amount(amount, kind)
        cleaned = reason_text(reason)
        ledger_key = adjust_key(key)
        async with self._sessions.begin() as session:
            user = await get_by_telegram_id(session, user_telegram_id)
            if user is None:
                raise NotFound("user", telegram_id=user_telegram_id)
            entry = await ledger.post(
                session,
                user_id=user.id,
                type=TxType(kind),
                amount=value,
                idempotency_key=ledger_key,
                description=cleaned,
                metadata={"admin_telegram_id": admin.telegram_id, "reason": cleaned},
            )
            if entry.created:  # the user hears about it with the reason (same transaction)
                await adjustment_notify.enqueue_push(session, user.telegram_id, entry)
            person = person_of(user)
        if entry.created:
            log.info(
                "admin %s posted %s %s for user %s (%s)",
                admin.telegram_id,
                kind,
                value,
                user_telegram_id,
                ledger_key,
            )
        return AdjustmentResult(person, entry, entry.created)
