"""Property: any sequence of postings keeps the ledger equal to a simple model of it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import ledger
from core.db.models import TxType
from core.errors import IdempotencyConflict, InsufficientFunds
from tests.support.db import Db, make_user, new_payment

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c).scaleb(-2))
operation = st.tuples(
    # Types that need no withdrawal behind them (a deposit gets its payment below).
    st.sampled_from([TxType.DEPOSIT, TxType.PAYMENT, TxType.FEE, TxType.BONUS]),
    cents,
    st.integers(min_value=0, max_value=5),  # small key space: repeats exercise idempotency
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=25))
async def test_ledger_matches_model(db: Db, ops: list[tuple[TxType, Decimal, int]]) -> None:
    user = await make_user(db.sessions)
    balance, deposited = Decimal("0.00"), Decimal("0.00")
    posted: dict[int, tuple[TxType, Decimal]] = {}
    for tx_type, magnitude, key_no in ops:
        amount = -magnitude if tx_type in (TxType.PAYMENT, TxType.FEE) else magnitude
        key = f"prop-{user.id}-{key_no}"
        try:
            async with db.sessions.begin() as session:
                payment_id = None
                if tx_type is TxType.DEPOSIT:
                    payment_id = await new_payment(session, user.id, amount)
                entry = await ledger.post(
                    session,
                    user_id=user.id,
                    type=tx_type,
                    amount=amount,
                    idempotency_key=key,
                    payment_id=payment_id,
                )
        except InsufficientFunds:
            assert key_no not in posted and balance + amount < 0
            continue
        except IdempotencyConflict:
            assert key_no in posted and posted[key_no] != (tx_type, amount)
            continue
        if key_no in posted:
            assert not entry.created and posted[key_no] == (tx_type, amount)
            continue
        assert entry.created
        posted[key_no] = (tx_type, amount)
        balance += amount
        deposited += amount if tx_type is TxType.DEPOSIT else 0
        assert entry.balance_after == balance >= 0
    async with db.sessions() as session:
        view = await ledger.get_balance(session, user.id)
        assert (view.balance, view.total_deposited) == (balance, deposited)
        assert [m for m in await ledger.reconcile(session) if m.user_id == user.id] == []
