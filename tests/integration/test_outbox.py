"""The outbox: dedup on enqueue, claims that never overlap, retry bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from core import outbox
from core.users import upsert_user
from tests.conftest import Db, make_user


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
