"""Admin tools behind the admin chat: figures, user look-ups, balance adjustments, the currency
switch, the withdrawal actions a card offers, and the reconcile alert. No aiogram here.

Every method of ``AdminService`` refuses anyone not in ``telegram.admin_ids``
(``Forbidden("not_admin")``) before it reads or changes anything, whatever the bot checked first.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import currencies, ledger, outbox
from core.addresses import validate_tx_hash
from core.config import Settings
from core.currencies import CurrencyCatalog, SyncResult
from core.db.models import Currency, PaymentStatus, TxType, User, WithdrawalStatus
from core.deposits import review as deposit_review
from core.deposits.review import ReviewDecision, ReviewResult
from core.deposits.views import PaymentView, list_by_status, recent_for_user
from core.errors import InsufficientFunds, InvalidAmount, InvalidTransition, NotFound
from core.ledger import Balance, LedgerEntry, Mismatch
from core.money import parse_usd, require_usd
from core.users import find_user, get_by_telegram_id
from core.withdrawals import WithdrawalService, WithdrawalView
from core.withdrawals import queries as withdrawal_queries
from core.withdrawals.states import REACHED_BY
from core.withdrawals.transitions import check_not_own, require_admin

log = logging.getLogger(__name__)

S = WithdrawalStatus

RECONCILE_ALERT_KIND = "reconcile_alert"
RECONCILE_ALERT_LINES = 20
ADJUST_KINDS = frozenset({TxType.ADJUSTMENT, TxType.BONUS})
MAX_REASON_LENGTH = 500
MAX_ADJUST_KEY_LENGTH = 100
# What /pending lists: everything an admin still has to act on.
OPEN_FOR_ADMIN = (S.PENDING, S.APPROVED, S.PROCESSING)
# `/payments <filter>`: a status, or "review" for payments held for an admin.
REVIEW_FILTER = "review"
PAYMENT_FILTERS = (REVIEW_FILTER, *(s.value for s in PaymentStatus))


class WithdrawalAction(StrEnum):
    APPROVE = "approve"
    PROCESS = "process"
    COMPLETE = "complete"  # from approved too: moved to processing first, by the same admin
    REJECT = "reject"


# What a card offers in each status. The database still decides: every move is a guarded
# UPDATE, so a stale offer is refused there.
_OFFERED: dict[WithdrawalStatus, tuple[WithdrawalAction, ...]] = {
    S.PENDING: (WithdrawalAction.APPROVE, WithdrawalAction.REJECT),
    S.APPROVED: (WithdrawalAction.PROCESS, WithdrawalAction.COMPLETE, WithdrawalAction.REJECT),
    S.PROCESSING: (WithdrawalAction.COMPLETE,),
}


def offered_actions(status: WithdrawalStatus) -> tuple[WithdrawalAction, ...]:
    return _OFFERED.get(status, ())


# The status each action leads to (InvalidTransition's ``target``, as core.withdrawals sets it).
_TARGET = {
    WithdrawalAction.APPROVE: S.APPROVED,
    WithdrawalAction.PROCESS: S.PROCESSING,
    WithdrawalAction.COMPLETE: S.COMPLETED,
    WithdrawalAction.REJECT: S.REJECTED,
}


def _not_allowed(view: WithdrawalView, action: WithdrawalAction) -> InvalidTransition:
    return InvalidTransition(
        "not_allowed",
        withdrawal_id=view.id,
        status=view.status.value,
        target=_TARGET[action].value,
        decided_by=view.decided_by,
        decided_at=view.decided_at,
    )


# --- read models --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    username: str | None = None
    first_name: str | None = None


@dataclass(frozen=True, slots=True)
class StatusTotal:
    count: int
    amount: Decimal  # USD requested (deposits: amount_usd; withdrawals: amount_usd)


@dataclass(frozen=True, slots=True)
class Stats:
    users: int
    balances: Decimal  # what users hold now (sum of cached balances)
    deposited: Decimal
    withdrawn: Decimal
    held: Decimal  # in withdrawals not final yet (already off the balances)
    credited: Decimal  # credited for deposits, all time
    payments: dict[str, StatusTotal]
    withdrawals: dict[str, StatusTotal]
    mismatches: list[Mismatch]
    at: datetime
    outbox: outbox.Backlog  # queued messages (depth, oldest age) and recent undelivered ones


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    telegram_id: int
    username: str | None
    first_name: str | None
    is_banned: bool
    blocked_bot: bool
    created_at: datetime

    @property
    def person(self) -> Person:
        return Person(self.telegram_id, self.username, self.first_name)


@dataclass(frozen=True, slots=True)
class UserSummary:
    user: UserInfo
    balance: Balance
    transactions: int
    recent: list[LedgerEntry]
    withdrawals: list[WithdrawalView]
    withdrawal_totals: dict[str, StatusTotal]
    deposits: list[PaymentView]
    deposit_totals: dict[str, StatusTotal]


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


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        telegram_id=user.telegram_id,
        username=user.username,
        first_name=user.first_name,
        is_banned=user.is_banned,
        blocked_bot=user.blocked_bot,
        created_at=user.created_at,
    )


# --- SQL ----------------------------------------------------------------------------------

_BALANCE_TOTALS = text(
    """
    SELECT (SELECT count(*) FROM users) AS users,
           coalesce(sum(balance_usd), 0) AS balances,
           coalesce(sum(total_deposited), 0) AS deposited,
           coalesce(sum(total_withdrawn), 0) AS withdrawn
      FROM user_balances
    """
)
_PAYMENT_TOTALS = """
    SELECT status, count(*) AS n, coalesce(sum(amount_usd), 0) AS amount,
           coalesce(sum(credited_usd), 0) AS credited
      FROM payments {where} GROUP BY status ORDER BY status
"""
_WITHDRAWAL_TOTALS = """
    SELECT status, count(*) AS n, coalesce(sum(amount_usd), 0) AS amount
      FROM withdrawal_requests {where} GROUP BY status ORDER BY status
"""
_OF_USER = "WHERE user_id = :user_id"
_PAYMENT_TOTALS_ALL = text(_PAYMENT_TOTALS.format(where=""))
_WITHDRAWAL_TOTALS_ALL = text(_WITHDRAWAL_TOTALS.format(where=""))
_PAYMENT_TOTALS_USER = text(_PAYMENT_TOTALS.format(where=_OF_USER))
_WITHDRAWAL_TOTALS_USER = text(_WITHDRAWAL_TOTALS.format(where=_OF_USER))
_TRANSACTION_COUNT = text("SELECT count(*) FROM transactions WHERE user_id = :user_id")


def _totals(rows: Iterable[Any]) -> dict[str, StatusTotal]:
    return {r.status: StatusTotal(int(r.n), Decimal(r.amount)) for r in rows}


async def _snapshot(session: AsyncSession) -> None:
    """Begin a REPEATABLE READ transaction: every figure from one moment."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def people(session: AsyncSession, telegram_ids: Iterable[int]) -> dict[int, Person]:
    """Names of Telegram users we know (admins are registered when they first act)."""
    wanted = sorted({i for i in telegram_ids if isinstance(i, int) and not isinstance(i, bool)})
    found = {i: Person(i) for i in wanted}
    if wanted:
        rows = await session.execute(
            select(User.telegram_id, User.username, User.first_name).where(
                User.telegram_id.in_(wanted)
            )
        )
        for tg_id, username, first_name in rows.all():
            found[tg_id] = Person(tg_id, username, first_name)
    return found


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


class AdminService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self.withdrawals = WithdrawalService(sessions, settings)

    def require_admin(self, actor: int) -> None:
        """Raises Forbidden("not_admin")."""
        require_admin(self._settings, actor)

    async def people(self, telegram_ids: Iterable[int]) -> dict[int, Person]:
        async with self._sessions() as session:
            return await people(session, telegram_ids)

    # --- withdrawals ------------------------------------------------------------------------

    async def pending_withdrawals(
        self, *, admin_telegram_id: int, limit: int = 50
    ) -> list[WithdrawalView]:
        """Pending, approved and processing ones, oldest first."""
        self.require_admin(admin_telegram_id)
        return await self.withdrawals.list_pending(statuses=OPEN_FOR_ADMIN, limit=limit)

    async def check_action(
        self, withdrawal_id: int, action: WithdrawalAction, *, admin_telegram_id: int
    ) -> WithdrawalView:
        """The withdrawal, if ``action`` may be taken now (before asking the admin for a reason
        or a hash). Raises Forbidden, NotFound, InvalidTransition (not_allowed)."""
        self.require_admin(admin_telegram_id)
        view = await self.withdrawals.get(withdrawal_id)
        if action not in offered_actions(view.status):
            raise _not_allowed(view, action)
        check_not_own(self._settings, REACHED_BY[_TARGET[action]], view, admin_telegram_id)
        return view

    async def approve(self, withdrawal_id: int, *, admin_telegram_id: int) -> WithdrawalView:
        self.require_admin(admin_telegram_id)
        return await self.withdrawals.approve(withdrawal_id, admin_telegram_id=admin_telegram_id)

    async def start_processing(
        self, withdrawal_id: int, *, admin_telegram_id: int
    ) -> WithdrawalView:
        self.require_admin(admin_telegram_id)
        return await self.withdrawals.start_processing(
            withdrawal_id, admin_telegram_id=admin_telegram_id
        )

    async def reject(
        self,
        withdrawal_id: int,
        *,
        admin_telegram_id: int,
        reason: str,
        from_status: WithdrawalStatus | None,
    ) -> WithdrawalView:
        """Refunds the hold once. ``from_status``: what the admin was shown."""
        self.require_admin(admin_telegram_id)
        return await self.withdrawals.reject(
            withdrawal_id,
            admin_telegram_id=admin_telegram_id,
            reason=reason,
            from_status=from_status,
        )

    async def complete(
        self, withdrawal_id: int, *, admin_telegram_id: int, tx_hash: str
    ) -> WithdrawalView:
        """Processing → completed. An approved one is moved to processing first (the admin
        has sent the funds), but only once the hash fits the network, so a mistyped hash
        changes nothing. Raises InvalidAddress (bad_tx_hash), InvalidTransition, NotFound."""
        self.require_admin(admin_telegram_id)
        async with self._sessions() as session:
            network = await withdrawal_queries.network_of(session, withdrawal_id)
        if network is None:
            raise NotFound("withdrawal", withdrawal_id=withdrawal_id)
        validate_tx_hash(tx_hash, network=network)
        view = await self.withdrawals.get(withdrawal_id)
        if view.status is S.APPROVED:
            try:
                await self.withdrawals.start_processing(
                    withdrawal_id, admin_telegram_id=admin_telegram_id
                )
            except InvalidTransition as exc:  # another admin marked it processing meanwhile
                if exc.params.get("status") != S.PROCESSING.value:
                    raise
        elif view.status is not S.PROCESSING:
            raise _not_allowed(view, WithdrawalAction.COMPLETE)
        return await self.withdrawals.complete(
            withdrawal_id, admin_telegram_id=admin_telegram_id, tx_hash=tx_hash
        )

    # --- figures ----------------------------------------------------------------------------

    async def stats(self, *, admin_telegram_id: int) -> Stats:
        """Totals by status, the balances' sum and the reconcile result, from one snapshot."""
        self.require_admin(admin_telegram_id)
        async with self._sessions() as session, session.begin():
            await _snapshot(session)
            at = (await session.execute(text("SELECT now()"))).scalar_one()
            totals = (await session.execute(_BALANCE_TOTALS)).one()
            payment_rows = (await session.execute(_PAYMENT_TOTALS_ALL)).all()
            withdrawals = _totals((await session.execute(_WITHDRAWAL_TOTALS_ALL)).all())
            mismatches = await ledger.reconcile(session)
            queue = await outbox.backlog(session)
        held = sum(
            (withdrawals[s.value].amount for s in OPEN_FOR_ADMIN if s.value in withdrawals),
            Decimal("0.00"),
        )
        return Stats(
            users=int(totals.users),
            balances=Decimal(totals.balances),
            deposited=Decimal(totals.deposited),
            withdrawn=Decimal(totals.withdrawn),
            held=held,
            credited=sum((Decimal(r.credited) for r in payment_rows), Decimal("0.00")),
            payments=_totals(payment_rows),
            withdrawals=withdrawals,
            mismatches=mismatches,
            at=at,
            outbox=queue,
        )

    async def user_summary(
        self, query: str, *, admin_telegram_id: int, recent: int = 5
    ) -> UserSummary:
        """By Telegram id or @username. Raises NotFound("user")."""
        self.require_admin(admin_telegram_id)
        limit = min(max(recent, 1), 20)
        async with self._sessions() as session, session.begin():
            await _snapshot(session)
            user = await find_user(session, query)
            if user is None:
                raise NotFound("user", query=query.strip()[:64])
            params = {"user_id": user.id}
            balance = await ledger.get_balance(session, user.id)
            count = (await session.execute(_TRANSACTION_COUNT, params)).scalar_one()
            page = await ledger.history(session, user.id, limit=limit)
            withdrawals = await withdrawal_queries.list_for_user(session, user.id, limit)
            w_totals = _totals((await session.execute(_WITHDRAWAL_TOTALS_USER, params)).all())
            deposits = await recent_for_user(session, user.id, limit)
            d_totals = _totals((await session.execute(_PAYMENT_TOTALS_USER, params)).all())
            info = _user_info(user)
        return UserSummary(
            user=info,
            balance=balance,
            transactions=int(count),
            recent=page.entries,
            withdrawals=withdrawals,
            withdrawal_totals=w_totals,
            deposits=deposits,
            deposit_totals=d_totals,
        )

    async def review_deposit(
        self, payment_id: int, decision: ReviewDecision, *, admin_telegram_id: int
    ) -> ReviewResult:
        """End a deposit's review: credit what arrived, or close it. See core.deposits.review."""
        self.require_admin(admin_telegram_id)
        return await deposit_review.decide(
            self._sessions,
            self._settings,
            payment_id,
            decision,
            admin_telegram_id=admin_telegram_id,
        )

    async def recent_payments(
        self, status: str | None = None, *, admin_telegram_id: int, limit: int = 20
    ) -> list[PaymentView]:
        """Newest first; ``status`` one of PAYMENT_FILTERS. Raises NotFound("payment_status")."""
        self.require_admin(admin_telegram_id)
        wanted = (status or "").strip().lower()
        if wanted and wanted not in PAYMENT_FILTERS:
            raise NotFound("payment_status", status=wanted[:32])
        async with self._sessions() as session:
            if wanted == REVIEW_FILTER:
                return await list_by_status(session, needs_review=True, limit=limit)
            return await list_by_status(session, [wanted] if wanted else None, limit=limit)

    # --- balance adjustments ----------------------------------------------------------------

    async def plan_adjustment(
        self,
        user_query: str,
        amount: str | Decimal,
        reason: str,
        *,
        admin_telegram_id: int,
        kind: TxType = TxType.ADJUSTMENT,
    ) -> AdjustmentPlan:
        """Check an adjustment before asking for confirmation. Raises Forbidden, InvalidAmount,
        InvalidTransition (reason_required, text_too_long), NotFound (user), InsufficientFunds
        (it would take the balance below zero now)."""
        self.require_admin(admin_telegram_id)
        value = adjustment_amount(amount, kind)
        cleaned = reason_text(reason)
        async with self._sessions() as session:
            user = await find_user(session, user_query)
            if user is None:
                raise NotFound("user", query=user_query.strip()[:64])
            balance = await ledger.get_balance(session, user.id)
        if balance.balance + value < 0:
            raise InsufficientFunds(balance=balance.balance, amount=-value)
        person = Person(user.telegram_id, user.username, user.first_name)
        return AdjustmentPlan(person, TxType(kind), value, cleaned, balance.balance)

    async def adjust(
        self,
        user_telegram_id: int,
        amount: Decimal,
        reason: str,
        *,
        admin_telegram_id: int,
        key: str,
        kind: TxType = TxType.ADJUSTMENT,
    ) -> AdjustmentResult:
        """Post a bonus or an adjustment through the ledger. ``key`` names this confirmation:
        posting it again returns the first entry (``created`` False). Raises Forbidden,
        InvalidAmount, InvalidTransition (reason), NotFound (user), InsufficientFunds (the
        ledger refuses a balance below zero), IdempotencyConflict."""
        self.require_admin(admin_telegram_id)
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
                metadata={"admin_telegram_id": admin_telegram_id, "reason": cleaned},
            )
            person = Person(user.telegram_id, user.username, user.first_name)
        if entry.created:
            log.info(
                "admin %s posted %s %s for user %s (%s)",
                admin_telegram_id,
                kind,
                value,
                user_telegram_id,
                ledger_key,
            )
        return AdjustmentResult(person, entry, entry.created)

    # --- currencies -------------------------------------------------------------------------

    async def list_currencies(self, *, admin_telegram_id: int) -> list[Currency]:
        self.require_admin(admin_telegram_id)
        async with self._sessions() as session:
            return await currencies.list_all(session)

    async def set_currency_active(
        self, code: str, active: bool, *, admin_telegram_id: int
    ) -> Currency:
        """Raises Forbidden, NotFound (currency)."""
        self.require_admin(admin_telegram_id)
        async with self._sessions.begin() as session:
            return await currencies.set_active(session, code, active, admin_telegram_id)

    async def sync_currencies(
        self, catalog: CurrencyCatalog, *, admin_telegram_id: int
    ) -> SyncResult:
        """From the provider; never raises for provider trouble (the result says)."""
        self.require_admin(admin_telegram_id)
        return await currencies.sync(self._sessions, catalog)

    # --- reconcile ----------------------------------------------------------------------------

    async def reconcile_and_alert(self) -> list[Mismatch]:
        """See ``reconcile_and_alert`` (no admin needed: an operator's or a scheduler's call)."""
        return await reconcile_and_alert(self._sessions, self._settings)


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


__all__ = [
    "ADJUST_KINDS",
    "OPEN_FOR_ADMIN",
    "PAYMENT_FILTERS",
    "RECONCILE_ALERT_KIND",
    "REVIEW_FILTER",
    "AdjustmentPlan",
    "AdjustmentResult",
    "AdminService",
    "Person",
    "Stats",
    "StatusTotal",
    "UserInfo",
    "UserSummary",
    "WithdrawalAction",
    "adjustment_amount",
    "offered_actions",
    "people",
    "reason_text",
    "reconcile_and_alert",
]
