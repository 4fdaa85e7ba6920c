"""The invariant checker (core.invariants) can fail: a database built by the real services
passes, and each invariant broken on purpose (as the superuser, triggers off) is reported
exactly, with its ids, and nothing else is."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text

from core.auth import AdminGate
from core.config import Settings
from core.db.models import User
from core.deposits import review as deposit_review
from core.deposits.settlement import SettlePolicy, settle
from core.invariants import Violation, check_database
from core.withdrawals import WithdrawalService
from tests.support.db import Db, DbServer, clone, make_user
from tests.support.invariants import assert_invariants, violations
from tests.support.money import ADDRESSES, TX_HASHES, add_currencies, reply, waiting_payment
from tests.support.process import child_env
from tests.support.settings import make_settings

D = Decimal
ADMIN = 700_100_001
ADMIN_CHAT = -100_700_100
as_admin = AdminGate([ADMIN]).authorize
ROOT = Path(__file__).resolve().parents[2]


def settings(**payments: Any) -> Settings:
    return make_settings(admin_ids=[ADMIN], admin_chat_id=ADMIN_CHAT, **payments)


@dataclass(frozen=True)
class World:
    db: Db
    alice: User
    bob: User
    finished: int  # alice's deposit, credited in full
    expired: int  # alice's, never paid
    reviewed: int  # bob's partial payment, held, then credited by an admin
    pending: int  # alice's withdrawals by end state
    completed: int
    rejected: int
    cancelled: int


async def build_world(db: Db) -> World:
    """Every money path once, through the services."""
    await add_currencies(db.sessions)
    alice, bob = await make_user(db.sessions), await make_user(db.sessions)
    credit = SettlePolicy.from_settings(settings())
    hold = SettlePolicy.from_settings(settings(partial_payment_policy="hold"))

    pay = D("0.001")
    finished = await waiting_payment(db.sessions, alice.id, D("50.00"), pay, "9100001")
    await settle(db.sessions, finished, reply("9100001", "confirming", pay_amount=pay), credit)
    done = reply("9100001", "finished", pay_amount=pay, actually_paid=pay)
    await settle(db.sessions, finished, done, credit)

    expired = await waiting_payment(db.sessions, alice.id, D("20.00"), pay, "9100002")
    await settle(db.sessions, expired, reply("9100002", "expired", pay_amount=pay), credit)

    reviewed = await waiting_payment(db.sessions, bob.id, D("30.00"), pay, "9100003")
    half = reply("9100003", "partially_paid", pay_amount=pay, actually_paid=pay / 2)
    await settle(db.sessions, reviewed, half, hold)
    await deposit_review.decide(
        db.sessions,
        settings(),
        reviewed,
        deposit_review.ReviewDecision.CREDIT,
        admin_telegram_id=ADMIN,
    )

    service = WithdrawalService(db.sessions, settings())

    async def request() -> int:
        view = await service.request(
            user_id=alice.id, currency_code="BTC", amount="10.00", address=ADDRESSES["BTC"]
        )
        return view.id

    pending, completed, rejected, cancelled = [await request() for _ in range(4)]
    await service.approve(completed, admin=as_admin(ADMIN))
    await service.start_processing(completed, admin=as_admin(ADMIN))
    await service.complete(completed, admin=as_admin(ADMIN), tx_hash=TX_HASHES["BTC"])
    await service.reject(rejected, admin=as_admin(ADMIN), reason="wrong network")
    await service.cancel(cancelled, user_id=alice.id)
    return World(
        db, alice, bob, finished, expired, reviewed, pending, completed, rejected, cancelled
    )


@pytest.fixture(scope="module")
async def world_template(db_server: DbServer, template_db: str) -> World:
    """Built once; each test gets a clone to break (a template must have no connections)."""
    db = await clone(db_server, template_db)
    built = await build_world(db)
    await db.engine.dispose()
    return built


@pytest.fixture
async def world(db_server: DbServer, world_template: World) -> AsyncIterator[World]:
    name = make_url(world_template.db.url).database
    assert name is not None
    db = await clone(db_server, name)
    yield replace(world_template, db=db)
    await db.engine.dispose()


_LEDGER_GUARDS = (
    "DROP INDEX IF EXISTS uq_transactions_deposit_payment",
    "DROP INDEX IF EXISTS uq_transactions_withdrawal_hold",
    "DROP INDEX IF EXISTS uq_transactions_withdrawal_refund",
    "ALTER TABLE transactions DROP CONSTRAINT IF EXISTS ck_transactions_deposit_has_payment",
    "ALTER TABLE transactions"
    " DROP CONSTRAINT IF EXISTS ck_transactions_hold_refund_has_withdrawal",
)


async def as_superuser(db: Db, *statements: tuple[str, dict[str, Any]]) -> None:
    """Write past the triggers (append-only ledger, balance guard, chain) and the ledger's
    unique and CHECK constraints (migration 0004), as a corruption would, in one transaction."""
    async with db.sessions.begin() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        for guard in _LEDGER_GUARDS:
            await session.execute(text(guard))
        for sql, params in statements:
            await session.execute(text(sql), params)


def post_raw(
    user_id: int,
    kind: str,
    amount: Decimal,
    key: str,
    *,
    payment_id: int | None = None,
    withdrawal_id: int | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """A ledger row that continues the chain, and the cached balance moved to match: only the
    invariant under test is broken, not the ledger's arithmetic."""
    params = {
        "u": user_id,
        "t": kind,
        "a": amount,
        "k": key,
        "p": payment_id,
        "w": withdrawal_id,
    }
    return [
        (
            "INSERT INTO transactions (user_id, type, amount_usd, balance_after, payment_id,"
            " withdrawal_id, idempotency_key)"
            " SELECT :u, :t, :a, balance_usd + :a, :p, :w, :k"
            " FROM user_balances WHERE user_id = :u",
            params,
        ),
        (
            "UPDATE user_balances SET balance_usd = balance_usd + :a,"
            " total_deposited = total_deposited"
            " + CASE WHEN CAST(:t AS text) = 'deposit' THEN :a ELSE 0 END"
            " WHERE user_id = :u",
            params,
        ),
    ]


def summary(found: list[Violation]) -> list[tuple[str, int | None, int | None, int | None]]:
    return sorted((v.kind, v.user_id, v.payment_id, v.withdrawal_id) for v in found)


async def test_a_database_built_by_the_services_passes(world: World) -> None:
    await assert_invariants(world.db.sessions)
    # The world has what the breakers below rely on.
    async with world.db.sessions() as session:
        credited = await session.execute(text("SELECT id, credited_usd FROM payments"))
        assert {r.id: r.credited_usd for r in credited} == {
            world.finished: D("50.00"),
            world.expired: None,
            world.reviewed: D("15.00"),
        }


async def test_without_an_admin_chat_cards_are_not_required(world: World) -> None:
    await as_superuser(world.db, ("DELETE FROM notifications WHERE kind = 'withdrawal_card'", {}))
    assert await violations(world.db.sessions, admin_chat=False) == []
    assert {v.kind for v in await violations(world.db.sessions)} == {"missing_card"}


Breaker = Callable[[World], Awaitable[list[tuple[str, int | None, int | None, int | None]]]]


async def cached_balance(w: World) -> list[Any]:
    await as_superuser(
        w.db,
        (
            "UPDATE user_balances SET balance_usd = balance_usd + 1 WHERE user_id = :u",
            {"u": w.bob.id},
        ),
    )
    return [("cached_balance", w.bob.id, None, None)]


async def total_deposited(w: World) -> list[Any]:
    await as_superuser(
        w.db,
        (
            "UPDATE user_balances SET total_deposited = total_deposited - 1 WHERE user_id = :u",
            {"u": w.bob.id},
        ),
    )
    return [("total_deposited", w.bob.id, None, None)]


async def broken_chain(w: World) -> list[Any]:
    # The sum still matches the cached balance; only one row's balance_after does not follow.
    await as_superuser(
        w.db,
        *post_raw(w.bob.id, "bonus", D("5.00"), "break:chain"),
        (
            "UPDATE transactions SET balance_after = balance_after + 1"
            " WHERE idempotency_key = 'break:chain'",
            {},
        ),
    )
    return [("chain", w.bob.id, None, None)]


async def negative(w: World) -> list[Any]:
    await as_superuser(
        w.db,
        ("ALTER TABLE user_balances DROP CONSTRAINT ck_user_balances_balance_non_negative", {}),
        (
            "ALTER TABLE transactions DROP CONSTRAINT ck_transactions_balance_after_non_negative",
            {},
        ),
        *post_raw(w.bob.id, "adjustment", D("-20.00"), "break:negative"),
    )
    return [
        ("negative_balance", w.bob.id, None, None),
        ("negative_balance_after", w.bob.id, None, None),
    ]


async def duplicate_credit(w: World) -> list[Any]:
    await as_superuser(
        w.db, *post_raw(w.alice.id, "deposit", D("50.00"), "break:dup", payment_id=w.finished)
    )
    return [("duplicate_credit", w.alice.id, w.finished, None)]


async def missing_credit(w: World) -> list[Any]:
    await as_superuser(
        w.db, ("UPDATE payments SET credited_usd = 20.00 WHERE id = :p", {"p": w.expired})
    )
    return [("missing_credit", w.alice.id, w.expired, None)]


async def unrecorded_credit(w: World) -> list[Any]:
    await as_superuser(
        w.db, *post_raw(w.alice.id, "deposit", D("20.00"), "break:unrec", payment_id=w.expired)
    )
    return [("unrecorded_credit", w.alice.id, w.expired, None)]


async def credit_mismatch(w: World) -> list[Any]:
    await as_superuser(
        w.db, ("UPDATE payments SET credited_usd = 51.00 WHERE id = :p", {"p": w.finished})
    )
    return [("credit_mismatch", w.alice.id, w.finished, None)]


async def credit_without_payment(w: World) -> list[Any]:
    await as_superuser(w.db, *post_raw(w.bob.id, "deposit", D("3.00"), "break:orphan"))
    return [("credit_without_payment", w.bob.id, None, None)]


async def missing_refund(w: World) -> list[Any]:
    # Cancelled with its pushes queued, but the hold never came back.
    pushes = (
        "INSERT INTO notifications (chat_id, kind, payload, dedup_key) VALUES"
        " (:chat, 'withdrawal_status', jsonb_build_object('withdrawal_id', CAST(:w AS bigint),"
        "  'status', 'cancelled'), 'break:user'),"
        " (:admin, 'withdrawal_card', jsonb_build_object('withdrawal_id', CAST(:w AS bigint),"
        "  'status', 'cancelled'), 'break:card')"
    )
    await as_superuser(
        w.db,
        (
            "UPDATE withdrawal_requests SET status = 'cancelled', cancelled_at = now()"
            " WHERE id = :w",
            {"w": w.pending},
        ),
        (pushes, {"w": w.pending, "chat": w.alice.telegram_id, "admin": ADMIN_CHAT}),
    )
    return [("missing_refund", w.alice.id, None, w.pending)]


async def duplicate_refund(w: World) -> list[Any]:
    await as_superuser(
        w.db, *post_raw(w.alice.id, "refund", D("10.00"), "break:ref", withdrawal_id=w.rejected)
    )
    return [("duplicate_refund", w.alice.id, None, w.rejected)]


async def unexpected_refund(w: World) -> list[Any]:
    await as_superuser(
        w.db, *post_raw(w.alice.id, "refund", D("10.00"), "break:ref", withdrawal_id=w.pending)
    )
    return [("unexpected_refund", w.alice.id, None, w.pending)]


async def refund_mismatch(w: World) -> list[Any]:
    # A second wrong refund is a duplicate; so make the one refund wrong from the start.
    await as_superuser(
        w.db,
        *post_raw(w.alice.id, "refund", D("1.00"), "break:ref", withdrawal_id=w.pending),
        (
            "UPDATE withdrawal_requests SET status = 'rejected', rejected_at = now(),"
            " reject_reason = 'x' WHERE id = :w",
            {"w": w.pending},
        ),
        (
            "INSERT INTO notifications (chat_id, kind, payload, dedup_key) VALUES"
            " (:chat, 'withdrawal_status', jsonb_build_object('withdrawal_id',"
            "  CAST(:w AS bigint), 'status', 'rejected'), 'break:user'),"
            " (:admin, 'withdrawal_card', jsonb_build_object('withdrawal_id',"
            "  CAST(:w AS bigint), 'status', 'rejected'), 'break:card')",
            {"w": w.pending, "chat": w.alice.telegram_id, "admin": ADMIN_CHAT},
        ),
    )
    return [("refund_mismatch", w.alice.id, None, w.pending)]


async def second_hold(w: World) -> list[Any]:
    await as_superuser(
        w.db, *post_raw(w.alice.id, "withdrawal", D("-1.00"), "break:h", withdrawal_id=w.pending)
    )
    return [("hold_mismatch", w.alice.id, None, w.pending)]


def delete_rows(w: World, where: str, **params: Any) -> Awaitable[None]:
    return as_superuser(w.db, (f"DELETE FROM notifications WHERE {where}", params))


async def withdrawal_push_lost(w: World) -> list[Any]:
    await delete_rows(w, "dedup_key = :k", k=f"withdrawal:{w.rejected}:rejected:user")
    return [("missing_push", w.alice.id, None, w.rejected)]


async def withdrawal_card_lost(w: World) -> list[Any]:
    await delete_rows(w, "dedup_key = :k", k=f"withdrawal:{w.completed}:approved:admin")
    return [("missing_card", w.alice.id, None, w.completed)]


async def progress_push_lost(w: World) -> list[Any]:
    await delete_rows(w, "kind = 'deposit_status' AND payload->>'status' = 'confirming'")
    return [("missing_push", w.alice.id, w.finished, None)]


async def final_push_lost(w: World) -> list[Any]:
    # Both checks see it: the provider's "expired" was seen, and the payment ended there.
    await delete_rows(w, "kind = 'deposit_status' AND payload->>'status' = 'expired'")
    return [("missing_push", w.alice.id, w.expired, None)] * 2


async def review_push_lost(w: World) -> list[Any]:
    await delete_rows(w, "dedup_key = :k", k=f"deposit:{w.reviewed}:review:credit")
    return [("missing_push", w.bob.id, w.reviewed, None)]


async def review_unannounced(w: World) -> list[Any]:
    await as_superuser(
        w.db, ("UPDATE payments SET needs_review = true WHERE id = :p", {"p": w.finished})
    )
    return [("missing_admin_notice", w.alice.id, w.finished, None)]


BREAKERS: list[Breaker] = [
    cached_balance,
    total_deposited,
    broken_chain,
    negative,
    duplicate_credit,
    missing_credit,
    unrecorded_credit,
    credit_mismatch,
    credit_without_payment,
    missing_refund,
    duplicate_refund,
    unexpected_refund,
    refund_mismatch,
    second_hold,
    withdrawal_push_lost,
    withdrawal_card_lost,
    progress_push_lost,
    final_push_lost,
    review_push_lost,
    review_unannounced,
]


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda b: b.__name__)
async def test_each_broken_invariant_is_reported_exactly(world: World, breaker: Breaker) -> None:
    await assert_invariants(world.db.sessions)
    expected = await breaker(world)
    found = await violations(world.db.sessions)
    assert summary(found) == sorted(expected), "\n".join(map(str, found))


async def test_chain_violation_names_the_row(world: World) -> None:
    await broken_chain(world)
    (found,) = await violations(world.db.sessions)
    async with world.db.sessions() as session:
        row_id = (
            await session.execute(
                text("SELECT id FROM transactions WHERE idempotency_key = 'break:chain'")
            )
        ).scalar_one()
    assert found.transaction_id == row_id and "expected" in found.detail


async def test_check_reads_one_snapshot_while_writes_go_on(world: World) -> None:
    """Read-only snapshots next to a transition: never half of it, never blocked by it."""
    service = WithdrawalService(world.db.sessions, settings())
    results = await asyncio.gather(
        *(check_database(world.db.sessions) for _ in range(3)),
        service.cancel(world.pending, user_id=world.alice.id),
        *(check_database(world.db.sessions) for _ in range(3)),
    )
    assert [r for r in results if isinstance(r, list)] == [[]] * 6
    await assert_invariants(world.db.sessions)


async def test_operators_run_it_from_the_command_line(world: World) -> None:
    async def run() -> tuple[int, str]:
        env = child_env()
        env.update(
            PAYBOT_DATABASE__URL=world.db.url,
            PAYBOT_TELEGRAM__ADMIN_CHAT_ID=str(ADMIN_CHAT),
            PYTHONPATH=str(ROOT),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "core.invariants",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    assert await run() == (0, "all invariants hold\n")
    await duplicate_credit(world)
    code, out = await run()
    assert code == 1
    assert out.startswith(f"duplicate_credit: 2 credits (user {world.alice.id}, payment")
