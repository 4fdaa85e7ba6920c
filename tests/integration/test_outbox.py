"""The outbox: dedup on enqueue, claims that never overlap, retry bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from bot.notifier import retry_delay
from core import outbox
from core.users import upsert_user
from tests.support.db import Db, make_user


async def test_enqueue_is_deduplicated_and_payload_exact(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as s:
        first = await outbox.enqueue(
            s, chat_id=1, kind="k", payload={"amount": Decimal("0.10")}, dedup_key="d1"
        )
        again = await outbox.enqueue(s, chat_id=1, kind="k", payload={}, dedup_key="d1")
    assert (first, again) == (True, False)
    async with fresh_db.sessions.begin() as s:
        claimed = await outbox.claim_due(s)
    assert [m.payload for m in claimed] == [{"amount": "0.10"}]


async def test_concurrent_claims_never_share_a_row(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as s:
        for i in range(200):
            await outbox.enqueue(s, chat_id=i, kind="k", payload={}, dedup_key=f"c{i}")

    async def claimer() -> list[int]:
        got: list[int] = []
        while True:
            async with fresh_db.sessions.begin() as s:
                batch = await outbox.claim_due(s, limit=7)
            if not batch:
                return got
            got.extend(m.id for m in batch)

    results = await asyncio.gather(*(claimer() for _ in range(6)))
    ids = [i for r in results for i in r]
    assert len(ids) == len(set(ids)) == 200


async def test_retry_then_fail_and_skip_chat(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as s:
        await outbox.enqueue(s, chat_id=5, kind="k", payload={}, dedup_key="r1")
        await outbox.enqueue(s, chat_id=6, kind="k", payload={}, dedup_key="r2")
        await outbox.enqueue(s, chat_id=6, kind="k", payload={}, dedup_key="r3")
    for attempt in (1, 2):
        async with fresh_db.sessions.begin() as s:
            (msg,) = [m for m in await outbox.claim_due(s) if m.chat_id == 5]
            assert msg.attempts == attempt
            # The second failure happens a day after the row was queued (an injected clock).
            again = await outbox.retry_later(
                s,
                msg.id,
                delay=timedelta(0),
                error="boom",
                give_up_after=timedelta(hours=24),
                alerts=outbox.AlertRoute(None),
                now=None if attempt == 1 else msg.created_at + timedelta(hours=24),
            )
        assert again is (attempt == 1)
    async with fresh_db.sessions.begin() as s:
        assert await outbox.skip_chat(s, 6, "blocked") == 2
        states: dict[str, str] = dict(
            (await s.execute(text("SELECT dedup_key, state FROM notifications"))).all()
        )
    assert states == {"r1": "failed", "r2": "skipped", "r3": "skipped"}


async def test_rows_for_a_user_who_blocked_the_bot_are_skipped(fresh_db: Db) -> None:
    blocked = await make_user(fresh_db.sessions, blocked_bot=True)
    other = await make_user(fresh_db.sessions)
    async with fresh_db.sessions.begin() as s:
        for n, chat in enumerate((blocked.telegram_id, other.telegram_id, -100500)):
            await outbox.enqueue(s, chat_id=chat, kind="k", payload={}, dedup_key=f"b{n}")
    async with fresh_db.sessions.begin() as s:
        claimed = await outbox.claim_due(s)
    assert sorted(m.chat_id for m in claimed) == sorted([other.telegram_id, -100500])
    async with fresh_db.sessions() as s:
        row = (
            await s.execute(
                text("SELECT state, attempts, last_error FROM notifications WHERE dedup_key='b0'")
            )
        ).one()
    assert tuple(row) == ("skipped", 0, "the user has blocked the bot")

    async with fresh_db.sessions.begin() as s:  # they wrote to the bot again
        await upsert_user(s, blocked.telegram_id, first_name="Back")
        await outbox.enqueue(s, chat_id=blocked.telegram_id, kind="k", payload={}, dedup_key="b3")
    async with fresh_db.sessions.begin() as s:
        assert [m.dedup_key for m in await outbox.claim_due(s)] == ["b3"]


async def one(db: Db, sql: str, **params: object) -> Any:
    async with db.sessions() as session:
        return (await session.execute(text(sql), params)).one()


async def test_release_claims_frees_claims_only(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as s:
        for key in ("claimed", "retrying", "held", "later"):
            await outbox.enqueue(s, chat_id=9, kind="k", payload={}, dedup_key=key)
        await s.execute(
            text(
                "UPDATE notifications SET next_attempt_at = now() + interval '1 hour'"
                " WHERE dedup_key = 'later'"
            )
        )
    async with fresh_db.sessions.begin() as s:
        claimed = {m.dedup_key: m for m in await outbox.claim_due(s, lease_seconds=3600)}
    assert set(claimed) == {"claimed", "retrying", "held"}
    async with fresh_db.sessions.begin() as s:  # two outcomes were written before the crash
        assert await outbox.retry_later(
            s,
            claimed["retrying"].id,
            delay=timedelta(minutes=5),
            error="502",
            give_up_after=timedelta(days=1),
            alerts=outbox.AlertRoute(None),
        )
        await outbox.defer(s, claimed["held"].id, delay=timedelta(minutes=5))  # a 429
    async with fresh_db.sessions.begin() as s:
        assert await outbox.claim_due(s) == []  # nothing is due: the claim holds an hour
        assert await outbox.release_claims(s) == 1
    async with fresh_db.sessions.begin() as s:
        # Only the dead claim comes back now; a back-off and a flood wait keep their time.
        assert [m.dedup_key for m in await outbox.claim_due(s)] == ["claimed"]
    row = await one(fresh_db, "SELECT lease_until FROM notifications WHERE dedup_key='claimed'")
    assert row.lease_until is not None
    async with fresh_db.sessions.begin() as s:
        await outbox.mark_sent(s, claimed["claimed"].id)
    leases = await one(fresh_db, "SELECT count(lease_until) AS n FROM notifications")
    assert leases.n == 0  # every outcome ends the lease


async def test_backoff_is_doubled_and_capped() -> None:
    delays = [retry_delay(n, base=5.0, cap=600.0) for n in range(1, 12)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600, 600]
    assert retry_delay(10_000, base=5.0, cap=600.0) == 600.0  # no overflow after a long outage


async def test_retry_uses_the_injected_clock_and_gives_up_at_the_age(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as s:
        await outbox.enqueue(s, chat_id=7, kind="deposit_status", payload={}, dedup_key="a")
    async with fresh_db.sessions.begin() as s:
        (msg,) = await outbox.claim_due(s)
    day = timedelta(hours=24)
    route = outbox.AlertRoute(-100, (1, 2))
    almost = msg.created_at + day - timedelta(seconds=1)
    async with fresh_db.sessions.begin() as s:
        assert await outbox.retry_later(
            s,
            msg.id,
            delay=timedelta(minutes=10),
            error="e1",
            give_up_after=day,
            alerts=route,
            now=almost,
        )
    row = await one(
        fresh_db, "SELECT state, next_attempt_at FROM notifications WHERE id=:i", i=msg.id
    )
    assert (row.state, row.next_attempt_at) == ("pending", almost + timedelta(minutes=10))
    async with fresh_db.sessions.begin() as s:
        assert not await outbox.retry_later(
            s,
            msg.id,
            delay=timedelta(minutes=10),
            error="502 again",
            give_up_after=day,
            alerts=route,
            now=msg.created_at + day,
        )
    row = await one(fresh_db, "SELECT state, last_error FROM notifications WHERE id=:i", i=msg.id)
    assert (row.state, row.last_error) == ("failed", "502 again")
    alert = await one(
        fresh_db,
        "SELECT chat_id, kind, payload FROM notifications WHERE dedup_key=:k",
        k=f"undelivered:{msg.id}",
    )
    assert (alert.chat_id, alert.kind) == (-100, outbox.UNDELIVERED_KIND)
    assert alert.payload["row_id"] == msg.id and alert.payload["error"] == "502 again"


async def test_alerts_about_alerts_are_bounded(fresh_db: Db) -> None:
    """A failed card alerts the admin chat; that alert failing goes to each admin privately;
    a private alert failing goes nowhere. Three generations at most, whatever fails."""
    route = outbox.AlertRoute(-100, (1, 2))
    async with fresh_db.sessions.begin() as s:
        await outbox.enqueue(
            s,
            chat_id=-100,
            kind="withdrawal_card",
            payload={"withdrawal_id": 5, "internal_id": "WD-5", "address": "x"},
            dedup_key="card",
        )
    for generation in range(5):
        async with fresh_db.sessions.begin() as s:
            for message in await outbox.claim_due(s):
                await outbox.give_up(s, message.id, error=f"gen {generation}", alerts=route)
    async with fresh_db.sessions() as s:
        found = (
            await s.execute(
                text("SELECT chat_id, kind, state, payload FROM notifications ORDER BY id")
            )
        ).all()
    assert [(r.chat_id, r.kind, r.state) for r in found] == [
        (-100, "withdrawal_card", "failed"),
        (-100, outbox.UNDELIVERED_KIND, "failed"),
        (1, outbox.UNDELIVERED_KIND, "failed"),
        (2, outbox.UNDELIVERED_KIND, "failed"),
    ]
    alert = found[1].payload
    assert (alert["withdrawal_id"], alert["internal_id"], alert["kind"]) == (
        5,
        "WD-5",
        "withdrawal_card",
    )
    assert "address" not in alert  # only the facts admins need to find it
    private = found[2].payload
    assert private["fallback"] is True and private["admin_chat_error"] == "gen 1"
    assert private["internal_id"] == "WD-5"


async def test_backlog_depth_age_and_alerts_left_out(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as s:
        empty = await outbox.backlog(s)
        assert (empty.depth, empty.oldest_id, empty.oldest_age) == (0, None, None)
        await outbox.enqueue(s, chat_id=3, kind="k", payload={}, dedup_key="b1")
        await outbox.enqueue(s, chat_id=-100, kind=outbox.BACKLOG_KIND, payload={}, dedup_key="b2")
        await s.execute(
            text(
                "UPDATE notifications SET created_at = now() - interval '1 hour'"
                " WHERE dedup_key = 'b2'"
            )
        )
    async with fresh_db.sessions() as s:
        now = (await s.execute(text("SELECT now()"))).scalar_one()
        everything = await outbox.backlog(s, now=now + timedelta(minutes=5))
        work = await outbox.backlog(s, include_alerts=False, now=now + timedelta(minutes=5))
    assert everything.depth == 2 and everything.oldest_age is not None
    assert everything.oldest_age >= timedelta(minutes=65)
    assert work.depth == 1 and work.oldest_age is not None
    assert timedelta(minutes=5) <= work.oldest_age < timedelta(minutes=6)
    route = outbox.AlertRoute(-100)
    async with fresh_db.sessions.begin() as s:
        assert await outbox.raise_backlog_alert(s, route, work, threshold=timedelta(minutes=5))
        # the same episode (the same oldest row), e.g. after a restart: no second alert
        assert not await outbox.raise_backlog_alert(s, route, work, threshold=timedelta(minutes=5))
