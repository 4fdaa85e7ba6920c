"""Admin views, exports, pushes about adjustments and /help through the real wiring (build_app,
FakeTelegram, a real database): /transactions with its filters and page buttons (forged ones and
strangers included), /export as a CSV file read back and compared with the ledger, the user's own
/export, the adjustment push in the user's language with the reason, and the admins' /help."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Router
from aiogram.filters import Command
from sqlalchemy import text

from bot import texts
from bot.app import App
from bot.callbacks import (
    AdminAdjustCallback,
    AdminTransactionsCallback,
    ConfirmAction,
    LedgerPageDirection,
    LedgerTypeCode,
)
from bot.handlers import admin, ids
from bot.i18n import t, use_locale
from bot.reports.export import COLUMNS
from core.admin import Adjustments
from core.auth import AdminGate
from core.config import NotifierSettings
from core.db.models import TxType, User
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, make_user, next_telegram_id, post_deposit
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID, MakeApp, say

D = Decimal
STRANGER = 777_000_667
FAST_CHATS = NotifierSettings(per_chat_per_second=50.0, group_per_minute=3000.0)
_MONEY_SQL = text(
    """
    SELECT t.id, t.created_at, u.telegram_id, u.username, t.type, t.amount_usd,
           t.balance_after, coalesce(p.internal_payment_id, w.internal_withdrawal_id) AS ref,
           t.description
      FROM transactions t JOIN users u ON u.id = t.user_id
      LEFT JOIN payments p ON p.id = t.payment_id
      LEFT JOIN withdrawal_requests w ON w.id = t.withdrawal_id
     WHERE t.created_at >= :start AND t.created_at < :end
       AND (CAST(:user_id AS bigint) IS NULL OR t.user_id = :user_id)
     ORDER BY t.id
    """
)


@pytest.fixture
async def reports_app(make_app: MakeApp, e2e_db: Db, tg: FakeTelegram) -> App:
    tg.add_chat(ADMIN_CHAT, title="Admins")
    return await make_app(e2e_db, notifier=FAST_CHATS, admin_ids=[ADMIN_ID])


async def customer(db: Db, tg: FakeTelegram, amount: str, **fields: Any) -> User:
    user = await make_user(db.sessions, **fields)
    tg.add_chat(user.telegram_id)
    async with db.sessions.begin() as session:
        await post_deposit(session, user.id, D(amount), f"e2e-rep:{secrets.token_hex(6)}")
    return user


async def write(tg: FakeTelegram, who: int, message: str) -> dict[str, Any]:
    """Someone writes in the admin chat; the bot's next message there."""
    mark = tg.mark()
    tg.send_text(who, message, chat_id=ADMIN_CHAT)
    return await tg.wait_for_message(ADMIN_CHAT, since=mark)


async def press(
    tg: FakeTelegram, who: int, message_id: int, data: str, *, forged: bool = False
) -> dict[str, Any]:
    """Someone presses a button of a message in the admin chat; the callback answer."""
    query = tg.press_button(who, message_id, ADMIN_CHAT, data, check_button=not forged)
    await tg.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query
    )
    answer = tg.callback_answer(query)
    assert answer is not None
    return answer


async def turn(tg: FakeTelegram, message_id: int, data: str) -> None:
    """An admin presses a page button; until the list is edited (the answer comes first)."""
    mark = tg.mark()
    await press(tg, ADMIN_ID, message_id, data)
    await tg.wait_for(
        lambda c: c.method == "editMessageText" and c.params.get("message_id") == message_id,
        since=mark,
    )


def shown(tg: FakeTelegram, message_id: int) -> tuple[str | None, list[str]]:
    stored = tg.messages[ADMIN_CHAT][message_id]
    return stored.text, stored.callback_data()


async def all_sent(db: Db, chat_id: int) -> None:
    """Until the pushes to ``chat_id`` are out: a later test's fake Telegram does not know the
    chat, and its alert about an undelivered row would land in that test's admin chat."""
    deadline = time.monotonic() + 10.0
    while True:
        async with db.sessions() as session:
            pending = await session.scalar(
                text(
                    "SELECT count(*) FROM notifications WHERE chat_id = :c AND state = 'pending'"
                ),
                {"c": chat_id},
            )
        if pending == 0:
            return
        assert time.monotonic() < deadline, f"{pending} pushes to {chat_id} still queued"
        await asyncio.sleep(0.05)


def english(key: str, **args: Any) -> str:
    with use_locale("en"):
        return t(key, **args)


# --- the adjustment push and /history ---------------------------------------------------------


async def test_adjustment_is_pushed_in_the_users_language_with_the_reason(
    reports_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    name = f"ru_{secrets.token_hex(3)}"
    user = await customer(e2e_db, tg, "30.00", username=name, language="ru")
    confirm = await write(tg, ADMIN_ID, f"/adjust @{name} 5.00 компенсация <b>задержки</b>")
    assert "Confirm" in confirm["text"]
    # the buttons come once the confirmation is recorded (bot.handlers.admin.commands)
    await tg.wait_for(lambda _: bool(shown(tg, confirm["message_id"])[1]))
    mark = tg.mark()
    ok = AdminAdjustCallback(action=ConfirmAction.CONFIRM).pack()
    await press(tg, ADMIN_ID, confirm["message_id"], ok)
    push = await tg.wait_for_message(user.telegram_id, since=mark)
    assert push["text"].splitlines()[:3] == [
        "✏️ Администратор добавил на ваш баланс 5,00\xa0$",
        "Ваш баланс теперь: 35,00\xa0$",
        "Причина: компенсация <b>задержки</b>",  # escaped: shown as typed, not as bold
    ]

    history = await say(tg, user.telegram_id, "/history", language_code="ru")
    assert "компенсация <b>задержки</b>" in history["text"]


async def test_bonus_push_and_history_reason(
    reports_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg, "30.00", language="en")
    service = Adjustments(reports_app.sessions)
    mark = tg.mark()
    await service.post(
        user.telegram_id,
        D("3.00"),
        "welcome & thanks",
        admin=AdminGate([ADMIN_ID]).authorize(ADMIN_ID),
        key=secrets.token_hex(4),
        kind=TxType.BONUS,
    )
    reports_app.notifier.wake()
    push = await tg.wait_for_message(user.telegram_id, since=mark)
    assert push["text"].startswith("🎁 You received a bonus of $3.00\nYour balance now: $33.00")
    assert "Reason: welcome & thanks" in push["text"]
    history = await say(tg, user.telegram_id, "/history")
    assert "Bonus\n+$3.00 → balance $33.00\nReason: welcome & thanks" in history["text"]
    assert "Deposit\n+$30.00 → balance $30.00\n" in history["text"] + "\n"  # no reason there


# --- /transactions ------------------------------------------------------------------------------


async def test_transactions_filters_and_pages(
    reports_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    name = f"tx_{secrets.token_hex(3)}"
    user = await customer(e2e_db, tg, "100.00", username=name)
    service = Adjustments(reports_app.sessions)
    long_reason = "<&>" * 165  # 495 characters, escaped to far more
    for i in range(12):
        await service.post(
            user.telegram_id,
            D(f"{i + 1}.00"),
            f"{i} {long_reason}",
            admin=AdminGate([ADMIN_ID]).authorize(ADMIN_ID),
            key=secrets.token_hex(5),
            kind=TxType.BONUS,
        )

    first = await write(tg, ADMIN_ID, f"/transactions bonus @{name}")
    text0, buttons0 = shown(tg, first["message_id"])
    assert text0 is not None and text0.startswith("Transactions 1–10 of 12, newest first")
    assert f"user {user.telegram_id} · type Bonus" in text0
    assert len(text0) <= 4096
    assert text0.count("Reason: ") == 10 and "+$12.00 → balance $178.00" in text0
    assert len(buttons0) == 1
    older = AdminTransactionsCallback.unpack(buttons0[0])
    assert older.direction is LedgerPageDirection.OLDER
    assert (older.user, older.type) == (user.telegram_id, LedgerTypeCode.BONUS)

    # A stranger's press (a member of the admin chat who is no admin) changes nothing.
    refused = await press(tg, STRANGER, first["message_id"], buttons0[0])
    assert refused["text"] == texts.ADMIN_ONLY
    assert shown(tg, first["message_id"]) == (text0, buttons0)

    await turn(tg, first["message_id"], buttons0[0])
    text1, buttons1 = shown(tg, first["message_id"])
    assert text1 is not None and text1.startswith("Transactions 11–12 of 12")
    assert "+$1.00 → balance $101.00" in text1
    assert [AdminTransactionsCallback.unpack(b).direction for b in buttons1] == [
        LedgerPageDirection.NEWER
    ]
    await turn(tg, first["message_id"], buttons1[0])
    assert shown(tg, first["message_id"]) == (text0, buttons0)

    # Forged or stale pages: refused, the list stays as it is.
    nothing_older = AdminTransactionsCallback(
        cursor=1, direction=LedgerPageDirection.OLDER, user=user.telegram_id
    ).pack()
    no_such_day = AdminTransactionsCallback(
        cursor=10**12, direction=LedgerPageDirection.OLDER, since=20260231
    ).pack()
    for data in (nothing_older, no_such_day):
        answer = await press(tg, ADMIN_ID, first["message_id"], data, forged=True)
        assert answer["text"] == english("transactions-page-gone")
        assert shown(tg, first["message_id"]) == (text0, buttons0)
    for data in ("at1:abc:o:::", "at1:5:x:::", "at1:0:o:::", "at1:5:o:-3::"):
        answer = await press(tg, ADMIN_ID, first["message_id"], data, forged=True)
        assert answer["text"] == texts.BUTTON_EXPIRED
        assert shown(tg, first["message_id"]) == (text0, buttons0)

    none = await write(tg, ADMIN_ID, f"/transactions 2099-01-01 {user.telegram_id}")
    assert none["text"].endswith(english("transactions-none"))
    one_day = await write(
        tg, ADMIN_ID, f"/transactions deposit @{name} {datetime.now(UTC).date()}"
    )
    assert "Transactions 1–1 of 1" in one_day["text"] and "PAY_" in one_day["text"]
    await all_sent(e2e_db, user.telegram_id)


async def test_transactions_bad_arguments_and_strangers(
    reports_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    assert (await write(tg, ADMIN_ID, "/transactions lunch"))["text"] == english(
        "transactions-bad-argument",
        argument="lunch",
        types="deposit, withdrawal, payment, refund, fee, bonus, adjustment",
    )
    assert (await write(tg, ADMIN_ID, "/transactions 2026-02-30"))["text"] == english(
        "transactions-bad-date", argument="2026-02-30"
    )
    repeated = await write(tg, ADMIN_ID, "/transactions bonus Deposit")
    assert repeated["text"] == english("transactions-repeated", argument="Deposit", what="type")
    missing = await write(tg, ADMIN_ID, "/transactions @nobody_at_all_here")
    assert missing["text"] == english("transactions-user-not-found", user="@nobody_at_all_here")
    for command in ("/transactions", "/export", "/help"):
        assert (await write(tg, STRANGER, command))["text"] == texts.ADMIN_ONLY


# --- /export ------------------------------------------------------------------------------------


async def document(tg: FakeTelegram, chat_id: int, mark: int) -> tuple[str, list[list[str]]]:
    sent = await tg.wait_for(
        lambda c: c.method == "sendDocument" and c.chat_id == chat_id and c.ok, since=mark
    )
    upload = sent.upload
    assert upload is not None and upload.filename is not None
    assert upload.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(upload.data.decode("utf-8-sig"), newline="")))
    return upload.filename, rows


async def ledger_rows(db: Db, since: date, until: date, user_id: int | None = None) -> list[Any]:
    start = datetime.combine(since, datetime.min.time(), UTC)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
    async with db.sessions() as session:
        found = await session.execute(_MONEY_SQL, {"start": start, "end": end, "user_id": user_id})
        return list(found.all())


def check_against_ledger(rows: list[list[str]], expected: list[Any]) -> None:
    """Every CSV row is the ledger row, exactly: amounts parse back to the same Decimal."""
    header, body = rows[0], rows[1:]
    assert header == [english(key) for key in COLUMNS]
    assert len(body) == len(expected) > 0
    for cells, row in zip(body, expected, strict=True):
        tx_id, at, telegram_id, username, kind, amount, balance, ref, reason = cells
        assert int(tx_id) == row.id
        assert datetime.fromisoformat(at) == row.created_at.replace(microsecond=0)
        assert at.endswith("Z")
        assert int(telegram_id) == row.telegram_id
        assert username.removeprefix("'") == (row.username or "")
        assert kind == row.type
        assert D(amount) == row.amount_usd and amount == f"{row.amount_usd:.2f}"
        assert D(balance) == row.balance_after and "E" not in amount + balance
        assert ref == (row.ref or "")
        assert reason.removeprefix("'") == (row.description or "")


async def test_admin_export_is_the_ledger_exactly(
    reports_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg, "50.00", username="=evil_name")
    service = Adjustments(reports_app.sessions)
    reasons = [
        '=HYPERLINK("http://x")',
        "-2+3",
        "+1 more",
        "@SUM(A1)",
        'плюс, "кавычки"\nи строка',
    ]
    for reason in reasons:
        await service.post(
            user.telegram_id,
            D("-1.25"),
            reason,
            admin=AdminGate([ADMIN_ID]).authorize(ADMIN_ID),
            key=secrets.token_hex(5),
        )
    mark = tg.mark()
    tg.send_text(ADMIN_ID, "/export", chat_id=ADMIN_CHAT)
    name, rows = await document(tg, ADMIN_CHAT, mark)
    today = datetime.now(UTC).date()
    since = today - timedelta(days=29)
    assert name == f"ledger_{since}_{today}.csv"
    check_against_ledger(rows, await ledger_rows(e2e_db, since, today))
    mine = [r for r in rows[1:] if r[2] == str(user.telegram_id)]
    assert [r[8] for r in mine[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'-2+3",
        "'+1 more",
        "'@SUM(A1)",
        'плюс, "кавычки"\nи строка',
    ]
    assert {r[3] for r in mine} == {"'=evil_name"}
    assert [r[5] for r in mine[1:]] == ["-1.25"] * 5  # amounts stay numbers
    assert mine[-1][6] == "43.75"
    caption = tg.calls("sendDocument", chat_id=ADMIN_CHAT)[-1].params.get("caption")
    assert caption is not None and "transactions" in caption

    # An explicit period, both days included.
    mark = tg.mark()
    tg.send_text(ADMIN_ID, f"/export {today} {today}", chat_id=ADMIN_CHAT)
    name, rows = await document(tg, ADMIN_CHAT, mark)
    assert name == f"ledger_{today}_{today}.csv"
    check_against_ledger(rows, await ledger_rows(e2e_db, today, today))
    await all_sent(e2e_db, user.telegram_id)


async def test_export_periods_are_checked(reports_app: App, tg: FakeTelegram) -> None:
    cases = {
        "/export 2026-02-01 2026-01-01": english(
            "export-order", since="Feb 1, 2026", until="Jan 1, 2026"
        ),
        "/export 2020-01-01 2026-01-01": english("export-too-long", days=366),
        "/export 2026-01-01 soon": english("export-bad-date", argument="soon"),
        "/export 2026-13-01": english("export-bad-date", argument="2026-13-01"),
        "/export 2026-01-01 2026-01-02 2026-01-03": english("export-too-many"),
        "/export 2001-01-01 2001-01-31": english(
            "export-empty", since="Jan 1, 2001", until="Jan 31, 2001"
        ),
    }
    for command, answer in cases.items():
        assert (await write(tg, ADMIN_ID, command))["text"] == answer
    assert not tg.calls("sendDocument", chat_id=ADMIN_CHAT)


async def test_users_export_their_own_history_only(
    reports_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg, "20.00")
    other = await customer(e2e_db, tg, "70.00")
    async with e2e_db.sessions.begin() as session:
        await post_deposit(session, user.id, D("0.10"), f"e2e-rep:{secrets.token_hex(6)}")
    mark = tg.mark()
    tg.send_text(user.telegram_id, "/export")
    _, rows = await document(tg, user.telegram_id, mark)
    today = datetime.now(UTC).date()
    expected = await ledger_rows(e2e_db, today - timedelta(days=29), today, user.id)
    check_against_ledger(rows, expected)
    assert [r[5] for r in rows[1:]] == ["20.00", "0.10"]
    assert all(r[2] == str(user.telegram_id) for r in rows[1:])

    # There is no way to name someone else: a Telegram id is no date.
    refused = await say(tg, user.telegram_id, f"/export {other.telegram_id}")
    assert refused["text"] == english("export-bad-date", argument=str(other.telegram_id))
    empty = await say(tg, next_telegram_id(), "/export")
    assert empty["text"].startswith("No transactions from")


# --- /help --------------------------------------------------------------------------------------


def registered_admin_commands() -> set[str]:
    """Every command the admin chat's handlers answer for admins (the refusals left out), and
    /id, which answers everywhere."""
    found: set[str] = set()

    def walk(router: Router) -> None:
        if router.name.endswith(".refusal"):
            return
        for handler in router.message.handlers:
            for flt in handler.filters or []:
                if isinstance(flt.callback, Command):
                    found.update(str(c) for c in flt.callback.commands)
        for child in router.sub_routers:
            walk(child)

    walk(admin.create_router())
    walk(ids.create_router())
    return found


async def test_admin_help_lists_every_admin_command(reports_app: App, tg: FakeTelegram) -> None:
    commands = registered_admin_commands()
    assert {"transactions", "export", "adjust", "help", "id"} <= commands
    helped = await write(tg, ADMIN_ID, "/help")
    lines = helped["text"].splitlines()
    for command in commands:
        line = next((x for x in lines if x.startswith(f"/{command} ")), None)
        assert line is not None, command
        assert "Example: /" + command in line, line


async def test_user_help_tells_live_limits(reports_app: App, tg: FakeTelegram) -> None:
    payments = reports_app.settings.payments
    helped = await say(tg, next_telegram_id(), "/help")
    body = helped["text"]
    assert body.startswith("How this bot works")
    assert f"to ${payments.max_deposit_usd:,.2f} per deposit" in body
    assert f"Withdrawals (/withdraw): from ${payments.min_withdrawal_usd:,.2f}" in body
    assert "our service fee (1% of the amount)" in body
    assert f"every {round(payments.poll_interval_seconds)} s" in body
    assert "An admin reviews every withdrawal by hand" in body
    assert "/export — your transactions as a CSV file" in body
