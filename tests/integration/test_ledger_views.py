"""core.ledger_views against real PostgreSQL: the admins' transactions pages (filters, keyset
paging both ways, counts) and the export of a period (bounds, batches, the row limit, a user's
own rows only); and the adjustment push queued with the posting."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from core import ledger
from core.admin import Adjustments
from core.admin.notify import KIND as ADJUSTED
from core.auth import AdminGate
from core.db.models import TxType, User
from core.errors import Forbidden, NotFound
from core.ledger_views import (
    EXPORT_MAX_DAYS,
    ExportTooLarge,
    LedgerReports,
    Period,
    PeriodError,
    TransactionFilter,
)
from tests.support.db import Db, make_user, new_withdrawal, post_deposit

D = Decimal
ADMIN = 424_242
STRANGER = 434_343
TODAY = date(2026, 12, 3)
AS_ADMIN = AdminGate([ADMIN]).authorize(ADMIN)


def reports(db: Db) -> LedgerReports:
    return LedgerReports(db.sessions)


async def deposit(db: Db, user: User, amount: str) -> ledger.LedgerEntry:
    async with db.sessions.begin() as session:
        return await post_deposit(session, user.id, D(amount), f"lv:{secrets.token_hex(6)}")


async def post(db: Db, user: User, kind: TxType, amount: str, reason: str | None = None) -> int:
    async with db.sessions.begin() as session:
        entry = await ledger.post(
            session,
            user_id=user.id,
            type=kind,
            amount=D(amount),
            idempotency_key=f"lv:{secrets.token_hex(6)}",
            description=reason,
        )
    return entry.id


async def backdate(db: Db, transaction_id: int, moment: datetime) -> None:
    """The ledger refuses updates (a trigger); this test database lets one through to place a
    row in the past."""
    async with db.sessions.begin() as session:
        await session.execute(
            text("ALTER TABLE transactions DISABLE TRIGGER transactions_immutable")
        )
        await session.execute(
            text("UPDATE transactions SET created_at = :at WHERE id = :id"),
            {"at": moment, "id": transaction_id},
        )
        await session.execute(
            text("ALTER TABLE transactions ENABLE TRIGGER transactions_immutable")
        )


async def test_pages_walk_back_and_forth_with_filters(fresh_db: Db) -> None:
    alice = await make_user(fresh_db.sessions, username="alice_lv")
    bob = await make_user(fresh_db.sessions)
    await deposit(fresh_db, alice, "100.00")
    await deposit(fresh_db, bob, "50.00")
    ids = [await post(fresh_db, alice, TxType.BONUS, f"{i}.00", f"bonus {i}") for i in range(1, 8)]
    view = reports(fresh_db)

    everything = await view.transactions(TransactionFilter(), admin=AS_ADMIN, limit=4)
    assert everything.total == 9 and everything.newer == 0 and everything.older == 5
    assert [r.id for r in everything.rows] == ids[::-1][:4]

    wanted = TransactionFilter(telegram_id=alice.telegram_id, type=TxType.BONUS)
    first = await view.transactions(wanted, admin=AS_ADMIN, limit=3)
    assert [r.id for r in first.rows] == [ids[6], ids[5], ids[4]]
    assert (first.total, first.newer, first.older, first.first_position) == (7, 0, 4, 1)
    second = await view.transactions(wanted, admin=AS_ADMIN, before=first.rows[-1].id, limit=3)
    assert [r.id for r in second.rows] == [ids[3], ids[2], ids[1]]
    assert (second.newer, second.older, second.first_position) == (3, 1, 4)
    last = await view.transactions(wanted, admin=AS_ADMIN, before=second.rows[-1].id, limit=3)
    assert [r.id for r in last.rows] == [ids[0]] and last.older == 0
    back = await view.transactions(wanted, admin=AS_ADMIN, after=last.rows[0].id, limit=3)
    assert back.rows == second.rows
    row = first.rows[0]
    assert (row.telegram_id, row.username, row.type, row.amount, row.reason) == (
        alice.telegram_id,
        "alice_lv",
        TxType.BONUS,
        D("7.00"),
        "bonus 7",
    )
    assert row.balance_after == D("128.00")

    deposits = await view.transactions(TransactionFilter(type=TxType.DEPOSIT), admin=AS_ADMIN)
    assert {r.telegram_id for r in deposits.rows} == {alice.telegram_id, bob.telegram_id}
    assert all(r.reference and r.reference.startswith("PAY_") for r in deposits.rows)
    future = await view.transactions(
        TransactionFilter(since=datetime.now(UTC).date() + timedelta(days=1)), admin=AS_ADMIN
    )
    assert (future.rows, future.total) == ([], 0)
    beyond = await view.transactions(TransactionFilter(), admin=AS_ADMIN, before=1)
    assert beyond.rows == []


async def test_admin_only_and_user_lookup(fresh_db: Db) -> None:
    view = reports(fresh_db)
    carol = await make_user(fresh_db.sessions, username="Carol_LV")
    with pytest.raises(Forbidden):  # no proof for a stranger, so no admin view either
        AdminGate([ADMIN]).authorize(STRANGER)
    assert await view.user_telegram_id("@carol_lv", admin=AS_ADMIN) == carol.telegram_id
    assert await view.user_telegram_id(str(carol.telegram_id), admin=AS_ADMIN) == (
        carol.telegram_id
    )
    with pytest.raises(NotFound):
        await view.user_telegram_id("@nobody_here", admin=AS_ADMIN)


def test_period_defaults_and_bounds() -> None:
    assert Period.of(None, None, today=TODAY) == Period(date(2026, 11, 4), TODAY)
    assert Period.of(date(2026, 1, 1), None, today=TODAY).until == TODAY
    one = Period.of(date(2026, 1, 31), date(2026, 1, 31), today=TODAY)
    assert (one.start, one.end) == (
        datetime(2026, 1, 31, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    )
    with pytest.raises(PeriodError) as order:
        Period.of(date(2026, 2, 1), date(2026, 1, 31), today=TODAY)
    assert order.value.reason == "order"
    longest = Period.of(TODAY - timedelta(days=EXPORT_MAX_DAYS - 1), TODAY, today=TODAY)
    assert (longest.until - longest.since).days + 1 == EXPORT_MAX_DAYS
    with pytest.raises(PeriodError) as long:
        Period.of(TODAY - timedelta(days=EXPORT_MAX_DAYS), TODAY, today=TODAY)
    assert long.value.reason == "too_long"


async def test_export_takes_the_period_in_batches_and_own_rows_only(fresh_db: Db) -> None:
    dana = await make_user(fresh_db.sessions)
    eve = await make_user(fresh_db.sessions)
    await deposit(fresh_db, dana, "40.00")
    inside = [await post(fresh_db, dana, TxType.ADJUSTMENT, "-1.00", f"fix {i}") for i in range(5)]
    await deposit(fresh_db, eve, "10.00")
    before = await post(fresh_db, dana, TxType.BONUS, "2.00", "early")
    after = await post(fresh_db, dana, TxType.BONUS, "3.00", "late")
    # The period is 2026-01-10 .. 2026-01-20 (UTC days, both included).
    await backdate(fresh_db, before, datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=UTC))
    await backdate(fresh_db, after, datetime(2026, 1, 21, tzinfo=UTC))
    await backdate(fresh_db, inside[0], datetime(2026, 1, 10, tzinfo=UTC))
    await backdate(fresh_db, inside[-1], datetime(2026, 1, 20, 23, 59, 59, tzinfo=UTC))
    for tx in inside[1:-1]:
        await backdate(fresh_db, tx, datetime(2026, 1, 15, 12, tzinfo=UTC))
    period = Period(date(2026, 1, 10), date(2026, 1, 20))
    view = reports(fresh_db)

    async with view.export_all(period, admin=AS_ADMIN) as export:
        assert export.rows == 5
        batches = [batch async for batch in export.batches(batch=2)]
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [r.id for b in batches for r in b] == inside
    assert [r.reason for b in batches for r in b] == [f"fix {i}" for i in range(5)]

    async with view.export_own(period, user_id=eve.id) as export:
        assert export.rows == 0
        assert [b async for b in export.batches()] == []
    async with view.export_own(
        Period.of(None, None, today=datetime.now(UTC).date()), user_id=eve.id
    ) as own:
        rows = [r for b in [b async for b in own.batches()] for r in b]
    assert [r.telegram_id for r in rows] == [eve.telegram_id]

    with pytest.raises(ExportTooLarge) as big:
        async with view.export_all(period, admin=AS_ADMIN, max_rows=4):
            pass
    assert (big.value.rows, big.value.limit) == (5, 4)


async def test_withdrawal_rows_name_the_withdrawal(fresh_db: Db) -> None:
    frank = await make_user(fresh_db.sessions)
    await deposit(fresh_db, frank, "30.00")
    async with fresh_db.sessions.begin() as session:
        withdrawal_id = await new_withdrawal(session, frank.id, D("10.00"))
        await ledger.post(
            session,
            user_id=frank.id,
            type=TxType.WITHDRAWAL,
            amount=D("-10.00"),
            idempotency_key=f"lv:{secrets.token_hex(6)}",
            withdrawal_id=withdrawal_id,
        )
    page = await reports(fresh_db).transactions(
        TransactionFilter(telegram_id=frank.telegram_id, type=TxType.WITHDRAWAL),
        admin=AS_ADMIN,
    )
    assert len(page.rows) == 1 and (page.rows[0].reference or "").startswith("WD_")
    assert page.rows[0].amount == D("-10.00")


async def test_adjustment_queues_the_push_in_its_transaction(fresh_db: Db) -> None:
    service = Adjustments(fresh_db.sessions)
    gina = await make_user(fresh_db.sessions)
    await deposit(fresh_db, gina, "20.00")
    key = secrets.token_hex(4)
    done = await service.post(
        gina.telegram_id, D("-5.00"), " wrong <b>credit</b> ", admin=AS_ADMIN, key=key
    )
    again = await service.post(
        gina.telegram_id, D("-5.00"), "wrong <b>credit</b>", admin=AS_ADMIN, key=key
    )
    assert again.created is False
    await service.post(
        gina.telegram_id,
        D("2.50"),
        "sorry",
        admin=AS_ADMIN,
        key=key + "b",
        kind=TxType.BONUS,
    )
    async with fresh_db.sessions() as session:
        rows = (
            await session.execute(
                text("SELECT chat_id, payload FROM notifications WHERE kind = :kind ORDER BY id"),
                {"kind": ADJUSTED},
            )
        ).all()
    assert [r.chat_id for r in rows] == [gina.telegram_id, gina.telegram_id]  # once per posting
    assert rows[0].payload == {
        "transaction_id": done.entry.id,
        "type": "adjustment",
        "amount_usd": "-5.00",
        "balance_usd": "15.00",
        "reason": "wrong <b>credit</b>",
    }
    assert rows[1].payload["type"] == "bonus" and rows[1].payload["balance_usd"] == "17.50"
