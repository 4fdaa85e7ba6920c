"""The withdrawal service the bot calls: each method is one transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import currencies, fees, ledger
from core.addresses import validate_tx_hash
from core.auth import Admin
from core.config import Settings
from core.db.models import WithdrawalRequest, WithdrawalStatus
from core.errors import InvalidAmount, NotFound
from core.withdrawals import notify, queries, request, transitions
from core.withdrawals.states import (
    APPROVE,
    AWAITING_ADMIN,
    CANCEL,
    COMPLETE,
    PROCESS,
    REJECT,
    Move,
)
from core.withdrawals.views import WithdrawalCard, WithdrawalView

log = logging.getLogger(__name__)


def _ids(view: WithdrawalView) -> dict[str, int]:
    """The log fields of a withdrawal line (see core/logging.py)."""
    return {"withdrawal_id": view.id, "user_id": view.user.id}


class WithdrawalService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    # --- the user ---------------------------------------------------------------------------

    async def quote(self, currency_code: str, amount: Decimal | str) -> fees.FeeQuote:
        """The breakdown to confirm. Raises InvalidAmount, CurrencyUnavailable."""
        value = fees.usd_amount(amount)
        async with self._sessions() as session:
            currency = await queries.active_currency(session, currency_code)
        rules = request.rules_for(self._settings.payments, currency)
        return fees.quote(value, rules, currency=currency.code)

    async def amount_refusal(self, amount: Decimal) -> InvalidAmount | None:
        """Why every coin would refuse ``amount``, so it is refused before a coin is picked:
        below the lowest minimum of the active coins, or above the maximum. A coin's higher
        minimum is its quote's to say."""
        payments = self._settings.payments
        async with self._sessions() as session:
            coins = await currencies.list_active(session)
        minimum = min(
            (request.rules_for(payments, coin).minimum for coin in coins),
            default=payments.min_withdrawal_usd,
        )
        if amount < minimum:
            return InvalidAmount("below_minimum", minimum=minimum)
        if amount > payments.max_withdrawal_usd:
            return InvalidAmount("above_maximum", maximum=payments.max_withdrawal_usd)
        return None

    async def request(
        self,
        *,
        user_id: int,
        currency_code: str,
        amount: Decimal | str,
        address: str,
        memo: str | None = None,
        request_key: str | None = None,
    ) -> WithdrawalView:
        """Create a pending withdrawal and hold its full amount. With a request_key, repeating
        the same request (a double tap) returns the first one; IdempotencyConflict if the key
        was used for different terms.

        Raises InvalidAmount, CurrencyUnavailable (unknown, inactive), InvalidAddress,
        NotFound (user), Forbidden (banned), LimitExceeded (too_many_pending, daily_cap),
        InsufficientFunds.
        """
        async with self._sessions.begin() as session:
            view = await request.create(
                session,
                self._settings,
                user_id=user_id,
                currency_code=currency_code,
                amount=amount,
                address=address,
                memo=memo,
                request_key=request_key,
            )
        log.info("withdrawal %s: %s", view.internal_id, view.status.value, extra=_ids(view))
        return view

    async def cancel(self, withdrawal_id: int, *, user_id: int) -> WithdrawalView:
        """The owner withdraws a still-pending request; the hold is refunded.
        Raises NotFound, Forbidden (not_owner), InvalidTransition (not_allowed)."""
        async with self._sessions.begin() as session:
            view = await transitions.apply(session, CANCEL, withdrawal_id, owner_id=user_id)
            await self._finish(session, view, actor="user")
        return view

    # --- admins: ``admin`` is core.auth.AdminGate's proof that the id was checked -----------

    async def approve(
        self, withdrawal_id: int, *, admin: Admin, notes: str | None = None
    ) -> WithdrawalView:
        return await self._admin_move(APPROVE, withdrawal_id, admin, notes)

    async def start_processing(
        self, withdrawal_id: int, *, admin: Admin, notes: str | None = None
    ) -> WithdrawalView:
        return await self._admin_move(PROCESS, withdrawal_id, admin, notes)

    async def reject(
        self,
        withdrawal_id: int,
        *,
        admin: Admin,
        reason: str,
        notes: str | None = None,
        from_status: WithdrawalStatus | None = None,
    ) -> WithdrawalView:
        """Pending or approved → rejected, the hold refunded once. ``from_status``: the status
        the admin saw; if another admin moved it meanwhile the reject is refused, not applied to
        a state the admin never looked at."""
        text = transitions.clean_text(reason, field="reason", required=True)
        return await self._admin_move(
            REJECT,
            withdrawal_id,
            admin,
            notes,
            values={"reject_reason": text},
            from_status=from_status,
        )

    async def complete(
        self,
        withdrawal_id: int,
        *,
        admin: Admin,
        tx_hash: str,
        notes: str | None = None,
    ) -> WithdrawalView:
        """Processing → completed with the chain's transaction hash.
        Raises InvalidAddress (bad_tx_hash) for a hash that does not fit the network."""
        async with self._sessions() as session:
            network = await queries.network_of(session, withdrawal_id)
        if network is None:
            raise NotFound("withdrawal", withdrawal_id=withdrawal_id)
        normalised = validate_tx_hash(tx_hash, network=network)
        return await self._admin_move(
            COMPLETE,
            withdrawal_id,
            admin,
            notes,
            values={"transaction_hash": normalised},
        )

    async def _admin_move(
        self,
        move: Move,
        withdrawal_id: int,
        admin: Admin,
        notes: str | None,
        values: dict[str, object] | None = None,
        from_status: WithdrawalStatus | None = None,
    ) -> WithdrawalView:
        """Raises Forbidden (own_withdrawal), NotFound, InvalidTransition
        (not_allowed with status, decided_by, decided_at; reason_required; text_too_long)."""
        actor = admin.telegram_id
        note = transitions.clean_text(notes, field="notes")
        async with self._sessions.begin() as session:
            view = await transitions.apply(
                session,
                move,
                withdrawal_id,
                admin=actor,
                notes=note,
                values=dict(values or {}),
                from_status=from_status,
                not_owner=actor if transitions.owner_excluded(self._settings, move) else None,
            )
            await self._finish(session, view, actor="admin")
        log.info(
            "withdrawal %s: %s by an admin", view.internal_id, view.status.value, extra=_ids(view)
        )
        return view

    async def _finish(self, session: AsyncSession, view: WithdrawalView, *, actor: str) -> None:
        await transitions.settle(session, view)
        await notify.enqueue_transition(session, self._settings, view, actor=actor)

    # --- reads ------------------------------------------------------------------------------

    async def get(self, withdrawal_id: int) -> WithdrawalView:
        async with self._sessions() as session:
            view = await queries.get_view(session, withdrawal_id)
        if view is None:
            raise NotFound("withdrawal", withdrawal_id=withdrawal_id)
        return view

    async def get_by_internal_id(self, internal_id: str) -> WithdrawalView:
        async with self._sessions() as session:
            view = await queries.get_view_by_internal_id(session, internal_id)
        if view is None:
            raise NotFound("withdrawal", internal_id=internal_id)
        return view

    async def list_for_user(self, user_id: int, *, limit: int = 10) -> list[WithdrawalView]:
        """Newest first."""
        async with self._sessions() as session:
            return await queries.list_for_user(session, user_id, _limit(limit))

    async def list_pending(
        self, *, statuses: Iterable[WithdrawalStatus] = AWAITING_ADMIN, limit: int = 50
    ) -> list[WithdrawalView]:
        """Oldest first. For admins: see core.withdrawals.actions.WithdrawalActions.pending."""
        async with self._sessions() as session:
            return await queries.list_by_status(session, statuses, _limit(limit))

    async def card(self, withdrawal_id: int, *, recent: int = 5) -> WithdrawalCard:
        """The admin card's facts, read in one snapshot."""
        async with self._sessions() as session, session.begin():
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            view = await queries.get_view(session, withdrawal_id)
            if view is None:
                raise NotFound("withdrawal", withdrawal_id=withdrawal_id)
            currency = await queries.currency(session, view.currency_code)
            assert currency is not None  # foreign key
            balance = await ledger.get_balance(session, view.user.id)
            page = await ledger.history(session, view.user.id, limit=_limit(recent))
        return WithdrawalCard(
            withdrawal=view,
            currency_name=currency.display_name,
            network=currency.network,
            balance=balance,
            recent=page.entries,
        )

    async def set_admin_message(self, withdrawal_id: int, message_id: int) -> None:
        """The notifier records the admin-chat message it posted, to edit it later."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(WithdrawalRequest)
                .where(WithdrawalRequest.id == withdrawal_id)
                .values(admin_chat_message_id=message_id)
                .execution_options(synchronize_session=False)
            )


def _limit(value: int) -> int:
    return min(max(value, 1), 100)
