"""Undelivered messages and a growing backlog reach the admins, through the outbox itself:
a withdrawal card that cannot be posted comes back as an alert that names it and carries its
buttons; when the admin chat itself refuses (the bot was kicked) the alert goes to each admin
privately, and stops there; a backlog alerts once per episode and shows in /stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bot import texts
from bot.app import App
from bot.callbacks import AdminWithdrawalAction, AdminWithdrawalCallback
from bot.notifier import NotifierTuning
from core.admin import StatsService
from core.auth import AdminGate
from core.config import NotifierSettings
from core.withdrawals import WithdrawalService, WithdrawalView
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, make_user, next_telegram_id
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID, CURRENCIES, TRX, MakeApp, customer

ADMIN_2 = 777_000_002  # never wrote to the bot: Telegram answers "chat not found"
FAST_CHATS = NotifierSettings(per_chat_per_second=20.0, group_per_minute=1200.0)
QUICK = NotifierTuning(
    idle_seconds=0.05, lease_seconds=5.0, retry_base_seconds=0.05, backlog_check_seconds=0.05
)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def outbox_rows(db: Db) -> list[Any]:
    async with db.sessions() as session:
        result = await session.execute(
            text(
                "SELECT id, chat_id, kind, state, dedup_key, payload"
                " FROM notifications ORDER BY id"
            )
        )
        return list(result.all())


async def settled(db: Db) -> bool:
    return all(r.state != "pending" for r in await outbox_rows(db))


async def app_with_withdrawal(
    make_app: MakeApp, db: Db, tg: FakeTelegram, **options: Any
) -> tuple[App, WithdrawalView]:
    async with db.sessions.begin() as session:
        await session.execute(CURRENCIES)
    app = await make_app(db, notifier=FAST_CHATS, admin_ids=[ADMIN_ID, ADMIN_2], **options)
    user = await customer(db, tg)
    view = await WithdrawalService(app.sessions, app.settings).request(
        user_id=user.id, currency_code="USDTTRC20", amount="50.00", address=TRX
    )
    app.notifier.wake()
    return app, view


async def test_a_card_that_cannot_be_posted_comes_back_as_an_alert_with_its_buttons(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    tg.add_chat(ADMIN_CHAT, title="Admins")
    tg.fail_next("sendMessage", code=400, chat_id=ADMIN_CHAT, description="Bad Request: odd")
    _, view = await app_with_withdrawal(make_app, fresh_db, tg)
    await until(lambda: settled(fresh_db))

    by_kind = {r.kind: r for r in await outbox_rows(fresh_db) if r.chat_id == ADMIN_CHAT}
    assert by_kind["withdrawal_card"].state == "failed"
    alert = by_kind["outbox_undelivered"]
    assert (
        alert.state == "sent" and alert.dedup_key == f"undelivered:{by_kind['withdrawal_card'].id}"
    )
    [message] = tg.sent_messages(ADMIN_CHAT)  # the card never made it; the alert did
    assert "could not be delivered" in message["text"] and view.internal_id in message["text"]
    assert "odd" in message["text"]
    stored = tg.messages[ADMIN_CHAT][message["message_id"]]
    approve = AdminWithdrawalCallback(id=view.id, action=AdminWithdrawalAction.APPROVE).pack()
    assert approve in stored.callback_data()  # admins can decide it from the alert
    assert tg.calls(chat_id=ADMIN_ID) == []  # the admin chat works: nobody is written to


async def test_a_kicked_admin_chat_alerts_each_admin_privately_and_stops_there(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    tg.add_chat(ADMIN_CHAT, title="Admins")
    tg.block_chat(ADMIN_CHAT, notify=False)  # the bot was kicked from the admin group
    tg.add_chat(ADMIN_ID)
    _, view = await app_with_withdrawal(make_app, fresh_db, tg)
    await tg.wait_for_message(ADMIN_ID, contains=view.internal_id)
    await until(lambda: settled(fresh_db))

    admin_rows = [r for r in await outbox_rows(fresh_db) if r.kind != "withdrawal_status"]
    card = admin_rows[0]
    assert [(r.chat_id, r.kind, r.state, r.dedup_key) for r in admin_rows] == [
        (ADMIN_CHAT, "withdrawal_card", "failed", card.dedup_key),  # at once: no retrying
        (ADMIN_CHAT, "outbox_undelivered", "failed", f"undelivered:{card.id}"),
        (ADMIN_ID, "outbox_undelivered", "sent", f"undelivered:{card.id}:to:{ADMIN_ID}"),
        (ADMIN_2, "outbox_undelivered", "failed", f"undelivered:{card.id}:to:{ADMIN_2}"),
    ]
    # One attempt each: a refused alert is not retried and not alerted about in a loop.
    assert len(tg.calls("sendMessage", chat_id=ADMIN_CHAT)) == 2
    assert len(tg.calls("sendMessage", chat_id=ADMIN_2)) == 1
    [told] = tg.sent_messages(ADMIN_ID)
    assert view.internal_id in told["text"] and "/pending" in told["text"]
    assert "kicked" in told["text"]  # why the admin chat did not get it
    assert "reply_markup" not in told  # card buttons only work in the admin chat


async def test_a_backlog_alerts_once_per_episode_and_shows_in_stats(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    tg.add_chat(ADMIN_CHAT, title="Admins")
    user = await make_user(fresh_db.sessions)
    tg.add_chat(user.telegram_id)
    tg.fail_next("sendMessage", code=502, chat_id=user.telegram_id, times=-1)
    async with fresh_db.sessions.begin() as session:
        for n in range(3):  # queued 20 minutes ago, and Telegram keeps failing them
            await session.execute(
                text(
                    "INSERT INTO notifications (chat_id, kind, payload, dedup_key, created_at)"
                    " VALUES (:c, 'deposit_status', '{}', :k, now() - interval '20 minutes')"
                ),
                {"c": user.telegram_id, "k": f"old-{n}"},
            )
    app = await make_app(
        fresh_db,
        notifier=NotifierSettings(
            per_chat_per_second=20.0, group_per_minute=1200.0, retry_max_seconds=0.2
        ),
        tuning=QUICK,
    )

    async def alerts() -> list[Any]:
        return [r for r in await outbox_rows(fresh_db) if r.kind == "outbox_backlog"]

    await tg.wait_for_message(ADMIN_CHAT, contains="piling up")
    # Many more loops and measurements while the backlog lasts: still the one alert.
    failures = len(tg.calls("sendMessage", chat_id=user.telegram_id))
    await tg.wait_for(
        lambda c: len(tg.calls("sendMessage", chat_id=user.telegram_id)) >= failures + 10
    )
    [first] = await alerts()
    assert first.payload["depth"] == 3 and first.payload["oldest_minutes"] == 20
    admin = AdminGate(app.settings.telegram.admin_ids).authorize(ADMIN_ID)
    stats = await StatsService(app.sessions).figures(admin=admin)
    assert stats.outbox.depth == 3
    assert stats.outbox.oldest_age is not None and stats.outbox.oldest_age.total_seconds() > 1190
    assert "<b>Outbox</b>: 3 queued, the oldest for 20 min" in texts.admin_stats(stats)

    # Telegram recovers, the queue drains: the episode ends; a new one alerts again.
    tg.clear_faults()
    await until(lambda: settled(fresh_db))
    await until(lambda: _true(not app.notifier.backlog_episode))
    slow = next_telegram_id()
    tg.add_chat(slow)
    tg.hang_chat(slow)  # its send hangs: the row stays queued
    async with fresh_db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO notifications (chat_id, kind, payload, dedup_key, created_at)"
                " VALUES (:c, 'deposit_status', '{}', 'old-again', now() - interval '1 hour')"
            ),
            {"c": slow},
        )
    await tg.wait_for(lambda c: len(tg.sent_messages(ADMIN_CHAT)) >= 2)
    tg.unhang_chat(slow)
    await until(lambda: settled(fresh_db))
    assert [a.payload["oldest_minutes"] for a in await alerts()] == [20, 60]
    assert "piling up" in tg.sent_messages(ADMIN_CHAT)[1]["text"]


async def _true(value: bool) -> bool:
    return value


async def test_flood_control_on_a_day_old_row_ends_it_with_an_alert(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    tg.add_chat(ADMIN_CHAT, title="Admins")
    user = next_telegram_id()
    tg.add_chat(user)
    tg.fail_next("sendMessage", code=429, retry_after=1, chat_id=user, times=-1)
    async with fresh_db.sessions.begin() as session:
        for key, age in (("stale", timedelta(hours=25)), ("fresh", timedelta(minutes=1))):
            await session.execute(
                text(
                    "INSERT INTO notifications (chat_id, kind, payload, dedup_key, created_at)"
                    " VALUES (:c, 'deposit_status', '{}', :k, now() - make_interval(secs => :age))"
                ),
                {"c": user, "k": key, "age": age.total_seconds()},
            )
    await make_app(fresh_db, notifier=FAST_CHATS)
    alert = await tg.wait_for_message(ADMIN_CHAT, contains="could not be delivered")
    states = {r.dedup_key: r.state for r in await outbox_rows(fresh_db)}
    # 429 is transient: the young row waits for its turn, the day-old one ends now.
    assert (states["fresh"], states["stale"]) == ("pending", "failed")
    assert "TelegramRetryAfter" in alert["text"]
    tg.clear_faults()
    await until(lambda: settled(fresh_db))
    assert {r.dedup_key: r.state for r in await outbox_rows(fresh_db)}["fresh"] == "sent"


async def test_a_hung_send_is_cut_off_by_the_send_timeout_and_sent_once_later(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    """A live process whose send hangs gives the row up to a retry after send_timeout_seconds,
    well within its lease: a hung connection never holds a push for long."""
    user = next_telegram_id()
    tg.add_chat(user)
    tg.hang_chat(user)
    async with fresh_db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO notifications (chat_id, kind, payload, dedup_key)"
                " VALUES (:c, 'deposit_status', '{\"internal_id\": \"D-HUNG\"}', 'hung')"
            ),
            {"c": user},
        )
    settings = NotifierSettings(per_chat_per_second=20.0, send_timeout_seconds=1.0)
    await make_app(fresh_db, notifier=settings, tuning=QUICK)

    async def retried() -> bool:
        [row] = await outbox_rows(fresh_db)
        return "timeout" in str(await _last_error(fresh_db)) and row.state == "pending"

    await until(retried)
    tg.unhang_chat(user)  # the attempt in flight now goes through; the cut-off ones do not
    await until(lambda: settled(fresh_db))
    assert [m["text"].count("D-HUNG") for m in tg.sent_messages(user)] == [1]
    [row] = await outbox_rows(fresh_db)
    assert row.state == "sent"


async def _last_error(db: Db) -> str | None:
    async with db.sessions() as session:
        value = (
            await session.execute(
                text("SELECT last_error FROM notifications WHERE dedup_key='hung'")
            )
        ).scalar_one()
    return None if value is None else str(value)
