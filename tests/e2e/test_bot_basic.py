"""User flows through the real wiring: polling → middlewares → routers → DB → replies."""

from __future__ import annotations

import logging
import socket
import sys
import uuid
from decimal import Decimal

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot import keyboards, texts
from bot.app import App
from bot.callbacks import HistoryCallback, MenuAction, MenuCallback
from bot.factory import create_storage
from bot.handlers import get_routers
from bot.states import WithdrawFlow
from core import ledger
from core.config import TelegramSettings
from core.db.models import TxType
from core.errors import ConfigError, InsufficientFunds
from core.users import get_by_telegram_id
from tests.fakes.telegram import FakeTelegram
from tests.support.clock import FakeClock
from tests.support.db import Db, make_user, new_withdrawal, next_telegram_id, post_deposit
from tests.support.e2e import ADMIN_CHAT, MakeApp, press, say


async def seed(db: Db, user_id: int, amounts: list[str]) -> None:
    """Ledger entries for a user: positive deposits, negative withdrawals."""
    async with db.sessions.begin() as session:
        for amount in amounts:
            value = Decimal(amount)
            if value > 0:
                await post_deposit(session, user_id, value, f"e2e-{uuid.uuid4()}")
                continue
            await ledger.post(
                session,
                user_id=user_id,
                type=TxType.WITHDRAWAL,
                amount=value,
                idempotency_key=f"e2e-{uuid.uuid4()}",
                withdrawal_id=await new_withdrawal(session, user_id, -value),
            )


async def turn_page(tg: FakeTelegram, user: int, message_id: int, page: int) -> None:
    mark = tg.mark()
    await press(tg, user, message_id, HistoryCallback(page=page).pack())
    await tg.wait_for(
        lambda c: c.method == "editMessageText" and c.params["message_id"] == message_id,
        since=mark,
    )


async def new_user(db: Db, amounts: list[str]) -> int:
    """A registered user with ledger entries; returns the Telegram id."""
    user = await make_user(db.sessions)
    await seed(db, user.id, amounts)
    return user.telegram_id


async def test_start_registers_shows_balance_menu_and_commands(
    app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = next_telegram_id()
    reply = await say(tg, user, "/start", username="alice", first_name="Alice")
    assert "Welcome, Alice" in reply["text"] and "$0.00" in reply["text"]
    buttons = tg.messages[user][reply["message_id"]].callback_data()
    shown = [a for a in MenuAction if a != MenuAction.MENU]  # MENU is on the steps, not here
    assert sorted(buttons) == sorted(MenuCallback(action=a).pack() for a in shown)
    async with e2e_db.sessions() as session:
        stored = await get_by_telegram_id(session, user)
    assert stored is not None and (stored.username, stored.first_name) == ("alice", "Alice")

    # a returning user with a new name is refreshed, not duplicated
    await seed(e2e_db, stored.id, ["12.50"])
    reply = await say(tg, user, "/start", username="alice2", first_name="Alice")
    assert "$12.50" in reply["text"]
    async with e2e_db.sessions() as session:
        refreshed = await get_by_telegram_id(session, user)
    assert refreshed is not None and refreshed.id == stored.id and refreshed.username == "alice2"

    # start-up: webhook deleted before polling, commands for private chats and the admin chat
    methods = [c.method for c in tg.calls()]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    private = [c["command"] for c in tg.commands({"type": "all_private_chats"})]
    assert private == [c for c, _ in texts.USER_COMMANDS]
    admin = tg.commands({"type": "chat", "chat_id": ADMIN_CHAT})
    assert [c["command"] for c in admin] == [c for c, _ in texts.ADMIN_COMMANDS]


async def test_user_text_is_escaped(app: App, tg: FakeTelegram) -> None:
    user = next_telegram_id()
    reply = await say(tg, user, "/start", first_name="<b>Bob</b> & <i>co")
    assert "Welcome, <b>Bob</b> & <i>co!" in reply["text"]  # shown literally, not as markup


async def test_help_explains_every_command(app: App, tg: FakeTelegram) -> None:
    user = next_telegram_id()
    reply = await say(tg, user, "/help")
    for command, _ in texts.USER_COMMANDS:
        assert f"/{command}" in reply["text"]
    menu = await say(tg, user, "/start")
    mark = tg.mark()
    await press(tg, user, menu["message_id"], MenuCallback(action=MenuAction.HELP).pack())
    assert (await tg.wait_for_message(user, since=mark))["text"] == reply["text"]


async def test_balance_and_totals(app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    user = await new_user(e2e_db, ["100.00", "25.50", "-30.00"])
    reply = await say(tg, user, "/balance")
    assert "Available: $95.50" in reply["text"]
    assert "Total deposited: $125.50" in reply["text"]
    assert "Total withdrawn: $0.00" in reply["text"]

    menu = await say(tg, user, "/start")
    mark = tg.mark()
    await press(tg, user, menu["message_id"], MenuCallback(action=MenuAction.BALANCE).pack())
    assert (await tg.wait_for_message(user, since=mark))["text"] == reply["text"]


async def test_history_pages_with_buttons(app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    user = await new_user(e2e_db, [f"{i}.00" for i in range(1, 12)] + ["-5.00"])  # 12 entries
    first = await say(tg, user, "/history")
    text = first["text"]
    assert text.startswith("Transactions (page 1 of 3)")
    assert "Withdrawal\n-$5.00 → balance $61.00" in text  # newest first, signed
    assert "Deposit\n+$11.00 → balance $66.00" in text
    msg_id = first["message_id"]
    older, newer = HistoryCallback(page=1).pack(), HistoryCallback(page=0).pack()
    assert tg.messages[user][msg_id].callback_data() == [older]

    await turn_page(tg, user, msg_id, 1)
    page2 = tg.messages[user][msg_id]
    assert page2.text is not None and page2.text.startswith("Transactions (page 2 of 3)")
    assert page2.callback_data() == [newer, HistoryCallback(page=2).pack()]
    assert "+$7.00 → balance $28.00" in page2.text

    await turn_page(tg, user, msg_id, 2)
    page3 = tg.messages[user][msg_id]
    assert page3.text is not None and page3.text.startswith("Transactions (page 3 of 3)")
    assert "+$1.00 → balance $1.00" in page3.text
    assert page3.callback_data() == [HistoryCallback(page=1).pack()]

    await turn_page(tg, user, msg_id, 1)
    assert tg.messages[user][msg_id].text == page2.text
    assert len(tg.sent_messages(user)) == 1  # paging edits, never sends

    empty = await say(tg, next_telegram_id(), "/history")
    assert empty["text"] == texts.HISTORY_EMPTY


@pytest.mark.parametrize(
    "data", ["h1:-1", "h1:999", "h1:abc", "h1:", "h1:1:2", "h0:1", "zz", "m1:bogus", "m1:"]
)
async def test_forged_or_malformed_callbacks_change_nothing(
    app: App, tg: FakeTelegram, e2e_db: Db, data: str
) -> None:
    user = await new_user(e2e_db, ["1.00"] * 7)
    shown = await say(tg, user, "/history")
    before = tg.messages[user][shown["message_id"]]
    text, keyboard = before.text, before.reply_markup
    mark = tg.mark()
    answer = await press(tg, user, shown["message_id"], data, forged=True)
    assert answer.get("text") in (texts.HISTORY_NO_PAGE, texts.BUTTON_EXPIRED)
    after = tg.messages[user][shown["message_id"]]
    assert (after.text, after.reply_markup) == (text, keyboard)
    assert [c.method for c in tg.calls(chat_id=user) if c.seq >= mark] == []
    assert not [c for c in tg.calls() if c.seq >= mark and c.method.startswith("edit")]


async def test_unknown_text_gets_a_hint(app: App, tg: FakeTelegram) -> None:
    user = next_telegram_id()
    assert (await say(tg, user, "hello there"))["text"] == texts.UNKNOWN_INPUT
    assert (await say(tg, user, "/nonsense"))["text"] == texts.UNKNOWN_INPUT


async def test_banned_user_is_refused(app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    banned = await make_user(e2e_db.sessions, is_banned=True)
    user = banned.telegram_id
    assert (await say(tg, user, "/start"))["text"] == texts.BANNED
    assert (await say(tg, user, "/balance"))["text"] == texts.BANNED
    # a button on an old message: an alert, nothing else
    tg.add_chat(user)
    sent = await app.bot.send_message(user, "menu", reply_markup=keyboards.main_menu())
    mark = tg.mark()
    answer = await press(tg, user, sent.message_id, MenuCallback(action=MenuAction.BALANCE).pack())
    assert answer["text"] == texts.BANNED and answer.get("show_alert") is True
    assert tg.sent_messages(user)[-1]["message_id"] == sent.message_id
    assert [c for c in tg.calls(chat_id=user) if c.seq >= mark] == []


async def test_throttling_answers_once_per_burst(
    make_app: MakeApp, tg: FakeTelegram, e2e_db: Db
) -> None:
    clock = FakeClock()
    await make_app(e2e_db, throttle_per_second=1.0, throttle_clock=clock)
    user = next_telegram_id()
    mark = tg.mark()
    for _ in range(6):
        tg.send_text(user, "/balance")
    await tg.wait_for_message(user, contains="Your balance", since=mark)
    await tg.wait_for_message(user, contains=texts.SLOW_DOWN, since=mark)
    # after the bucket refilled: served again; the burst got exactly two answers
    clock.advance(1.0)
    later = tg.mark()
    tg.send_text(user, "/balance")
    await tg.wait_for_message(user, contains="Your balance", since=later)
    texts_sent = [m["text"] for m in tg.sent_messages(user)]
    assert texts_sent.count(texts.SLOW_DOWN) == 1
    assert len(texts_sent) == 3


async def test_cancel_leaves_any_flow(app: App, tg: FakeTelegram) -> None:
    user = next_telegram_id()
    assert (await say(tg, user, "/cancel"))["text"] == texts.NOTHING_TO_CANCEL
    state = app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)
    await state.set_state(WithdrawFlow.amount)
    await state.update_data(currency="BTC")
    assert (await say(tg, user, "/cancel"))["text"] == texts.CANCELLED
    assert await state.get_state() is None and await state.get_data() == {}


async def test_errors_are_friendly_and_logged(
    make_app: MakeApp, tg: FakeTelegram, e2e_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Router(name="failing")

    async def domain(message: Message) -> None:
        raise InsufficientFunds(balance=Decimal("5.00"), amount=Decimal("9.00"))

    async def bug(message: Message) -> None:
        raise RuntimeError("database exploded at 0xdeadbeef")

    failing.message.register(domain, Command("domain"))
    failing.message.register(bug, Command("bug"))
    await make_app(e2e_db, routers=get_routers(failing))
    user = next_telegram_id()

    reply = await say(tg, user, "/domain")
    assert reply["text"] == "Not enough balance: you have $5.00."
    with caplog.at_level(logging.ERROR, logger="bot.handlers.common"):
        update = tg.send_text(user, "/bug")
        reply = await tg.wait_for_message(user, contains="Sorry")
    assert reply["text"] == texts.GENERIC_ERROR
    record = next(r for r in caplog.records if "failed in" in r.getMessage())
    line = record.getMessage()
    assert f"update {update['update_id']} from user {user}" in line
    assert "test_bot_basic.test_errors_are_friendly_and_logged.<locals>.bug" in line
    assert record.exc_info is not None


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not redis_reachable(), reason="no Redis on 127.0.0.1:6379 (the default FSM storage is memory)"
)
async def test_redis_fsm_storage(make_app: MakeApp, tg: FakeTelegram, e2e_db: Db) -> None:
    from aiogram.fsm.storage.memory import SimpleEventIsolation
    from aiogram.fsm.storage.redis import RedisStorage

    app = await make_app(e2e_db, fsm_storage="redis", redis_url="redis://127.0.0.1:6379/15")
    assert isinstance(app.dispatcher.storage, RedisStorage)
    assert isinstance(app.dispatcher.fsm.events_isolation, SimpleEventIsolation)
    user = next_telegram_id()
    state = app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)
    await state.set_state(WithdrawFlow.address)
    assert (await say(tg, user, "/cancel"))["text"] == texts.CANCELLED
    assert await state.get_state() is None


def test_redis_mode_without_the_package_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiogram.fsm.storage.redis", None)  # as if not installed
    with pytest.raises(ConfigError) as exc_info:
        create_storage(TelegramSettings(fsm_storage="redis"))
    assert "telegram.fsm_storage" in exc_info.value.params["detail"]


async def test_flood_control_and_server_errors_are_retried(app: App, tg: FakeTelegram) -> None:
    user = next_telegram_id()
    await say(tg, user, "/start")

    # a reply hit by 429 waits retry_after and is sent; a 5xx is retried with backoff
    tg.fail_next("sendMessage", code=429, retry_after=1, chat_id=user)
    tg.fail_next("sendMessage", code=502, raw_body="<html>502</html>", chat_id=user)
    mark = tg.mark()
    reply = await say(tg, user, "/help")
    assert reply["text"].startswith("How this bot works")
    calls = [c for c in tg.calls("sendMessage", chat_id=user) if c.seq >= mark]
    assert [c.error_code for c in calls] == [429, 502, None]
    assert calls[1].at - calls[0].at >= 0.95

    # answerCallbackQuery is not retried (a late answer is worthless), and its failure does not
    # stop the handler: the help text still comes
    menu = await say(tg, user, "/start")
    tg.fail_next("answerCallbackQuery", code=429, retry_after=1)
    mark = tg.mark()
    tg.press_button(user, menu["message_id"], user, MenuCallback(action=MenuAction.HELP).pack())
    # (the help reflects the live catalogue, which a background sync may change meanwhile)
    helped = await tg.wait_for_message(user, since=mark)
    assert helped["text"].startswith("How this bot works")
    assert [c.error_code for c in tg.calls("answerCallbackQuery") if c.seq >= mark] == [429]


async def test_polling_honours_retry_after_on_get_updates(app: App, tg: FakeTelegram) -> None:
    user = next_telegram_id()
    tg.fail_next("getUpdates", code=429, retry_after=1)
    mark = tg.mark()
    tg.send_text(user, "/help")  # ends the pending long poll; the next one gets the 429
    await tg.wait_for(lambda c: c.method == "getUpdates" and c.error_code == 429, since=mark)
    reply = await say(tg, user, "/help")
    assert reply["text"].startswith("How this bot works")
    polls = [c for c in tg.calls("getUpdates") if c.seq >= mark]
    refused = next(i for i, c in enumerate(polls) if c.error_code == 429)
    assert polls[refused + 1].at - polls[refused].at >= 0.95
