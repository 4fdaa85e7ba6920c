"""The notifier inside the real app: outbox rows → Telegram, with pacing checked by the fake
server itself (enforce_limits) and every outcome checked in the database."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.notifier import RENDERERS, Rendered
from core import outbox
from core.config import NotifierSettings
from core.outbox import OutboxMessage
from core.users import get_by_telegram_id
from tests.fakes.telegram import Call, FakeTelegram
from tests.support.db import Db, make_user, next_telegram_id
from tests.support.e2e import ADMIN_CHAT, MakeApp

FAST_CHATS = NotifierSettings(per_chat_per_second=20.0, group_per_minute=1200.0)


@pytest.fixture
def make_app(make_app: MakeApp) -> MakeApp:
    """The plain renderers: these tests are about delivery, not the admin cards' wording."""

    def make(db: Db, **options: Any) -> Awaitable[App]:
        options.setdefault("renderers", RENDERERS)
        return make_app(db, **options)

    return make


@dataclass(frozen=True)
class Row:
    id: int
    chat_id: int
    kind: str
    state: str
    attempts: int
    last_error: str | None
    dedup_key: str


async def rows(db: Db) -> list[Row]:
    async with db.sessions() as session:
        result = await session.execute(
            text(
                "SELECT id, chat_id, kind, state, attempts, last_error, dedup_key"
                " FROM notifications ORDER BY id"
            )
        )
        return [Row(*r) for r in result.all()]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def all_settled(db: Db) -> bool:
    return all(r.state != "pending" for r in await rows(db))


async def enqueue(db: Db, chat_id: int, kind: str, payload: Mapping[str, Any], key: str) -> bool:
    async with db.sessions.begin() as session:
        return await outbox.enqueue(
            session, chat_id=chat_id, kind=kind, payload=payload, dedup_key=key
        )


def status(n: int) -> dict[str, Any]:
    return {"status": "finished", "internal_id": f"D-{n:03d}", "amount_usd": "1.00"}


def numbers(tg: FakeTelegram, chat_id: int) -> list[str]:
    """The D-nnn / seq tags of the messages a chat received, in order."""
    found = []
    for message in tg.sent_messages(chat_id):
        for word in message["text"].split():
            if word.startswith(("D-", "S-")):
                found.append(word)
    return found


async def sent_count(tg: FakeTelegram, chat_id: int, count: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    if len(tg.sent_messages(chat_id)) >= count:
        return
    await tg.wait_for(lambda c: len(tg.sent_messages(chat_id)) >= count, timeout=timeout)


def ok_sends(tg: FakeTelegram, chat_id: int) -> list[Call]:
    return [c for c in tg.calls("sendMessage", chat_id=chat_id) if c.ok]


async def test_pacing_stays_within_telegram_limits(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    # Telegram's limits scaled down 10x/60x so the test takes seconds; ours are set under them
    # as in production (20/min per group, 25/s overall against Telegram's 30/s). The notifier
    # paces the moments it sends, the fake counts arrivals: the margin between the two covers
    # what a loaded machine adds in between (it failed 2 runs of 15 under load with 31 ms per
    # chat; now 110 ms per chat, 0.25 s per group window, 0.2 s per global window).
    tg.enforce_limits = True
    tg.private_limit = (1, 0.1)
    tg.group_limit = (20, 1.0)
    user = next_telegram_id()
    tg.add_chat(user)
    tg.add_chat(ADMIN_CHAT)
    private_n, group_n = 15, 60
    for n in range(group_n):
        if n < private_n:
            await enqueue(fresh_db, user, "deposit_status", status(n), f"p-{n}")
        await enqueue(fresh_db, ADMIN_CHAT, "deposit_alert", {"seq": f"S-{n:03d}"}, f"g-{n}")
    settings = NotifierSettings(global_per_second=25, per_chat_per_second=5, group_per_minute=960)
    await make_app(fresh_db, notifier=settings)
    await sent_count(tg, user, private_n, timeout=20)
    await sent_count(tg, ADMIN_CHAT, group_n, timeout=20)
    await until(lambda: all_settled(fresh_db))

    assert [c for c in tg.calls("sendMessage") if c.error_code == 429] == []
    private = [c.at for c in ok_sends(tg, user)]
    group = [c.at for c in ok_sends(tg, ADMIN_CHAT)]
    both = sorted(private + group)
    # The server's own clock: never more than its window allows (that is also why no 429) ...
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(private))
    assert all(group[i + 20] - group[i] >= 1.0 for i in range(len(group) - 20))
    assert all(both[i + 30] - both[i] >= 1.0 for i in range(len(both) - 30))
    # ... and on average no faster than configured (arrival jitter moves only the two ends).
    assert (private[-1] - private[0]) / (private_n - 1) >= 1 / 5 * 0.9
    assert (group[-1] - group[0]) / (group_n - 1) >= 60 / 960 * 0.9
    assert numbers(tg, user) == [f"D-{n:03d}" for n in range(private_n)]  # in order, once each
    assert numbers(tg, ADMIN_CHAT) == [f"S-{n:03d}" for n in range(group_n)]
    assert {r.state for r in await rows(fresh_db)} == {"sent"}


async def test_retry_after_is_honoured_without_counting_an_attempt(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    user = next_telegram_id()
    tg.add_chat(user)
    tg.fail_next("sendMessage", code=429, retry_after=1, chat_id=user)
    await make_app(fresh_db, notifier=FAST_CHATS)
    await enqueue(fresh_db, user, "deposit_status", status(1), "ra-1")
    await tg.wait_for(lambda c: c.error_code == 429)
    for n in (2, 3, 4):  # arrive while the chat is held: they queue up behind
        await enqueue(fresh_db, user, "deposit_status", status(n), f"ra-{n}")
    await sent_count(tg, user, 4)
    await until(lambda: all_settled(fresh_db))

    calls = tg.calls("sendMessage", chat_id=user)
    assert [c.error_code for c in calls] == [429, None, None, None, None]
    assert calls[1].at - calls[0].at >= 0.95  # waited retry_after, by the server's clock
    assert numbers(tg, user) == ["D-001", "D-002", "D-003", "D-004"]
    assert [(r.state, r.attempts) for r in await rows(fresh_db)] == [("sent", 1)] * 4


async def test_blocked_user_is_marked_and_skipped(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    blocked = await make_user(fresh_db.sessions)
    other = next_telegram_id()
    tg.add_chat(blocked.telegram_id)
    tg.add_chat(other)
    tg.block_chat(blocked.telegram_id)
    for n in range(3):
        await enqueue(fresh_db, blocked.telegram_id, "deposit_status", status(n), f"b-{n}")
    await enqueue(fresh_db, other, "deposit_status", status(9), "o-9")
    app = await make_app(fresh_db, notifier=FAST_CHATS)
    await sent_count(tg, other, 1)
    await until(lambda: all_settled(fresh_db))

    assert [c.error_code for c in tg.calls("sendMessage", chat_id=blocked.telegram_id)] == [403]
    states = [(r.chat_id, r.state) for r in await rows(fresh_db)]
    assert states == [(blocked.telegram_id, "skipped")] * 3 + [(other, "sent")]
    assert all("blocked" in (r.last_error or "") for r in (await rows(fresh_db))[:3])
    async with fresh_db.sessions() as session:
        user = await get_by_telegram_id(session, blocked.telegram_id)
    assert user is not None and user.blocked_bot

    # Writing to the bot again means it was unblocked.
    mark = tg.mark()
    tg.send_text(blocked.telegram_id, "/start")
    await tg.wait_for_message(blocked.telegram_id, since=mark)
    async with fresh_db.sessions() as session:
        user = await get_by_telegram_id(session, blocked.telegram_id)
    assert user is not None and not user.blocked_bot
    assert not app.failed


async def test_transient_failures_are_retried_then_sent(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    user = next_telegram_id()
    tg.add_chat(user)
    tg.fail_next("sendMessage", code=500, chat_id=user)
    tg.fail_next("sendMessage", code=502, raw_body="<html>502 Bad Gateway</html>", chat_id=user)
    tg.fail_next("sendMessage", code=0, chat_id=user)  # connection dropped
    await enqueue(fresh_db, user, "deposit_status", status(1), "t-1")
    await make_app(fresh_db, notifier=FAST_CHATS)
    await sent_count(tg, user, 1)
    await until(lambda: all_settled(fresh_db))
    assert [c.error_code for c in tg.calls("sendMessage", chat_id=user)] == [500, 502, 0, None]
    [row] = await rows(fresh_db)
    assert (row.state, row.attempts) == ("sent", 4)


async def test_failures_end_as_failed_only_when_permanent_or_too_old(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    flaky, refused, nobody = next_telegram_id(), next_telegram_id(), next_telegram_id()
    for chat in (flaky, refused, nobody, ADMIN_CHAT):
        tg.add_chat(chat)
    tg.fail_next("sendMessage", code=500, chat_id=flaky, times=-1)
    tg.fail_next("sendMessage", code=400, chat_id=refused, description="Bad Request: nope")
    await enqueue(fresh_db, flaky, "deposit_status", status(1), "f-1")
    await enqueue(fresh_db, refused, "deposit_status", status(2), "f-2")
    await enqueue(fresh_db, nobody, "no_such_kind", {"x": 1}, "f-3")
    await make_app(fresh_db, notifier=FAST_CHATS)
    # A 5xx is retried, however often, while the row is younger than give_up_after_seconds.
    await tg.wait_for(lambda c: len(tg.calls("sendMessage", chat_id=flaky)) >= 4)
    [flaky_row] = [r for r in await rows(fresh_db) if r.chat_id == flaky]
    assert flaky_row.state == "pending"
    async with fresh_db.sessions.begin() as session:  # a day has passed since it was queued
        await session.execute(
            text("UPDATE notifications SET created_at = now() - interval '1 day' WHERE id = :i"),
            {"i": flaky_row.id},
        )
    await until(lambda: all_settled(fresh_db))

    by_chat = {r.chat_id: r for r in await rows(fresh_db) if r.chat_id != ADMIN_CHAT}
    assert by_chat[flaky].state == "failed" and by_chat[flaky].attempts >= 5
    assert "Internal Server Error" in (by_chat[flaky].last_error or "")
    assert (by_chat[refused].state, by_chat[refused].attempts) == ("failed", 1)
    assert "nope" in (by_chat[refused].last_error or "")
    assert by_chat[nobody].state == "failed" and "no_such_kind" in (
        by_chat[nobody].last_error or ""
    )
    assert tg.calls(chat_id=nobody) == []
    assert tg.sent_messages(flaky) == tg.sent_messages(refused) == []
    # Each row that ended undelivered raised one alert in the admin chat, naming it.
    alerts = [r for r in await rows(fresh_db) if r.chat_id == ADMIN_CHAT]
    assert sorted(r.dedup_key for r in alerts) == sorted(
        f"undelivered:{by_chat[c].id}" for c in (flaky, refused, nobody)
    )
    assert {(r.kind, r.state) for r in alerts} == {("outbox_undelivered", "sent")}
    texts = [m["text"] for m in tg.sent_messages(ADMIN_CHAT)]
    assert len(texts) == 3 and all("could not be delivered" in t for t in texts)
    assert any("D-001" in t and "Internal Server Error" in t for t in texts)


async def test_a_row_is_sent_only_after_telegram_accepted_it(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    user = next_telegram_id()
    tg.add_chat(user)
    await make_app(fresh_db)
    tg.latency = 0.3
    await enqueue(fresh_db, user, "deposit_status", status(1), "a-1")
    seen_in_flight = False
    while True:
        [row] = await rows(fresh_db)
        accepted = ok_sends(tg, user)
        if row.state == "sent":
            assert accepted, "marked sent before Telegram answered"
            break
        seen_in_flight |= row.attempts == 1 and not accepted
        await asyncio.sleep(0.02)
    assert seen_in_flight
    tg.latency = 0.0


async def test_restart_mid_drain_loses_nothing_and_sends_nothing_twice(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    user = next_telegram_id()
    tg.add_chat(user)
    for n in range(10):
        await enqueue(fresh_db, user, "deposit_status", status(n), f"r-{n}")
    paced = NotifierSettings(per_chat_per_second=8)
    first = await make_app(fresh_db, notifier=paced)
    await sent_count(tg, user, 3)
    await first.stop()  # graceful: the send in progress finishes, queued rows go back
    sent_before = len(tg.sent_messages(user))
    states = [r.state for r in await rows(fresh_db)]
    assert states.count("sent") == sent_before  # the database agrees with Telegram
    assert all(r.attempts == 0 for r in await rows(fresh_db) if r.state == "pending")

    await make_app(fresh_db, notifier=paced)
    await sent_count(tg, user, 10)
    await until(lambda: all_settled(fresh_db))
    assert numbers(tg, user) == [f"D-{n:03d}" for n in range(10)]
    assert {r.state for r in await rows(fresh_db)} == {"sent"}


async def test_rows_of_a_crashed_notifier_come_back_when_the_next_process_starts(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    user = next_telegram_id()
    tg.add_chat(user)
    assert await enqueue(fresh_db, user, "deposit_status", status(1), "c-1")
    assert await enqueue(fresh_db, user, "deposit_status", status(2), "c-2")
    assert not await enqueue(fresh_db, user, "deposit_status", status(1), "c-1")  # dedup
    async with fresh_db.sessions.begin() as session:  # a notifier claims them and dies
        claimed = await outbox.claim_due(session, limit=10, lease_seconds=3600.0)
    assert len(claimed) == 2
    # The next process takes the polling lock, so it knows the claimer is dead: no hour-long
    # wait for the lease.
    started = time.monotonic()
    await make_app(fresh_db, notifier=FAST_CHATS)
    await sent_count(tg, user, 2)
    assert time.monotonic() - started < 5.0
    await until(lambda: all_settled(fresh_db))
    assert numbers(tg, user) == ["D-001", "D-002"]
    assert [(r.state, r.attempts) for r in await rows(fresh_db)] == [("sent", 2), ("sent", 2)]


async def test_renderers_edit_cards_and_escape_payloads(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    tg.add_chat(ADMIN_CHAT)
    user = next_telegram_id()
    tg.add_chat(user)
    stored: list[tuple[int, int]] = []
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Approve", callback_data="wa1:1")]]
    )

    async def card(message: OutboxMessage, session: AsyncSession) -> Rendered:
        async def remember(session: AsyncSession, message_id: int) -> None:
            stored.append((message.id, message_id))

        return Rendered(
            f"card v{message.payload['v']}",
            reply_markup=keyboard,
            edit_message_id=message.payload.get("edit"),
            on_sent=remember,
        )

    await make_app(fresh_db, renderers={**RENDERERS, "card": card}, notifier=FAST_CHATS)
    await enqueue(fresh_db, ADMIN_CHAT, "card", {"v": 1}, "card-1")
    await sent_count(tg, ADMIN_CHAT, 1)
    await until(lambda: all_settled(fresh_db))
    card_id = tg.sent_messages(ADMIN_CHAT)[0]["message_id"]

    await enqueue(fresh_db, ADMIN_CHAT, "card", {"v": 2, "edit": card_id}, "card-2")
    await tg.wait_for(lambda c: c.method == "editMessageText" and c.ok)
    await enqueue(fresh_db, ADMIN_CHAT, "card", {"v": 2, "edit": card_id}, "card-3")  # same
    await enqueue(fresh_db, ADMIN_CHAT, "card", {"v": 3, "edit": 999_999}, "card-4")  # gone
    await sent_count(tg, ADMIN_CHAT, 2)
    await until(lambda: all_settled(fresh_db))
    assert tg.messages[ADMIN_CHAT][card_id].text == "card v2"
    assert tg.messages[ADMIN_CHAT][card_id].callback_data() == ["wa1:1"]
    new_id = tg.sent_messages(ADMIN_CHAT)[1]["message_id"]
    assert [m for _, m in stored] == [card_id, card_id, card_id, new_id]
    assert {r.state for r in await rows(fresh_db)} == {"sent"}

    # the built-in kinds, with hostile text in the payload (HTML must be escaped)
    hostile = "<b>Eve</b> & <script>"
    await enqueue(
        fresh_db,
        ADMIN_CHAT,
        "withdrawal_card",
        {"internal_id": "WD_1", "status": "pending", "first_name": hostile, "amount_usd": "5"},
        "wc-1",
    )
    await enqueue(fresh_db, ADMIN_CHAT, "reconcile_alert", {"detail": hostile}, "rc-1")
    await enqueue(fresh_db, ADMIN_CHAT, "deposit_review", {"reason": hostile}, "dr-1")
    await enqueue(
        fresh_db,
        user,
        "withdrawal_status",
        {"status": "rejected", "internal_id": "WD_1", "amount_usd": "5", "reason": hostile},
        "ws-1",
    )
    await enqueue(
        fresh_db,
        user,
        "deposit_status",
        {
            "status": "waiting",
            "internal_id": "PAY_1",
            "amount_usd": "25.00",
            "pay_amount": "0.001",
            "currency": "BTC",
            "pay_address": "bc1q<x>",
        },
        "ds-1",
    )
    await sent_count(tg, ADMIN_CHAT, 5)
    await sent_count(tg, user, 2)
    await until(lambda: all_settled(fresh_db))
    admin_texts = [m["text"] for m in tg.sent_messages(ADMIN_CHAT)[2:]]
    assert all(hostile in t for t in admin_texts)
    assert "Amount: $5.00" in admin_texts[0]
    user_texts = [m["text"] for m in tg.sent_messages(user)]
    assert "Withdrawal rejected" in user_texts[0] and hostile in user_texts[0]
    assert "Send exactly: 0.001 BTC" in user_texts[1] and "bc1q<x>" in user_texts[1]
    assert {r.state for r in await rows(fresh_db)} == {"sent"}
