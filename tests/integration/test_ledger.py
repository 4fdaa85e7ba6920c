"""The ledger against real PostgreSQL: invariants held by the database, races, idempotency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core import ledger
from core.db.models import Transaction, TxType, User
from core.errors import IdempotencyConflict, InsufficientFunds, InvalidAmount
from tests.support.db import (
    LEDGER_MARK,
    Db,
    ledger_balance,
    make_user,
    new_withdrawal,
    post_deposit,
)

D = Decimal
# Triggers off for the rest of one transaction (a superuser's power, which the bot's app role
# lacks): only tests that fake corruption use it.


async def credit(db: Db, user: User, amount: str, key: str) -> ledger.LedgerEntry:
    async with db.sessions.begin() as session:
        return await post_deposit(session, user.id, D(amount), key)


async def test_post_updates_balance_totals_and_history(db: Db, user: User) -> None:
    first = await credit(db, user, "25.50", f"dep-{user.id}-1")
    assert first.created and first.balance_after == D("25.50")
    async with db.sessions.begin() as session:
        debit = await ledger.post(
            session,
            user_id=user.id,
            type=TxType.FEE,
            amount=D("-0.50"),
            idempotency_key=f"fee-{user.id}",
            description="test fee",
            metadata={"why": "test"},
        )
    assert debit.balance_after == D("25.00")
    bal = await ledger_balance(db, user)
    assert (bal.balance, bal.total_deposited, bal.total_withdrawn) == (
        D("25.00"),
        D("25.50"),
        D("0.00"),
    )
    assert bal.last_transaction_at is not None
    async with db.sessions() as session:
        page = await ledger.history(session, user.id, limit=1)
        assert page.total == 2 and page.has_next and not page.has_previous
        assert page.entries[0].id == debit.id and page.entries[0].metadata == {"why": "test"}
        page2 = await ledger.history(session, user.id, offset=1, limit=1)
        assert page2.entries[0].id == first.id and not page2.has_next


async def test_insufficient_funds_is_typed_and_changes_nothing(db: Db, user: User) -> None:
    await credit(db, user, "5.00", f"dep-{user.id}")
    with pytest.raises(InsufficientFunds) as info:
        async with db.sessions.begin() as session:
            await ledger.post(
                session,
                user_id=user.id,
                type=TxType.WITHDRAWAL,
                amount=D("-5.01"),
                idempotency_key=f"wd-{user.id}",
            )
    assert info.value.params["balance"] == D("5.00")
    assert (await ledger_balance(db, user)).balance == D("5.00")
    async with db.sessions() as session:
        assert (await ledger.history(session, user.id)).total == 1


@pytest.mark.parametrize(
    ("tx_type", "amount", "reason"),
    [
        (TxType.DEPOSIT, "-1.00", "wrong_sign"),
        (TxType.WITHDRAWAL, "1.00", "wrong_sign"),
        (TxType.BONUS, "0.00", "zero"),
        (TxType.ADJUSTMENT, "0.001", "too_many_decimals"),
        (TxType.DEPOSIT, "NaN", "not_a_number"),
        (TxType.DEPOSIT, "Infinity", "not_a_number"),
    ],
)
async def test_bad_amounts_are_refused_before_sql(
    db: Db, user: User, tx_type: TxType, amount: str, reason: str
) -> None:
    with pytest.raises(InvalidAmount) as info:
        async with db.sessions.begin() as session:
            await ledger.post(
                session, user_id=user.id, type=tx_type, amount=D(amount), idempotency_key="k"
            )
    assert info.value.reason == reason


async def test_concurrent_debits_never_overdraw(db: Db) -> None:
    """200 racing debits of 1.37 against 100.00: exactly floor(100/1.37) = 72 succeed."""
    user = await make_user(db.sessions)
    await credit(db, user, "100.00", f"seed-{user.id}")

    async def debit(i: int) -> bool:
        try:
            async with db.sessions.begin() as session:
                await ledger.post(
                    session,
                    user_id=user.id,
                    type=TxType.PAYMENT,
                    amount=D("-1.37"),
                    idempotency_key=f"race-{user.id}-{i}",
                )
            return True
        except InsufficientFunds:
            return False

    results = await asyncio.gather(*(debit(i) for i in range(200)))
    assert sum(results) == 72
    assert (await ledger_balance(db, user)).balance == D("100.00") - 72 * D("1.37") == D("1.36")
    async with db.sessions() as session:
        mine = [m for m in await ledger.reconcile(session) if m.user_id == user.id]
    assert mine == []


async def test_concurrent_posts_of_one_key_make_one_row(db: Db) -> None:
    user = await make_user(db.sessions)
    key = f"once-{user.id}"
    entries = await asyncio.gather(*(credit(db, user, "10.00", key) for _ in range(50)))
    assert len({e.id for e in entries}) == 1
    assert sum(e.created for e in entries) == 1
    async with db.sessions() as session:
        count = await session.scalar(
            select(text("count(*)")).select_from(Transaction).where(Transaction.user_id == user.id)
        )
    assert count == 1
    assert (await ledger_balance(db, user)).balance == D("10.00")


async def until_waiting_for_locks(db: Db, count: int) -> None:
    """Until ``count`` backends of this database wait for a row lock."""
    for _ in range(500):
        async with db.sessions() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
        if waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {waiting} of {count} postings wait for the lock")


async def test_concurrent_debits_of_one_key_return_the_one_entry(db: Db) -> None:
    """A debit that empties the balance, posted 30 times at once under one key: the waiters
    must find the winner's entry, not report the balance it left as insufficient."""
    user = await make_user(db.sessions)
    await credit(db, user, "50.00", f"fund-{user.id}")
    key = f"debit-once-{user.id}"

    async def debit() -> ledger.LedgerEntry:
        async with db.sessions.begin() as session:
            return await ledger.post(
                session,
                user_id=user.id,
                type=TxType.ADJUSTMENT,
                amount=D("-50.00"),
                idempotency_key=key,
            )

    # The first posting holds the balance lock until the others have started and wait for it
    # (their statements' snapshots then predate its commit).
    async with db.sessions.begin() as first:
        winner = await ledger.post(
            first, user_id=user.id, type=TxType.ADJUSTMENT, amount=D("-50.00"), idempotency_key=key
        )
        waiting = [asyncio.create_task(debit()) for _ in range(30)]
        await until_waiting_for_locks(db, 30)
    entries = [winner, *await asyncio.gather(*waiting)]
    assert len({e.id for e in entries}) == 1 and sum(e.created for e in entries) == 1
    assert all(e.balance_after == D("0.00") for e in entries)
    assert (await ledger_balance(db, user)).balance == D("0.00")
    with pytest.raises(InsufficientFunds):  # a new key still finds no money
        async with db.sessions.begin() as session:
            await ledger.post(
                session,
                user_id=user.id,
                type=TxType.ADJUSTMENT,
                amount=D("-0.01"),
                idempotency_key=f"{key}-2",
            )


async def test_reused_key_with_other_terms_is_refused(db: Db, user: User) -> None:
    key = f"reuse-{user.id}"
    await credit(db, user, "10.00", key)
    with pytest.raises(IdempotencyConflict):
        await credit(db, user, "10.01", key)
    other = await make_user(db.sessions)
    with pytest.raises(IdempotencyConflict):
        await credit(db, other, "10.00", key)
    assert (await ledger_balance(db, user)).balance == D("10.00")
    assert (await ledger_balance(db, other)).balance == D("0.00")


async def test_same_key_racing_across_users_credits_only_one(db: Db) -> None:
    users = [await make_user(db.sessions) for _ in range(10)]
    key = f"cross-{users[0].id}"

    async def attempt(u: User) -> bool:
        try:
            await credit(db, u, "1.00", key)
            return True
        except IdempotencyConflict:
            return False

    assert sum(await asyncio.gather(*(attempt(u) for u in users))) == 1
    balances = [(await ledger_balance(db, u)).balance for u in users]
    assert sorted(balances) == [D("0.00")] * 9 + [D("1.00")]


async def test_transactions_are_immutable(db: Db, user: User) -> None:
    entry = await credit(db, user, "3.00", f"imm-{user.id}")
    statements = [
        "UPDATE transactions SET amount_usd = 300 WHERE id = :id",
        "DELETE FROM transactions WHERE id = :id",
        "TRUNCATE transactions CASCADE",
    ]
    for sql in statements:
        with pytest.raises(DBAPIError, match="immutable"):
            async with db.sessions.begin() as session:
                await session.execute(text(sql), {"id": entry.id})
    with pytest.raises(DBAPIError, match="immutable"):
        async with db.sessions.begin() as session:
            row = await session.get(Transaction, entry.id)
            assert row is not None
            row.description = "edited"
    with pytest.raises(DBAPIError, match="immutable"):
        async with db.sessions.begin() as session:
            row = await session.get(Transaction, entry.id)
            await session.delete(row)
    async with db.sessions() as session:
        row = await session.get(Transaction, entry.id)
        assert row is not None and row.amount_usd == D("3.00") and row.description is None


async def test_database_refuses_nan_negative_balance_and_broken_chain(db: Db, user: User) -> None:
    await credit(db, user, "2.00", f"inv-{user.id}")
    async with db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO currencies (code, name, token, network) VALUES"
                " ('BTC', 'Bitcoin', 'BTC', 'btc') ON CONFLICT DO NOTHING"
            )
        )
    # Each statement must fail on the named check, not on something incidental.
    bad = {
        "ck_user_balances_not_nan": "UPDATE user_balances SET balance_usd = 'NaN'"
        " WHERE user_id = :u",
        "ck_user_balances_balance_non_negative": "UPDATE user_balances SET balance_usd = -1"
        " WHERE user_id = :u",
        "ck_transactions_not_nan": "INSERT INTO transactions (user_id, type, amount_usd,"
        " balance_after, idempotency_key) VALUES (:u, 'adjustment', 'NaN', 2, 'nan-' || :k)",
        "ck_transactions_sign_by_type": "INSERT INTO transactions (user_id, type, amount_usd,"
        " balance_after, idempotency_key) VALUES (:u, 'bonus', -1, 1, 'neg-' || :k)",
        "ledger chain broken": "INSERT INTO transactions (user_id, type, amount_usd,"
        " balance_after, idempotency_key) VALUES (:u, 'bonus', 1, 50, 'chain-' || :k)",
        "ck_transactions_balance_after_non_negative": "INSERT INTO transactions (user_id, type,"
        " amount_usd, balance_after, idempotency_key) VALUES (:u, 'fee', -3, -1, 'od-' || :k)",
        "ck_payments_amount_usd": "INSERT INTO payments (internal_payment_id, user_id,"
        " amount_usd, currency_code) VALUES ('PAY_20260101000000_0000000a', :u, 'NaN', 'BTC')",
        "ck_withdrawal_requests_not_nan": "INSERT INTO withdrawal_requests"
        " (internal_withdrawal_id, user_id, amount_usd, currency_code, wallet_address,"
        " network_fee_usd, service_fee_usd, total_fee_usd, final_amount_usd) VALUES"
        " ('WD_20260101000000_0000000a', :u, 'NaN', 'BTC', 'x', 0, 0, 0, 'NaN')",
    }
    for expected, sql in bad.items():
        with pytest.raises((IntegrityError, DBAPIError), match=expected):
            async with db.sessions.begin() as session:
                if "user_balances" in sql:
                    await session.execute(LEDGER_MARK)  # past the guard, to reach the checks
                await session.execute(text(sql), {"u": user.id, "k": str(user.id)})
    assert (await ledger_balance(db, user)).balance == D("2.00")


async def test_user_balances_follow_the_ledger_only(db: Db) -> None:
    user = await make_user(db.sessions)
    await credit(db, user, "10.00", f"guard-{user.id}")
    other = await make_user(db.sessions)
    async with db.sessions.begin() as session:  # a completed withdrawal counts its debit
        withdrawal_id = await new_withdrawal(session, user.id, D("3.00"))
        await session.execute(
            text(
                "UPDATE withdrawal_requests SET status = 'completed', transaction_hash = 'h'"
                " WHERE id = :id"
            ),
            {"id": withdrawal_id},
        )
        await ledger.add_withdrawn_total(session, user.id, D("3.00"))
    refused = [
        ("UPDATE user_balances SET balance_usd = balance_usd + 5 WHERE user_id = :u", user.id),
        ("UPDATE user_balances SET total_deposited = 0 WHERE user_id = :u", user.id),
        ("UPDATE user_balances SET total_withdrawn = 0 WHERE user_id = :u", user.id),
        ("UPDATE user_balances SET total_withdrawn = 3.01 WHERE user_id = :u", user.id),
        ("DELETE FROM user_balances WHERE user_id = :u", user.id),
        ("INSERT INTO user_balances (user_id, balance_usd) VALUES (:u, 100)", other.id),
        ("TRUNCATE user_balances", None),
    ]
    for sql, target in refused:
        with pytest.raises(DBAPIError, match="user_balances follows the ledger"):
            async with db.sessions.begin() as session:
                await session.execute(text(sql), {"u": target})
    with pytest.raises(DBAPIError, match="user_balances follows the ledger"):
        async with db.sessions.begin() as session:  # the ledger's own mark ends with its write
            await ledger.post(
                session,
                user_id=user.id,
                type=TxType.BONUS,
                amount=D("1.00"),
                idempotency_key=f"guard-bonus-{user.id}",
            )
            await session.execute(
                text("UPDATE user_balances SET balance_usd = 99 WHERE user_id = :u"),
                {"u": user.id},
            )
    assert (await ledger_balance(db, user)).balance == D("10.00")
    assert (await ledger_balance(db, user)).total_withdrawn == D("3.00")
    async with db.sessions.begin() as session:  # a new balance row starts at zero
        await session.execute(
            text("INSERT INTO user_balances (user_id) VALUES (:u)"), {"u": other.id}
        )
    await credit(db, other, "1.00", f"guard-{other.id}")
    assert (await ledger_balance(db, other)).balance == D("1.00")


async def test_reconcile_reports_every_kind_of_corruption(fresh_db: Db) -> None:
    users = [await make_user(fresh_db.sessions) for _ in range(3)]
    for u in users:
        await credit(fresh_db, u, "10.00", f"rec-{u.id}")
    async with fresh_db.sessions() as session:
        assert await ledger.reconcile(session) == []
    async with fresh_db.sessions.begin() as session:
        await session.execute(LEDGER_MARK)  # corruption only a bypassed guard allows
        await session.execute(
            text("UPDATE user_balances SET balance_usd = balance_usd + 1 WHERE user_id = :u"),
            {"u": users[1].id},
        )
        await session.execute(
            text("UPDATE user_balances SET total_withdrawn = 4 WHERE user_id = :u"),
            {"u": users[2].id},
        )
    async with fresh_db.sessions() as session:
        found = await ledger.reconcile(session)
    assert {(m.user_id, m.kind, m.expected, m.actual) for m in found} == {
        (users[1].id, "cached_balance", D("10.00"), D("11.00")),
        (users[2].id, "total_withdrawn", D("0"), D("4.00")),
    }
    assert "cached_balance" in ledger.describe(found)


async def test_reconcile_finds_a_broken_chain(fresh_db: Db) -> None:
    """A chain can only break if someone disables the triggers; reconcile still sees it."""
    u = await make_user(fresh_db.sessions)
    await credit(fresh_db, u, "10.00", f"chain-{u.id}")
    async with fresh_db.sessions.begin() as session:
        await session.execute(text("ALTER TABLE transactions DISABLE TRIGGER transactions_apply"))
        await session.execute(
            text(
                "INSERT INTO transactions (user_id, type, amount_usd, balance_after,"
                " idempotency_key) VALUES (:u, 'bonus', 1, 20, 'forged')"
            ),
            {"u": u.id},
        )
        await session.execute(text("ALTER TABLE transactions ENABLE TRIGGER transactions_apply"))
    async with fresh_db.sessions() as session:
        kinds = {m.kind for m in await ledger.reconcile(session)}
    assert kinds == {"chain", "cached_balance"}


async def test_database_errors_from_post_are_sqlalchemy_errors(db: Db, user: User) -> None:
    await credit(db, user, "1.00", f"fk-{user.id}")  # the balance row exists
    with pytest.raises(IntegrityError, match="fk_transactions_payment_id_payments"):
        async with db.sessions.begin() as session:
            await ledger.post(
                session,
                user_id=user.id,
                type=TxType.BONUS,
                amount=D("1.00"),
                idempotency_key=f"fk2-{user.id}",
                payment_id=-1,  # no such payment: refused inside the posting statement
            )
    assert (await ledger_balance(db, user)).balance == D("1.00")
