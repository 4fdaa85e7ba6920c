"""A hypothesis state machine over the real money services on PostgreSQL, against a model of
balances in plain Python: after every step each user's balance equals the model's and
core.invariants finds nothing.

Steps: deposits settled by provider replies (exact, partial, overpaid, expired, progress) and
replayed; withdrawals requested (also beyond the balance), approved, processed, completed,
rejected and cancelled, each decision also repeated or tried from the wrong state; admin
adjustments either way, replayed under the same key and reused for other terms.

Where the money rules are being changed (partial and over-payments may go to an admin review
instead of being credited), the model does not fix today's figure: it takes what settlement
recorded in ``credited_usd``, bounded by what arrived, and checks it was posted once and never
again. The exact payment and every other move are modelled exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import ledger
from core.admin import Adjustments
from core.auth import AdminGate
from core.config import PaymentsSettings, Settings, TelegramSettings
from core.db.models import TxType, User
from core.db.models import WithdrawalStatus as S
from core.db.session import create_engine, create_session_factory
from core.deposits.settlement import SettlePolicy, settle
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidTransition
from core.invariants import check_database, describe
from core.withdrawals import WithdrawalService
from tests.support.db import Db, next_telegram_id
from tests.support.money import ADDRESSES, TX_HASHES, add_currencies, reply, waiting_payment

D = Decimal
T = TypeVar("T")
ADMIN = 700_200_001
ADMIN_CHAT = -100_700_200
as_admin = AdminGate([ADMIN]).authorize
PAY = D("0.01000000")  # every payment's pay_amount: the ratios below are exact
SETTINGS = Settings(
    telegram=TelegramSettings(admin_chat_id=ADMIN_CHAT, admin_ids=[ADMIN]),
    payments=PaymentsSettings(
        max_pending_withdrawals=1000,
        daily_withdrawal_cap_usd=D("1000000.00"),
        max_withdrawal_usd=D("1000000.00"),
    ),
)
POLICY = SettlePolicy.from_settings(SETTINGS)
_provider_ids = itertools.count(800_000_000_000 + secrets.randbelow(10**6) * 10**5)

# Provider outcomes: (status, actually_paid as a share of pay_amount or None).
OUTCOMES = {
    "progress": ("confirming", D("1")),
    "exact": ("finished", D("1")),
    "partial": ("partially_paid", D("0.4")),
    "overpaid": ("finished", D("1.5")),
    "expired": ("expired", None),
}
# Withdrawal moves: (from, to); reject also leaves approved.
MOVES = {
    "approve": ({S.PENDING}, S.APPROVED),
    "process": ({S.APPROVED}, S.PROCESSING),
    "complete": ({S.PROCESSING}, S.COMPLETED),
    "reject": ({S.PENDING, S.APPROVED}, S.REJECTED),
    "cancel": ({S.PENDING}, S.CANCELLED),
}
OPEN = (S.PENDING, S.APPROVED, S.PROCESSING)
TAKEN_BACK = (S.PENDING, S.APPROVED)
NEXT = {S.PENDING: "approve", S.APPROVED: "process", S.PROCESSING: "complete"}
cents = st.integers(min_value=1, max_value=30_000).map(lambda c: D(c).scaleb(-2))
pick = st.integers(min_value=0, max_value=10_000)


@dataclass
class PaymentModel:
    id: int
    provider_id: str
    user: int  # index into the machine's users
    amount: Decimal
    final: bool = False
    credited: Decimal = Decimal("0.00")
    last: tuple[str, Decimal | None] | None = None  # the last reply settled


@dataclass
class WithdrawalModel:
    id: int
    user: int
    amount: Decimal
    status: S = S.PENDING


class Money(RuleBasedStateMachine):
    """Shared across examples: one event loop, one engine (set by the test)."""

    loop: asyncio.AbstractEventLoop
    sessions: async_sessionmaker[AsyncSession]

    def __init__(self) -> None:
        super().__init__()
        self.users: list[User] = []
        self.balances: list[Decimal] = []
        self.payments: list[PaymentModel] = []
        self.withdrawals: list[WithdrawalModel] = []
        self.adjust_keys: dict[str, tuple[int, Decimal]] = {}
        self.key_prefix = secrets.token_hex(4)
        self.withdrawal_service = WithdrawalService(self.sessions, SETTINGS)
        self.admin = Adjustments(self.sessions)

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)

    @initialize()
    def make_users(self) -> None:
        async def make() -> list[User]:
            async with self.sessions.begin() as session:
                users = [User(telegram_id=next_telegram_id(), first_name="SM") for _ in range(2)]
                session.add_all(users)
            return users

        self.users = self.run(make())
        self.balances = [D("0.00")] * len(self.users)
        for index in range(len(self.users)):  # some money to withdraw from the first step
            self.open_payment(index, 20_000)
            self._settle(self.payments[-1], "finished", PAY)

    # --- deposits -----------------------------------------------------------------------------

    @rule(user=pick, amount=st.integers(min_value=500, max_value=50_000))
    def open_payment(self, user: int, amount: int) -> None:
        index = user % len(self.users)
        value = D(amount).scaleb(-2)
        provider_id = str(next(_provider_ids))
        payment_id = self.run(
            waiting_payment(self.sessions, self.users[index].id, value, PAY, provider_id)
        )
        self.payments.append(PaymentModel(payment_id, provider_id, index, value))

    @precondition(lambda self: self.payments)
    @rule(which=pick, outcome=st.sampled_from(sorted(OUTCOMES)))
    def settle_payment(self, which: int, outcome: str) -> None:
        p = self.payments[which % len(self.payments)]
        status, share = OUTCOMES[outcome]
        paid = None if share is None else PAY * share
        self._settle(p, status, paid)

    @precondition(lambda self: any(p.last is not None for p in self.payments))
    @rule(which=pick)
    def replay_settlement(self, which: int) -> None:
        """The same reply again (a poller and a user's "check status" racing, a retry)."""
        settled = [p for p in self.payments if p.last is not None]
        p = settled[which % len(settled)]
        assert p.last is not None
        self._settle(p, *p.last)

    def _settle(self, p: PaymentModel, status: str, paid: Decimal | None) -> None:
        result = self.run(
            settle(
                self.sessions,
                p.id,
                reply(p.provider_id, status, pay_amount=PAY, actually_paid=paid),
                POLICY,
            )
        )
        was_final = p.final
        p.last = (status, paid)
        recorded = result.view.credited_usd or D("0.00")
        if was_final:
            # A final payment's money never moves again by itself (alerts and reviews only).
            assert result.credited is None and recorded == p.credited
            return
        p.final = status in ("finished", "partially_paid", "expired")
        if not p.final or status == "expired":
            assert result.credited is None and recorded == 0
            return
        assert paid is not None
        arrived = (p.amount * paid / PAY).quantize(D("0.01"), rounding=ROUND_DOWN)
        if paid == PAY:
            expected: Decimal | None = p.amount
        else:  # today's rule or an admin review: bounded by what arrived, never more
            assert D("0.00") <= recorded <= max(arrived, p.amount)
            expected = recorded
        assert (result.credited or D("0.00")) == expected == recorded
        p.credited = recorded
        self.balances[p.user] += recorded

    # --- withdrawals --------------------------------------------------------------------------

    @rule(user=pick, share=st.integers(min_value=0, max_value=150))
    def request_withdrawal(self, user: int, share: int) -> None:
        """A share of the balance, up to 150 %: beyond it is an overdraft attempt that must
        change nothing."""
        index = user % len(self.users)
        amount = (self.balances[index] * share / 100).quantize(D("0.01"), rounding=ROUND_DOWN)
        amount = max(amount, SETTINGS.payments.min_withdrawal_usd)
        try:
            view = self.run(
                self.withdrawal_service.request(
                    user_id=self.users[index].id,
                    currency_code="BTC",
                    amount=amount,
                    address=ADDRESSES["BTC"],
                )
            )
        except InsufficientFunds:
            assert self.balances[index] < amount
            return
        assert self.balances[index] >= amount
        self.balances[index] -= amount
        self.withdrawals.append(WithdrawalModel(view.id, index, amount))

    @precondition(lambda self: self.withdrawals)
    @rule(which=pick, move=st.sampled_from(sorted(MOVES)))
    def decide(self, which: int, move: str) -> None:
        """Any move on any withdrawal: repeats and wrong states are refused, moving nothing."""
        w = self.withdrawals[which % len(self.withdrawals)]
        sources, target = MOVES[move]
        service = self.withdrawal_service
        actions: dict[str, Any] = {
            "approve": lambda: service.approve(w.id, admin=as_admin(ADMIN)),
            "process": lambda: service.start_processing(w.id, admin=as_admin(ADMIN)),
            "complete": lambda: service.complete(
                w.id, admin=as_admin(ADMIN), tx_hash=TX_HASHES["BTC"]
            ),
            "reject": lambda: service.reject(w.id, admin=as_admin(ADMIN), reason="no"),
            "cancel": lambda: service.cancel(w.id, user_id=self.users[w.user].id),
        }
        try:
            view = self.run(actions[move]())
        except InvalidTransition:
            assert w.status not in sources
            return
        assert w.status in sources and view.status is target
        w.status = target
        if target in (S.REJECTED, S.CANCELLED):
            self.balances[w.user] += w.amount

    @precondition(lambda self: any(w.status in OPEN for w in self.withdrawals))
    @rule(which=pick, steps=st.integers(min_value=1, max_value=3))
    def advance(self, which: int, steps: int) -> None:
        """The next steps of an open withdrawal, so payouts also reach the end. Several at once:
        Hypothesis biases its draws by the literals in the code base, so the fixed seed alone
        does not keep the walk reaching "completed" as the code changes."""
        open_ = [w for w in self.withdrawals if w.status in OPEN]
        w = open_[which % len(open_)]
        for _ in range(steps):
            if w.status not in OPEN:
                return
            self.decide(self.withdrawals.index(w), NEXT[w.status])

    @precondition(lambda self: any(w.status in TAKEN_BACK for w in self.withdrawals))
    @rule(which=pick, by_user=st.booleans())
    def take_back(self, which: int, by_user: bool) -> None:
        """A user cancels or an admin rejects an open withdrawal, so refunds happen in every
        draw: like ``advance``, a walk that only picks moves at random may never reach one."""
        open_ = [w for w in self.withdrawals if w.status in TAKEN_BACK]
        w = open_[which % len(open_)]
        move = "cancel" if by_user and w.status is S.PENDING else "reject"
        self.decide(self.withdrawals.index(w), move)

    # --- admin adjustments --------------------------------------------------------------------

    @rule(user=pick, amount=cents, debit=st.booleans(), key=st.integers(0, 4))
    def adjust(self, user: int, amount: Decimal, debit: bool, key: int) -> None:
        """A small key space: the same confirmation pressed twice, or a key reused."""
        index = user % len(self.users)
        value = -amount if debit else amount
        name = f"{self.key_prefix}:{key}"
        try:
            result = self.run(
                self.admin.post(
                    self.users[index].telegram_id,
                    value,
                    "state machine",
                    admin=as_admin(ADMIN),
                    key=name,
                    kind=TxType.ADJUSTMENT,
                )
            )
        except InsufficientFunds:
            assert name not in self.adjust_keys and self.balances[index] + value < 0
            return
        except IdempotencyConflict:
            assert name in self.adjust_keys and self.adjust_keys[name] != (index, value)
            return
        if name in self.adjust_keys:
            assert not result.created and self.adjust_keys[name] == (index, value)
            return
        assert result.created
        self.adjust_keys[name] = (index, value)
        self.balances[index] += value

    # --- after every step ---------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        async def read() -> list[Decimal]:
            async with self.sessions() as session:
                return [(await ledger.get_balance(session, u.id)).balance for u in self.users]

        if self.users:
            assert self.run(read()) == self.balances

    @invariant()
    def invariants_hold(self) -> None:
        found = self.run(check_database(self.sessions))
        assert not found, describe(found)


def test_money_services_match_the_model(fresh_db: Db) -> None:
    """Sync on purpose: hypothesis drives the steps, each run on a loop of this test's own."""
    loop = asyncio.new_event_loop()
    engine: AsyncEngine = create_engine(fresh_db.url, pool_size=5)
    try:
        Money.loop = loop
        Money.sessions = create_session_factory(engine)
        loop.run_until_complete(add_currencies(Money.sessions))
        run_state_machine_as_test(
            Money,
            settings=settings(
                max_examples=20,
                stateful_step_count=25,
                deadline=None,
                # A fixed seed: the coverage check below must not depend on the draw.
                derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture],
            ),
        )
        counted = loop.run_until_complete(_counts(Money.sessions))
        # The machine really moved money along every path (not only refusals).
        assert counted["payments credited"] > 0 and counted["refunds"] > 0, counted
        assert counted["completed"] > 0 and counted["adjustments"] > 0, counted
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    """
                    SELECT (SELECT count(*) FROM payments WHERE credited_usd > 0),
                           (SELECT count(*) FROM transactions WHERE type = 'refund'),
                           (SELECT count(*) FROM withdrawal_requests WHERE status = 'completed'),
                           (SELECT count(*) FROM transactions WHERE type = 'adjustment')
                    """
                )
            )
        ).one()
    return dict(
        zip(("payments credited", "refunds", "completed", "adjustments"), row, strict=True)
    )
