"""The poller against the fake provider and real PostgreSQL: every path, races between pollers,
faults, rate limits, cancellation. Each test has a database of its own (the poller takes every
due payment it finds)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core import ledger
from core.deposits.poller import PollCounts, Poller
from core.deposits.schedule import Schedule
from core.deposits.settlement import ALERT_KIND, STATUS_KIND
from core.nowpayments import NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments, Fault, Step
from tests.support.db import Db, make_user
from tests.support.deposits import (
    Seeded,
    add_coins,
    expire_leases,
    make_client,
    make_service,
    notes_of,
    payment_row,
    poller,
    pro_rata,
    rows,
    seed_payments,
    users,
)
from tests.support.waiting import eventually

D = Decimal


async def open_count(db: Db) -> int:
    found = await rows(
        db,
        "SELECT count(*) AS n FROM payments WHERE status IN"
        " ('creating', 'waiting', 'confirming', 'confirmed', 'sending')",
    )
    return int(found[0].n)


async def run_until_settled(
    pollers: list[Poller], db: Db, *, rounds: int = 200, drain: int = 0
) -> PollCounts:
    """Every poller loops until nothing is open, the first ``drain`` of them with drain()
    (overlapping batches, as run_forever), the others with run_once(); counts added up."""
    total = PollCounts()

    async def loop(p: Poller) -> None:
        for _ in range(rounds):
            counts = await (p.drain() if p in pollers[:drain] else p.run_once())
            total.add(counts)
            if counts.claimed == 0:
                if await open_count(db) == 0:
                    return
                await asyncio.sleep(0.01)
        raise AssertionError("payments still open")

    async with asyncio.TaskGroup() as group:  # one failing loop stops the others
        for p in pollers:
            group.create_task(loop(p))
    return total


async def assert_money_consistent(db: Db) -> None:
    """The ledger agrees with itself and with the payments: one credit per credited payment,
    of exactly credited_usd, and only for finished / partially_paid."""
    async with db.sessions() as session:
        assert await ledger.reconcile(session) == []
    wrong = await rows(
        db,
        """
        SELECT p.id FROM payments p
          LEFT JOIN transactions t ON t.payment_id = p.id AND t.type = 'deposit'
         WHERE (t.id IS NOT NULL) <> (coalesce(p.credited_usd, 0) > 0)
            OR t.amount_usd <> p.credited_usd
            OR t.idempotency_key <> 'deposit:' || p.id
            OR (p.credited_usd IS NOT NULL AND p.status NOT IN ('finished', 'partially_paid'))
        """,
    )
    assert wrong == []
    doubled = await rows(
        db,
        "SELECT payment_id FROM transactions WHERE type = 'deposit'"
        " GROUP BY payment_id HAVING count(*) > 1",
    )
    assert doubled == []


def mixed_script(fake: FakeNowPayments) -> Callable[[int, str], None]:
    """70 % finished, 15 % partially paid, 15 % expired, each in a few steps."""

    def script(i: int, pid: str) -> None:
        pay = fake.payment(pid).pay_amount
        if i % 20 < 14:
            steps = [Step("confirming", actually_paid=pay), Step("finished", actually_paid=pay)]
        elif i % 20 < 17:
            half = (pay / 2).quantize(D("0.00000001"))
            steps = [Step("confirming", actually_paid=half), Step("partially_paid")]
        else:
            steps = [Step("waiting"), Step("expired")]
        fake.script(pid, steps)

    return script


def expected_credit(i: int, seeded: Seeded) -> Decimal | None:
    if i % 20 < 14:
        return seeded.amount.quantize(D("0.01"))
    if i % 20 < 17:
        half = (seeded.pay_amount / 2).quantize(D("0.00000001"))
        return pro_rata(seeded.amount, half, seeded.pay_amount)
    return None


async def assert_mixed_outcome(db: Db, seeded: list[Seeded]) -> None:
    await assert_money_consistent(db)
    expected = {s.payment_id: expected_credit(i, s) for i, s in enumerate(seeded)}
    found = await rows(db, "SELECT id, status, credited_usd FROM payments")
    assert {r.id: r.credited_usd for r in found} == expected
    statuses = Counter(r.status for r in found)
    n = len(seeded)
    assert statuses["finished"] == sum(1 for i in range(n) if i % 20 < 14)
    credits = await rows(db, "SELECT count(*) AS n, sum(amount_usd) AS total FROM transactions")
    wanted = [c for c in expected.values() if c]
    assert (credits[0].n, credits[0].total) == (len(wanted), sum(wanted))
    # Each final status was recorded and announced exactly once.
    finals = await rows(
        db,
        "SELECT payment_id, count(*) AS n FROM payment_events"
        " WHERE status IN ('finished', 'partially_paid', 'expired') GROUP BY payment_id",
    )
    assert len(finals) == n and {r.n for r in finals} == {1}


# --- paths -----------------------------------------------------------------------------------


async def test_poller_settles_created_deposits(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    user = await make_user(fresh_db.sessions)
    service = make_service(fresh_db, client)
    views = {}
    for scenario in ("finished", "partially_paid", "overpaid", "expired", "failed", "refunded"):
        view = await service.create(user_id=user.id, amount_usd="20", currency_code="BTC")
        fake.play(view.provider_payment_id or "", scenario)
        views[scenario] = view
    total = await run_until_settled([poller(fresh_db, client)], fresh_db)
    assert total.credited == 2 and total.errors == 0  # 1.2× is beyond the tolerance: review
    assert (await payment_row(fresh_db, views["overpaid"].id)).needs_review
    for scenario, view in views.items():
        row = await payment_row(fresh_db, view.id)
        assert row.status == scenario.replace("overpaid", "finished")
        statuses = [n.payload["status"] for n in await notes_of(fresh_db, view.id, STATUS_KIND)]
        assert statuses[-1] == row.status and len(statuses) == len(set(statuses))
    await assert_money_consistent(fresh_db)


async def test_four_pollers_race_over_500_payments(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    people = await users(fresh_db, 10)
    seeded = await seed_payments(fresh_db, fake, [u.id for u in people], 500, mixed_script(fake))
    pollers = [poller(fresh_db, client, batch_size=25, concurrency=8) for _ in range(4)]
    total = await run_until_settled(pollers, fresh_db, drain=2)
    assert total.errors == 0 and total.credited == sum(
        1 for i, s in enumerate(seeded) if expected_credit(i, s)
    )
    await assert_mixed_outcome(fresh_db, seeded)
    # No payment was checked by two pollers at once: 2 or 3 replies each, no more.
    assert fake.requests["get_payment"] <= 3 * 500


async def test_thirty_percent_faults_then_heal(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    people = await users(fresh_db, 5)
    seeded = await seed_payments(fresh_db, fake, [u.id for u in people], 200, mixed_script(fake))
    for fault, rate in (
        (Fault.SERVER_ERROR, 0.12),
        (Fault.TRUNCATED, 0.06),
        (Fault.NAN_STRING, 0.06),
        (Fault.NOT_JSON, 0.05),
        (Fault.RATE_LIMIT, 0.04),
    ):
        fake.inject("get_payment", fault, rate=rate, retry_after="0.02")
    pollers = [poller(fresh_db, client, batch_size=20, concurrency=8) for _ in range(2)]
    faulty = PollCounts()
    for _ in range(15):
        for counts in await asyncio.gather(*(p.run_once() for p in pollers)):
            faulty.add(counts)
        await assert_money_consistent(fresh_db)  # never a wrong state on the way
    assert faulty.errors > 0 and faulty.deferred > 0
    fake.heal()
    await run_until_settled(pollers, fresh_db)
    await assert_mixed_outcome(fresh_db, seeded)
    cleared = await rows(
        fresh_db, "SELECT count(*) AS n FROM payments WHERE last_error IS NOT NULL"
    )
    assert cleared[0].n == 0  # every error state was cleared by a later good reply


async def test_cancelled_mid_settle_loses_and_doubles_nothing(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)

    def finish(i: int, pid: str) -> None:
        fake.script(pid, [Step("finished", actually_paid=fake.payment(pid).pay_amount)])

    (seeded,) = await seed_payments(fresh_db, fake, [user.id], 1, finish)
    inside = asyncio.Event()

    async def stall() -> None:  # the credit is written, not yet committed
        inside.set()
        await asyncio.Event().wait()

    first = poller(fresh_db, client, lease_seconds=30.0, before_commit=stall)
    task = asyncio.create_task(first.run_once())
    await asyncio.wait_for(inside.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await payment_row(fresh_db, seeded.payment_id)
    assert row.status == "waiting" and row.credited_usd is None and row.lease_until is not None
    assert await rows(fresh_db, "SELECT id FROM transactions") == []
    assert await rows(fresh_db, "SELECT id FROM payment_events") == []

    restarted = poller(fresh_db, client, lease_seconds=30.0)
    assert (await restarted.run_once()).claimed == 0  # still leased by the cancelled one
    assert await expire_leases(fresh_db) == 1
    counts = await restarted.run_once()
    assert (counts.claimed, counts.credited) == (1, 1)
    assert (await restarted.run_once()).claimed == 0
    row = await payment_row(fresh_db, seeded.payment_id)
    assert row.status == "finished" and row.credited_usd == seeded.amount
    await assert_money_consistent(fresh_db)
    assert len(await rows(fresh_db, "SELECT id FROM transactions")) == 1


async def test_cancelled_during_the_request_loses_nothing(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)
    seeded = await seed_payments(fresh_db, fake, [user.id], 5, mixed_script(fake))
    fake.latency = 5.0  # every request is still in flight when the task is cancelled
    task = asyncio.create_task(poller(fresh_db, client, lease_seconds=30.0).run_once())
    await eventually(lambda: fake.requests["get_payment"] == 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fake.latency = 0.0
    assert await expire_leases(fresh_db) == 5
    await run_until_settled([poller(fresh_db, client)], fresh_db)
    await assert_mixed_outcome(fresh_db, seeded)


async def test_rate_limit_pauses_the_whole_poller(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)
    await seed_payments(fresh_db, fake, [user.id], 20, lambda i, pid: None)
    fake.inject("get_payment", Fault.RATE_LIMIT, count=1, retry_after=30)
    p = poller(fresh_db, client, concurrency=1)
    started = datetime.now(UTC)
    counts = await p.run_once()
    assert (counts.claimed, counts.deferred, counts.errors) == (20, 20, 0)
    assert fake.requests["get_payment"] == 1 and p.pause_remaining > 25
    assert (await p.run_once()).claimed == 0  # paused: no claim, no request
    found = await rows(fresh_db, "SELECT next_check_at, lease_until, check_attempts FROM payments")
    assert all(r.lease_until is None and r.check_attempts == 0 for r in found)
    assert all(r.next_check_at > started + timedelta(seconds=25) for r in found)


async def test_a_failing_payment_never_blocks_the_others(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)
    seeded = await seed_payments(fresh_db, fake, [user.id], 6, mixed_script(fake))
    ghost = await seed_payments(fresh_db, fake, [user.id], 1, lambda i, pid: None)
    fake.forget(ghost[0].provider_id)  # the provider no longer knows it: 404
    slow = Schedule(base_seconds=0.0, error_base_seconds=40.0)
    p = poller(fresh_db, client, schedule=slow)
    started = datetime.now(UTC)
    for _ in range(5):
        await p.run_once()
    bad = await payment_row(fresh_db, ghost[0].payment_id)
    assert bad.status == "waiting" and bad.check_attempts == 1
    assert "PAYMENT_NOT_FOUND" in bad.last_error
    # Backed off: the jittered delay after a first failure is 20..40 s from the failed check.
    assert bad.next_check_at >= started + timedelta(seconds=20)
    finals = await rows(
        fresh_db,
        "SELECT id FROM payments WHERE status IN ('finished', 'partially_paid', 'expired')",
    )
    assert len(finals) == len(seeded)


async def test_poller_reconciles_lost_creates(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    user = await make_user(fresh_db.sessions)
    async with make_client(fake, timeout=0.3) as slow:
        service = make_service(fresh_db, slow)
        for after in (True, False):  # created at the provider / never arrived
            fake.inject("create_payment", Fault.HANG, after=after, count=1)
            with pytest.raises(Exception, match="outcome_unknown"):
                await service.create(user_id=user.id, amount_usd="30", currency_code="BTC")
    fake.heal()
    created, lost = await rows(
        fresh_db, "SELECT id, internal_payment_id FROM payments ORDER BY id"
    )
    (remote,) = fake.find_by_order_id(created.internal_payment_id)
    p = poller(fresh_db, client)
    await p.run_once()
    found = await payment_row(fresh_db, created.id)
    assert found.status == "waiting" and found.provider_payment_id == str(remote.payment_id)
    (note,) = await notes_of(fresh_db, created.id)
    assert note.payload["pay_address"] == remote.pay_address
    missing = await payment_row(fresh_db, lost.id)
    assert missing.status == "creating" and missing.check_attempts == 1

    give_up = poller(
        fresh_db,
        client,
        schedule=Schedule(
            base_seconds=0.0, creating_grace_seconds=0.0, creating_deadline_seconds=0.0
        ),
    )
    await give_up.run_once()
    assert (await payment_row(fresh_db, lost.id)).status == "create_failed"
    (note,) = await notes_of(fresh_db, lost.id)
    assert note.payload["reason"] == "not_created"
    await assert_money_consistent(fresh_db)


async def test_child_payments_found_by_the_scan_are_alerted(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)

    def finish(i: int, pid: str) -> None:
        fake.script(pid, [Step("finished", actually_paid=fake.payment(pid).pay_amount)])

    (parent,) = await seed_payments(fresh_db, fake, [user.id], 1, finish)
    p = poller(fresh_db, client)
    await run_until_settled([p], fresh_db)
    child = fake.add_child_payment(parent.provider_id, D("0.001"), status="finished")
    assert await p.scan_children() == 1
    assert await p.scan_children() == 1  # seen again: no second alert
    (alert,) = await notes_of(fresh_db, parent.payment_id, ALERT_KIND)
    assert alert.payload["child_payment_id"] == child
    assert (await payment_row(fresh_db, parent.payment_id)).needs_review
    await assert_money_consistent(fresh_db)
    assert len(await rows(fresh_db, "SELECT id FROM transactions")) == 1


async def test_run_forever_stops_cleanly(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)
    seeded = await seed_payments(fresh_db, fake, [user.id], 10, mixed_script(fake))
    stop = asyncio.Event()
    p = poller(fresh_db, client, idle_seconds=0.02, children_scan_seconds=0.0)
    task = asyncio.create_task(p.run_forever(stop))
    for _ in range(500):  # at most 10 s
        if await open_count(fresh_db) == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    await assert_mixed_outcome(fresh_db, seeded)
    assert fake.requests["list_payments"] >= 1  # the child scan ran

    scans = fake.requests["list_payments"]
    again = asyncio.create_task(p.run_forever(asyncio.Event()))
    await eventually(lambda: fake.requests["list_payments"] > scans)  # it is running
    again.cancel()
    with pytest.raises(asyncio.CancelledError):
        await again
