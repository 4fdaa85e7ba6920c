"""Languages through the real wiring: a user whose Telegram speaks Russian is answered in
Russian at every step, /language stores a choice that outlives a restart, a push speaks its
recipient's language when it is sent, the admin chat speaks telegram.admin_language, and the
command menu is published per language."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import App
from bot.callbacks import DepositCurrencyCallback, LanguageCallback, MenuAction, MenuCallback
from core import outbox
from core.users import get_by_telegram_id
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, DbServer, clone, make_user, next_telegram_id, post_deposit
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID, MakeApp, press, say

NBSP = "\u00a0"
COINS = text(
    "INSERT INTO currencies (code, name, token, network, decimal_places, min_amount_usd)"
    " VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', 8, 2.00) ON CONFLICT DO NOTHING"
)


@pytest.fixture(scope="module")
async def locale_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    db = await clone(db_server, template_db, COINS, label="locale_", pool_size=10)
    yield db
    await db.engine.dispose()


async def press_ru(tg: FakeTelegram, user: int, message_id: int, data: str) -> None:
    """A button pressed by a user whose Telegram speaks Russian; waits for the edit."""
    mark = tg.mark()
    tg.press_button(user, message_id, user, data, language_code="ru-RU")
    await tg.wait_for(lambda c: c.method == "editMessageText", since=mark)


def menu_data() -> str:
    return MenuCallback(action=MenuAction.MENU).pack()


async def test_a_russian_user_is_answered_in_russian_at_every_step(
    make_app: MakeApp, locale_db: Db, tg: FakeTelegram
) -> None:
    app = await make_app(locale_db)
    user = next_telegram_id()

    async def ru(message: str) -> dict[str, Any]:
        return await say(tg, user, message, first_name="Иван", language_code="ru-RU")

    start = await ru("/start")
    assert "Здравствуйте, Иван" in start["text"] and f"0,00{NBSP}$" in start["text"]
    stored = await get_by_telegram_id_in(locale_db, user)
    async with locale_db.sessions.begin() as session:
        await post_deposit(session, stored, Decimal("2000"), f"locale-{uuid.uuid4()}")
    assert "Доступно: 2" in (await ru("/balance"))["text"]

    # deposit: coin, then the amount step, which refuses in Russian and leads back to the menu
    pick = await ru("/deposit")
    assert "Какой монетой" in pick["text"]
    await press_ru(tg, user, pick["message_id"], DepositCurrencyCallback(code="BTC").pack())
    step = tg.messages[user][pick["message_id"]]
    assert "На какую сумму пополнить" in (step.text or "")
    assert menu_data() in step.callback_data()
    refused = await ru("сто")
    assert "Не могу прочитать это как число" in refused["text"]
    await press_ru(tg, user, pick["message_id"], menu_data())
    assert (tg.messages[user][pick["message_id"]].text or "").startswith("Главное меню")
    context = app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)
    assert await context.get_state() is None  # the step was left

    # withdrawal: an amount written the Russian way is read back
    ask = await ru("/withdraw")
    assert "Сколько вывести" in ask["text"]
    assert "В какой монете" in (await ru(f"1{NBSP}234,50"))["text"]


async def get_by_telegram_id_in(db: Db, telegram_id: int) -> int:
    async with db.sessions() as session:
        found = await get_by_telegram_id(session, telegram_id)
    assert found is not None
    return found.id


async def test_language_choice_is_stored_and_outlives_a_restart(
    make_app: MakeApp, locale_db: Db, tg: FakeTelegram
) -> None:
    first = await make_app(locale_db)
    user = next_telegram_id()
    picker = await say(tg, user, "/language")
    assert picker["text"] == "Choose your language:"
    mark = tg.mark()
    await press(tg, user, picker["message_id"], LanguageCallback(locale="ru").pack())
    await tg.wait_for(lambda c: c.method == "editMessageText", since=mark)
    assert (tg.messages[user][picker["message_id"]].text or "").startswith("Готово")
    async with locale_db.sessions() as session:
        stored = await get_by_telegram_id(session, user)
    assert stored is not None and (stored.locale, stored.language) == ("ru", "en")

    await first.stop()
    await make_app(locale_db)
    again = await say(tg, user, "/start", language_code="en")  # Telegram still says English
    assert "Здравствуйте" in again["text"]

    forged = await press(
        tg, user, picker["message_id"], LanguageCallback(locale="de").pack(), forged=True
    )
    assert forged["text"].startswith("Эта кнопка больше не действует")


async def test_a_push_speaks_its_recipients_language(
    make_app: MakeApp, locale_db: Db, tg: FakeTelegram
) -> None:
    ru_user = await make_user(locale_db.sessions, language="ru")
    chosen_ru = await make_user(locale_db.sessions, language="en", locale="ru")
    en_user = await make_user(locale_db.sessions, language="en")
    payload = {"status": "rejected", "internal_id": "W-77", "amount_usd": "1234.50"}
    async with locale_db.sessions.begin() as session:
        for user in (ru_user, chosen_ru, en_user):
            tg.add_chat(user.telegram_id)
            await outbox.enqueue(
                session,
                chat_id=user.telegram_id,
                kind="withdrawal_status",
                payload=payload,
                dedup_key=f"locale-{uuid.uuid4()}",
            )
    await make_app(locale_db)
    for user in (ru_user, chosen_ru):
        pushed = await tg.wait_for_message(user.telegram_id, contains="W-77")
        assert "Вывод отклонён" in pushed["text"]
        assert f"Возвращено на баланс: 1{NBSP}234,50{NBSP}$" in pushed["text"]
    pushed = await tg.wait_for_message(en_user.telegram_id, contains="W-77")
    assert "Withdrawal rejected" in pushed["text"]
    assert "Returned to your balance: $1,234.50" in pushed["text"]


async def test_the_admin_chat_speaks_the_admin_language(
    make_app: MakeApp, locale_db: Db, tg: FakeTelegram
) -> None:
    tg.add_chat(ADMIN_CHAT, title="Admins")
    await make_app(locale_db, admin_language="ru")
    mark = tg.mark()
    tg.send_text(ADMIN_ID, "/help", chat_id=ADMIN_CHAT, language_code="en")
    reply = await tg.wait_for_message(ADMIN_CHAT, since=mark)
    assert "Команды администратора" in reply["text"]
    # the same admin in a private chat is a user like any other: their own language
    private = await say(tg, ADMIN_ID, "/start", language_code="en")
    assert "Welcome" in private["text"]

    admin_menu = tg.commands({"type": "chat", "chat_id": ADMIN_CHAT})
    assert admin_menu[0]["description"] == "Выводы, ждущие действия"


async def test_the_command_menu_is_published_per_language(app: App, tg: FakeTelegram) -> None:
    default = tg.commands({"type": "all_private_chats"})
    russian = tg.commands({"type": "all_private_chats"}, language_code="ru")
    assert [c["command"] for c in default] == [c["command"] for c in russian]
    described = {c["command"]: c["description"] for c in russian}
    assert described["balance"] == "Баланс и итоги"
    assert {c["command"]: c["description"] for c in default}["balance"] == "Balance and totals"
    assert "language" in described
