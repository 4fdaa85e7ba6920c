"""core.admin and core.withdrawals.actions against real PostgreSQL: figures, user summaries,
balance adjustments, the withdrawal actions a card offers, currency switches and the reconcile
alert; a non-admin gets no proof from the gate, so none of them can be called in their name."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger
from core.admin import (
    PAYMENT_FILTERS,
    RECONCILE_ALERT_KIND,
    Adjustments,
    CurrencySwitch,
    DepositDesk,
    Lookups,
    StatsService,
    reconcile_and_alert,
)
from core.auth import AdminGate
from core.config import Settings
from core.db.models import TxType, User, WithdrawalStatus
from core.errors import (
    Forbidden,
    InsufficientFunds,
    InvalidAddress,
    InvalidAmount,
    InvalidTransition,
    NotFound,
)
from core.ids import new_payment_id
from core.withdrawals import (
    WithdrawalAction,
    WithdrawalActions,
    WithdrawalService,
    offered_actions,
    refund_key,
)
from tests.support.db import LEDGER_MARK, Db, balance, make_user, post_deposit
from tests.support.settings import make_settings

D = Decimal
S = WithdrawalStatus
A = WithdrawalAction
ADMIN = 700_100_001
OTHER_ADMIN = 700_100_002
STRANGER = 700_100_999
ADMIN_CHAT = -100_4242
SETTINGS = make_settings(admin_ids=[ADMIN, OTHER_ADMIN], admin_chat_id=ADMIN_CHAT)
TRX = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TX_HASH = "ab" * 32

CURRENCIES = text(
    """
    INSERT INTO currencies (code, name, token, network, needs_memo, is_active)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', false, true),
           ('USDTTRC20', 'Tether USD (TRC20)', 'USDT', 'trx', false, true)
    ON CONFLICT DO NOTHING
    """
)


as_admin = AdminGate(SETTINGS.telegram.admin_ids).authorize


@dataclass(frozen=True, slots=True)
class AdminTools:
    """The services the admin chat's handlers get (bot.services.build_services), by domain."""

    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    withdrawals: WithdrawalService
    actions: WithdrawalActions
    stats: StatsService
    lookups: Lookups
    adjustments: Adjustments
    currencies: CurrencySwitch
    deposits: DepositDesk


async def admin_service(db: Db) -> AdminTools:
    async with db.sessions.begin() as session:
        await session.execute(CURRENCIES)
    settings = SETTINGS
    withdrawals = WithdrawalService(db.sessions, settings)
    return AdminTools(
        db.sessions,
        settings,
        withdrawals,
        WithdrawalActions(db.sessions, settings, withdrawals),
        StatsService(db.sessions),
        Lookups(db.sessions),
        Adjustments(db.sessions),
        CurrencySwitch(db.sessions),
        DepositDesk(db.sessions, settings),
    )


async def deposit(db: Db, user: User, amount: str) -> None:
    """A finished, credited payment and its ledger credit."""
    async with db.sessions.begin() as session:
        await post_deposit(session, user.id, D(amount), f"test-deposit:{secrets.token_hex(6)}")


async def add_payment(
    db: Db, user: User, amount: str, status: str, *, credited: str | None = None, review=False
) -> None:
    async with db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code,"
                " status, credited_usd, needs_review)"
                " VALUES (:iid, :uid, :amount, 'BTC', :status, :credited, :review)"
            ),
            {
                "iid": new_payment_id(),
                "uid": user.id,
                "amount": D(amount),
                "status": status,
                "credited": None if credited is None else D(credited),
                "review": review,
            },
        )


async def entries(db: Db, user: User) -> list[tuple[str, Decimal]]:
    async with db.sessions() as session:
        rows = await session.execute(
            text("SELECT type, amount_usd FROM transactions WHERE user_id = :u ORDER BY id"),
            {"u": user.id},
        )
        return [(r[0], r[1]) for r in rows.all()]


async def alerts(db: Db) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.execute(
            text("SELECT chat_id, payload FROM notifications WHERE kind = :k ORDER BY id"),
            {"k": RECONCILE_ALERT_KIND},
        )
        return [{"chat_id": r[0], **r[1]} for r in rows.all()]


async def request(service: AdminTools, user: User, amount: str) -> int:
    view = await service.withdrawals.request(
        user_id=user.id, currency_code="USDTTRC20", amount=amount, address=TRX
    )
    return view.id


async def test_stats_totals_by_status_balances_and_reconcile(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    alice = await make_user(fresh_db.sessions, username="alice")
    bob = await make_user(fresh_db.sessions)
    await make_user(fresh_db.sessions)  # a user with no money at all
    await deposit(fresh_db, alice, "100.00")
    await deposit(fresh_db, bob, "40.50")
    await add_payment(fresh_db, bob, "25.00", "waiting")
    await add_payment(fresh_db, alice, "10.00", "partially_paid", review=True)
    pending = await request(service, alice, "20.00")
    approved = await request(service, alice, "15.00")
    rejected = await request(service, bob, "12.00")
    await service.actions.approve(approved, admin=as_admin(ADMIN))
    await service.actions.reject(
        rejected, admin=as_admin(ADMIN), reason="no", from_status=S.PENDING
    )
    assert pending

    stats = await service.stats.figures(admin=as_admin(ADMIN))
    assert stats.users == 3
    assert stats.balances == D("105.50")  # 100 - 20 - 15 + 40.50 (bob's 12 refunded)
    assert (stats.deposited, stats.withdrawn) == (D("140.50"), D("0.00"))
    assert stats.held == D("35.00")
    assert stats.credited == D("140.50")
    assert {s: (t.count, t.amount) for s, t in stats.payments.items()} == {
        "finished": (2, D("140.50")),
        "waiting": (1, D("25.00")),
        "partially_paid": (1, D("10.00")),
    }
    assert {s: (t.count, t.amount) for s, t in stats.withdrawals.items()} == {
        "pending": (1, D("20.00")),
        "approved": (1, D("15.00")),
        "rejected": (1, D("12.00")),
    }
    assert stats.mismatches == []

    with pytest.raises(Forbidden):
        await service.stats.figures(admin=as_admin(STRANGER))

    # a cached balance that disagrees with the ledger shows in /stats and raises one alert
    async with fresh_db.sessions.begin() as session:
        await session.execute(LEDGER_MARK)  # corruption only a bypassed guard allows
        await session.execute(
            text("UPDATE user_balances SET balance_usd = balance_usd + 1 WHERE user_id = :u"),
            {"u": bob.id},
        )
    stats = await service.stats.figures(admin=as_admin(ADMIN))
    assert [(m.user_id, m.kind) for m in stats.mismatches] == [(bob.id, "cached_balance")]
    found = await reconcile_and_alert(fresh_db.sessions, SETTINGS)
    assert len(found) == 1
    assert (
        len(await reconcile_and_alert(service.sessions, service.settings)) == 1
    )  # the same mismatches: no second alert
    sent = await alerts(fresh_db)
    assert len(sent) == 1
    assert sent[0]["chat_id"] == ADMIN_CHAT and sent[0]["count"] == 1 and sent[0]["users"] == 1
    assert f"user {bob.id}: cached_balance" in sent[0]["detail"]

    async with fresh_db.sessions.begin() as session:
        await session.execute(LEDGER_MARK)
        await session.execute(
            text("UPDATE user_balances SET balance_usd = balance_usd - 1 WHERE user_id = :u"),
            {"u": bob.id},
        )
    assert await reconcile_and_alert(fresh_db.sessions, SETTINGS) == []
    assert len(await alerts(fresh_db)) == 1


async def test_adjust_is_idempotent_per_confirmation(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    user = await make_user(fresh_db.sessions, username="Carol")
    await deposit(fresh_db, user, "30.00")

    plan = await service.adjustments.plan(
        "@carol", "-12.50", "  duplicate deposit ", admin=as_admin(ADMIN)
    )
    assert (plan.user.telegram_id, plan.kind, plan.amount) == (
        user.telegram_id,
        TxType.ADJUSTMENT,
        D("-12.50"),
    )
    assert (plan.balance, plan.balance_after, plan.reason) == (
        D("30.00"),
        D("17.50"),
        "duplicate deposit",
    )

    key = f"-100:{secrets.token_hex(4)}"
    first, second = await asyncio.gather(
        service.adjustments.post(
            user.telegram_id, plan.amount, plan.reason, admin=as_admin(ADMIN), key=key
        ),
        service.adjustments.post(
            user.telegram_id, plan.amount, plan.reason, admin=as_admin(OTHER_ADMIN), key=key
        ),
    )
    assert sorted([first.created, second.created]) == [False, True]
    assert first.entry.id == second.entry.id
    assert first.entry.balance_after == D("17.50")
    again = await service.adjustments.post(
        user.telegram_id, D("-12.50"), "duplicate deposit", admin=as_admin(ADMIN), key=key
    )
    assert not again.created
    assert await balance(fresh_db, user) == D("17.50")
    assert await entries(fresh_db, user) == [("deposit", D("30.00")), ("adjustment", D("-12.50"))]

    bonus = await service.adjustments.post(
        user.telegram_id,
        D("5.00"),
        "welcome",
        admin=as_admin(ADMIN),
        key=f"-100:{secrets.token_hex(4)}",
        kind=TxType.BONUS,
    )
    assert bonus.created and bonus.entry.type is TxType.BONUS
    assert await balance(fresh_db, user) == D("22.50")
    async with fresh_db.sessions() as session:
        assert await ledger.reconcile(session) == []


async def test_adjust_refusals_change_nothing(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    user = await make_user(fresh_db.sessions)
    await deposit(fresh_db, user, "10.00")
    tg = user.telegram_id

    def key() -> str:
        return secrets.token_hex(6)

    with pytest.raises(Forbidden):
        await service.adjustments.post(tg, D("50.00"), "gift", admin=as_admin(STRANGER), key=key())
    with pytest.raises(Forbidden):
        await service.adjustments.plan(str(tg), "50", "gift", admin=as_admin(STRANGER))
    with pytest.raises(InsufficientFunds) as refused:
        await service.adjustments.post(
            tg, D("-10.01"), "too much", admin=as_admin(ADMIN), key=key()
        )
    assert refused.value.params["balance"] == D("10.00")
    with pytest.raises(InsufficientFunds):
        await service.adjustments.plan(str(tg), "-10.01", "too much", admin=as_admin(ADMIN))
    with pytest.raises(InvalidTransition) as no_reason:
        await service.adjustments.post(tg, D("1.00"), "   ", admin=as_admin(ADMIN), key=key())
    assert no_reason.value.reason == "reason_required"
    with pytest.raises(InvalidAmount):
        await service.adjustments.plan(
            str(tg), "-5", "x", admin=as_admin(ADMIN), kind=TxType.BONUS
        )
    with pytest.raises(InvalidAmount):
        await service.adjustments.post(tg, D("1.005"), "x", admin=as_admin(ADMIN), key=key())
    for amount in ("0", "abc", "1e3", "NaN", "12.345"):
        with pytest.raises(InvalidAmount):
            await service.adjustments.plan(str(tg), amount, "x", admin=as_admin(ADMIN))
    with pytest.raises(NotFound):
        await service.adjustments.plan("@nobody_here", "1", "x", admin=as_admin(ADMIN))
    with pytest.raises(NotFound):
        await service.adjustments.post(
            999_999_999_999, D("1.00"), "x", admin=as_admin(ADMIN), key=key()
        )

    # the whole balance may go, not a cent more
    done = await service.adjustments.post(
        tg, D("-10.00"), "closing", admin=as_admin(ADMIN), key=key()
    )
    assert done.entry.balance_after == D("0.00")
    assert await entries(fresh_db, user) == [("deposit", D("10.00")), ("adjustment", D("-10.00"))]
    async with fresh_db.sessions() as session:
        assert await ledger.reconcile(session) == []


async def test_user_summary(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    user = await make_user(fresh_db.sessions, username="DaveX")
    await deposit(fresh_db, user, "50.00")
    await add_payment(fresh_db, user, "20.00", "expired")
    first = await request(service, user, "10.00")
    await request(service, user, "11.00")
    await service.actions.reject(
        first, admin=as_admin(ADMIN), reason="typo", from_status=S.PENDING
    )

    by_name = await service.lookups.user_summary("@davex", admin=as_admin(ADMIN))
    by_id = await service.lookups.user_summary(str(user.telegram_id), admin=as_admin(ADMIN))
    assert by_name == by_id
    summary = by_id
    assert (summary.user.id, summary.user.username, summary.user.first_name) == (
        user.id,
        "DaveX",
        "Test",
    )
    assert summary.balance.balance == D("39.00")  # 50 - 10 - 11 + 10 refunded
    assert summary.balance.total_deposited == D("50.00")
    assert summary.transactions == 4
    assert [e.type for e in summary.recent] == [
        TxType.REFUND,
        TxType.WITHDRAWAL,
        TxType.WITHDRAWAL,
        TxType.DEPOSIT,
    ]
    assert [w.amount for w in summary.withdrawals] == [D("11.00"), D("10.00")]  # newest first
    assert {s: t.count for s, t in summary.withdrawal_totals.items()} == {
        "pending": 1,
        "rejected": 1,
    }
    assert [p.status for p in summary.deposits] == ["expired", "finished"]
    assert summary.deposit_totals["finished"].amount == D("50.00")

    with pytest.raises(NotFound):
        await service.lookups.user_summary("@nobody_here", admin=as_admin(ADMIN))
    with pytest.raises(Forbidden):
        await service.lookups.user_summary("@davex", admin=as_admin(STRANGER))


async def test_recent_payments_by_filter(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    user = await make_user(fresh_db.sessions)
    await add_payment(fresh_db, user, "10.00", "finished", credited="10.00")
    await add_payment(fresh_db, user, "11.00", "waiting")
    await add_payment(fresh_db, user, "12.00", "partially_paid", review=True)
    everything = await service.deposits.recent(admin=as_admin(ADMIN))
    assert [p.amount_usd for p in everything] == [D("12.00"), D("11.00"), D("10.00")]
    waiting = await service.deposits.recent("Waiting", admin=as_admin(ADMIN))
    assert [p.status for p in waiting] == ["waiting"]
    review = await service.deposits.recent("review", admin=as_admin(ADMIN))
    assert [p.amount_usd for p in review] == [D("12.00")]
    assert "review" in PAYMENT_FILTERS and "finished" in PAYMENT_FILTERS
    with pytest.raises(NotFound):
        await service.deposits.recent("nonsense", admin=as_admin(ADMIN))
    with pytest.raises(Forbidden):
        await service.deposits.recent(admin=as_admin(STRANGER))


async def test_card_actions_and_completion(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    user = await make_user(fresh_db.sessions)
    await deposit(fresh_db, user, "100.00")
    wid = await request(service, user, "30.00")
    assert offered_actions(S.PENDING) == (A.APPROVE, A.REJECT)
    assert offered_actions(S.COMPLETED) == ()

    # a prompt is offered only where the move is possible
    view = await service.actions.check(wid, A.REJECT, admin=as_admin(ADMIN))
    assert view.status is S.PENDING
    with pytest.raises(InvalidTransition) as refused:
        await service.actions.check(wid, A.COMPLETE, admin=as_admin(ADMIN))
    assert refused.value.params["status"] == "pending"
    with pytest.raises(Forbidden):
        await service.actions.check(wid, A.REJECT, admin=as_admin(STRANGER))
    with pytest.raises(NotFound):
        await service.actions.check(10**12, A.REJECT, admin=as_admin(ADMIN))
    with pytest.raises(InvalidTransition):
        await service.actions.complete(wid, admin=as_admin(ADMIN), tx_hash=TX_HASH)

    await service.actions.approve(wid, admin=as_admin(ADMIN))
    # a bad hash on an approved one changes nothing (not even processing)
    with pytest.raises(InvalidAddress):
        await service.actions.complete(wid, admin=as_admin(OTHER_ADMIN), tx_hash="0xnothex")
    assert (await service.withdrawals.get(wid)).status is S.APPROVED
    done = await service.actions.complete(
        wid, admin=as_admin(OTHER_ADMIN), tx_hash=TX_HASH.upper()
    )
    assert done.status is S.COMPLETED and done.transaction_hash == TX_HASH
    assert (done.processing_by, done.completed_by, done.approved_by) == (
        OTHER_ADMIN,
        OTHER_ADMIN,
        ADMIN,
    )
    with pytest.raises(InvalidTransition) as late:
        await service.actions.check(wid, A.REJECT, admin=as_admin(ADMIN))
    assert (late.value.params["status"], late.value.params["decided_by"]) == (
        "completed",
        OTHER_ADMIN,
    )
    async with fresh_db.sessions() as session:
        assert (await ledger.get_balance(session, user.id)).total_withdrawn == D("30.00")
        assert await ledger.reconcile(session) == []

    # reject narrowed to what the admin saw: approved meanwhile, so the reject is refused
    other = await request(service, user, "20.00")
    await service.actions.approve(other, admin=as_admin(OTHER_ADMIN))
    with pytest.raises(InvalidTransition):
        await service.actions.reject(
            other, admin=as_admin(ADMIN), reason="x", from_status=S.PENDING
        )
    rejected = await service.actions.reject(
        other, admin=as_admin(ADMIN), reason="x", from_status=S.APPROVED
    )
    assert rejected.status is S.REJECTED
    async with fresh_db.sessions() as session:
        keys = await session.execute(
            text("SELECT count(*) FROM transactions WHERE idempotency_key = :k"),
            {"k": refund_key(other)},
        )
        assert keys.scalar_one() == 1
    pending = await service.actions.pending(admin=as_admin(ADMIN))
    assert pending == []


async def test_currency_switch_needs_an_admin(fresh_db: Db) -> None:
    service = await admin_service(fresh_db)
    with pytest.raises(Forbidden):
        await service.currencies.set_active("BTC", False, admin=as_admin(STRANGER))
    with pytest.raises(Forbidden):
        await service.currencies.list_all(admin=as_admin(STRANGER))
    off = await service.currencies.set_active("btc", False, admin=as_admin(ADMIN))
    assert (off.code, off.is_active, off.disabled_by_admin) == ("BTC", False, True)
    coins = {c.code: c.is_active for c in await service.currencies.list_all(admin=as_admin(ADMIN))}
    assert coins == {"BTC": False, "USDTTRC20": True}
    with pytest.raises(NotFound):
        await service.currencies.set_active("NOPE", True, admin=as_admin(ADMIN))
