"""Withdrawal races, each over separate sessions with asyncio.gather: the balance, the limits and
the decisions hold however the calls interleave."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import text

from core import ledger
from core.db.models import WithdrawalStatus
from core.errors import InsufficientFunds, InvalidTransition, LimitExceeded, PaybotError
from core.withdrawals import WithdrawalService, WithdrawalView
from tests.support.db import Db, ledger_balance
from tests.support.withdrawals import (
    ADMIN_A,
    ADMIN_B,
    BTC,
    TRX,
    as_admin,
    funded_user,
    ledger_rows,
    service,
)

D = Decimal
S = WithdrawalStatus
T = TypeVar("T")


async def outcome(call: Callable[[], Awaitable[T]]) -> T | PaybotError:
    """The result, or the domain error: anything else fails the test."""
    try:
        return await call()
    except PaybotError as exc:
        return exc


async def count(db: Db, sql: str, **params: Any) -> int:
    async with db.sessions() as session:
        return int((await session.execute(text(sql), params)).scalar_one())


async def test_300_concurrent_requests_never_overdraw(fresh_db: Db) -> None:
    wd = await service(
        fresh_db, max_pending_withdrawals=1000, daily_withdrawal_cap_usd=D("1000000.00")
    )
    user = await funded_user(fresh_db, "1000.00")

    def request() -> Awaitable[WithdrawalView]:
        return wd.request(user_id=user.id, currency_code="USDTTRC20", amount="13.37", address=TRX)

    results = await asyncio.gather(*(outcome(request) for _ in range(300)))
    won = [r for r in results if isinstance(r, WithdrawalView)]
    lost = [r for r in results if not isinstance(r, WithdrawalView)]
    affordable = int(D("1000.00") // D("13.37"))
    assert len(won) == affordable == 74
    assert all(isinstance(e, InsufficientFunds) for e in lost)
    assert (
        (await ledger_balance(fresh_db, user)).balance
        == D("1000.00") - 74 * D("13.37")
        == D("10.62")
    )
    async with fresh_db.sessions() as session:
        assert await ledger.reconcile(session) == []
    assert await count(fresh_db, "SELECT count(*) FROM withdrawal_requests") == 74
    assert (
        await count(fresh_db, "SELECT count(*) FROM transactions WHERE type = 'withdrawal'") == 74
    )
    assert await count(fresh_db, "SELECT count(*) FROM notifications") == 74


async def race_admins(db: Db, wd: WithdrawalService, approve_first: bool) -> None:
    user = await funded_user(db, "100.00")
    w = await wd.request(user_id=user.id, currency_code="BTC", amount="40", address=BTC)

    def approve(admin: int) -> Callable[[], Awaitable[WithdrawalView]]:
        return lambda: wd.approve(w.id, admin=as_admin(admin))

    def reject(admin: int) -> Callable[[], Awaitable[WithdrawalView]]:
        # the card showed "pending": a reject must not land on an approval it never saw
        return lambda: wd.reject(w.id, admin=as_admin(admin), reason="no", from_status=S.PENDING)

    first, second = (approve, reject) if approve_first else (reject, approve)
    calls = [(first if i % 2 else second)(ADMIN_A if i % 4 < 2 else ADMIN_B) for i in range(20)]
    results = await asyncio.gather(*(outcome(c) for c in calls))
    won = [r for r in results if isinstance(r, WithdrawalView)]
    assert len(won) == 1
    winner = won[0]
    losers = [r for r in results if not isinstance(r, WithdrawalView)]
    assert len(losers) == 19
    for loser in losers:
        assert isinstance(loser, InvalidTransition) and loser.reason == "not_allowed"
        assert loser.params["status"] == winner.status.value
        assert loser.params["decided_by"] == winner.decided_by
        assert loser.params["decided_at"] == winner.decided_at
    assert (await wd.get(w.id)).status is winner.status
    refunds = [r for r in await ledger_rows(db, user) if r[0] == "refund"]
    rejected = winner.status is S.REJECTED
    assert len(refunds) == (1 if rejected else 0)
    assert (await ledger_balance(db, user)).balance == (D("100.00") if rejected else D("60.00"))
    pushes = await count(
        db,
        "SELECT count(*) FROM notifications WHERE dedup_key LIKE :p",
        p=f"withdrawal:{w.id}:%:user",
    )
    assert pushes == 1


async def test_racing_admins_make_exactly_one_decision(db: Db) -> None:
    """20 admins press approve / reject at once: one decision, the others learn whose."""
    wd = await service(db)
    await race_admins(db, wd, approve_first=True)
    await race_admins(db, wd, approve_first=False)


async def test_repeated_reject_and_cancel_refund_exactly_once(db: Db) -> None:
    wd = await service(db)
    user = await funded_user(db, "90.00")
    ws = [
        await wd.request(user_id=user.id, currency_code="BTC", amount="30", address=BTC)
        for _ in range(3)
    ]
    assert (await ledger_balance(db, user)).balance == D("0.00")

    def reject(w: WithdrawalView, admin: int) -> Callable[[], Awaitable[WithdrawalView]]:
        return lambda: wd.reject(w.id, admin=as_admin(admin), reason="dup")

    def cancel(w: WithdrawalView) -> Callable[[], Awaitable[WithdrawalView]]:
        return lambda: wd.cancel(w.id, user_id=user.id)

    calls = (
        [reject(ws[0], ADMIN_A if i % 2 else ADMIN_B) for i in range(10)]
        + [cancel(ws[1]) for _ in range(10)]
        + [reject(ws[2], ADMIN_A) if i % 2 else cancel(ws[2]) for i in range(10)]
    )
    results = await asyncio.gather(*(outcome(c) for c in calls))
    winners = Counter(r.id for r in results if isinstance(r, WithdrawalView))
    assert winners == {w.id: 1 for w in ws}
    assert all(
        isinstance(r, InvalidTransition) for r in results if not isinstance(r, WithdrawalView)
    )
    refunds = Counter(r[3] for r in await ledger_rows(db, user) if r[0] == "refund")
    assert refunds == {w.id: 1 for w in ws}
    bal = await ledger_balance(db, user)
    assert (bal.balance, bal.total_withdrawn) == (D("90.00"), D("0.00"))
    async with db.sessions() as session:
        assert [m for m in await ledger.reconcile(session) if m.user_id == user.id] == []


async def test_pending_count_limit_holds_under_concurrency(db: Db) -> None:
    wd = await service(db, max_pending_withdrawals=3)
    user = await funded_user(db, "1000.00")
    results = await asyncio.gather(
        *(
            outcome(
                lambda: wd.request(user_id=user.id, currency_code="BTC", amount="10", address=BTC)
            )
            for _ in range(20)
        )
    )
    won = [r for r in results if isinstance(r, WithdrawalView)]
    assert len(won) == 3
    lost = [r for r in results if not isinstance(r, WithdrawalView)]
    assert all(isinstance(e, LimitExceeded) and e.reason == "too_many_pending" for e in lost)
    assert all(e.params == {"limit": 3, "open": 3} for e in lost)
    assert (await ledger_balance(db, user)).balance == D("970.00")
    # approved and processing still count as open; a cancelled one frees its slot
    await wd.approve(won[0].id, admin=as_admin(ADMIN_A))
    await wd.start_processing(won[0].id, admin=as_admin(ADMIN_A))
    await wd.cancel(won[1].id, user_id=user.id)
    await wd.request(user_id=user.id, currency_code="BTC", amount="10", address=BTC)
    extra = await outcome(
        lambda: wd.request(user_id=user.id, currency_code="BTC", amount="10", address=BTC)
    )
    assert isinstance(extra, LimitExceeded) and extra.reason == "too_many_pending"


async def test_daily_cap_holds_under_concurrency(db: Db) -> None:
    wd = await service(db, max_pending_withdrawals=100, daily_withdrawal_cap_usd=D("100.00"))
    user = await funded_user(db, "1000.00")
    results = await asyncio.gather(
        *(
            outcome(
                lambda: wd.request(user_id=user.id, currency_code="BTC", amount="30", address=BTC)
            )
            for _ in range(20)
        )
    )
    won = [r for r in results if isinstance(r, WithdrawalView)]
    assert len(won) == 3
    lost = [r for r in results if not isinstance(r, WithdrawalView)]
    assert all(isinstance(e, LimitExceeded) and e.reason == "daily_cap" for e in lost)
    assert all(e.params["remaining"] == D("10.00") for e in lost)
    assert (await ledger_balance(db, user)).balance == D("910.00")
    # a cancelled request gives its amount back to the day; the cap still binds after that
    await wd.cancel(won[0].id, user_id=user.id)
    await wd.request(user_id=user.id, currency_code="BTC", amount="30", address=BTC)
    over = await outcome(
        lambda: wd.request(user_id=user.id, currency_code="BTC", amount="10.01", address=BTC)
    )
    assert isinstance(over, LimitExceeded) and over.reason == "daily_cap"
    await wd.request(user_id=user.id, currency_code="BTC", amount="10", address=BTC)


async def test_double_tap_with_one_request_key_holds_once(db: Db) -> None:
    wd = await service(db)
    user = await funded_user(db, "100.00")

    def tap() -> Awaitable[WithdrawalView]:
        return wd.request(
            user_id=user.id,
            currency_code="BTC",
            amount="30",
            address=BTC,
            request_key="confirm-msg-77",
        )

    results = await asyncio.gather(*(outcome(tap) for _ in range(10)))
    assert all(isinstance(r, WithdrawalView) for r in results)
    assert len({r.id for r in results if isinstance(r, WithdrawalView)}) == 1
    assert (await ledger_balance(db, user)).balance == D("70.00")
    repeat = await outcome(
        lambda: wd.request(
            user_id=user.id,
            currency_code="BTC",
            amount="31",
            address=BTC,
            request_key="confirm-msg-77",
        )
    )
    assert isinstance(repeat, PaybotError) and repeat.code == "idempotency_conflict"
    assert (await ledger_balance(db, user)).balance == D("70.00")
    assert [r[0] for r in await ledger_rows(db, user)].count("withdrawal") == 1
