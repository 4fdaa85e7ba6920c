"""The withdrawal flow through the real wiring: amount → coin → address (→ memo) → confirmation
with the fees → Confirm; refusals ask again for the one wrong field; double taps, /cancel, My
withdrawals and restarts. Against FakeTelegram and a database of this module's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import text

from bot import texts
from bot.app import App, build_app
from bot.callbacks import (
    ConfirmAction,
    MenuAction,
    MenuCallback,
    WithdrawalCancelCallback,
    WithdrawConfirmCallback,
    WithdrawCurrencyCallback,
)
from bot.states import WithdrawFlow
from core import ledger
from core.db.models import TxType
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import Call, FakeTelegram, StoredMessage
from tests.support.db import Db, DbServer, balance, clone, make_user, post_deposit
from tests.support.e2e import ADMIN_CHAT, FAST, MakeApp, app_settings, press, say

D = Decimal

TRX = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
XRP = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"

# Default fees (core.config): network $1.00, service 1 %, minimum $10.00; ETH's own is $12.00.
COINS = text(
    """
    INSERT INTO currencies (code, name, token, network, decimal_places, needs_memo, sort_order,
                            min_withdrawal_usd)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', 8, false, 10, NULL),
           ('ETH', 'Ethereum', 'ETH', 'eth', 18, false, 20, 12.00),
           ('USDTTRC20', 'Tether USD (TRC20)', 'USDT', 'trx', 6, false, 30, NULL),
           ('XRP', 'Ripple', 'XRP', 'xrp', 6, true, 70, NULL)
    """
)
CONFIRM = WithdrawConfirmCallback(action=ConfirmAction.CONFIRM).pack()
ABORT = WithdrawConfirmCallback(action=ConfirmAction.CANCEL).pack()
MENU = MenuCallback(action=MenuAction.MENU).pack()


@pytest.fixture(scope="module")
async def flows_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    db = await clone(db_server, template_db, COINS, label="wdflow_", pool_size=10)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def app(make_app: MakeApp, flows_db: Db) -> App:
    return await make_app(flows_db)


# --- helpers -------------------------------------------------------------------------------------


async def funded(db: Db, amount: str) -> tuple[int, int]:
    """A registered user with a deposit: (Telegram id, user id)."""
    user = await make_user(db.sessions)
    await post(db, user.id, amount)
    return user.telegram_id, user.id


async def post(db: Db, user_id: int, amount: str) -> None:
    value = D(amount)
    async with db.sessions.begin() as session:
        if value > 0:
            await post_deposit(session, user_id, value, f"e2e-wd-{uuid.uuid4()}")
            return
        await ledger.post(
            session,
            user_id=user_id,
            type=TxType.ADJUSTMENT,
            amount=value,
            idempotency_key=f"e2e-wd-{uuid.uuid4()}",
        )


async def rows(db: Db, sql: str, **params: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(text(sql), params)).all())


async def withdrawals_of(db: Db, user_id: int) -> list[Any]:
    return await rows(
        db,
        "SELECT id, internal_withdrawal_id, status, amount_usd, final_amount_usd, currency_code,"
        " wallet_address, memo, request_key FROM withdrawal_requests WHERE user_id = :u"
        " ORDER BY id",
        u=user_id,
    )


async def state_of(app: App, user: int) -> tuple[str | None, dict[str, Any]]:
    context = app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)
    return await context.get_state(), await context.get_data()


async def edited(tg: FakeTelegram, user: int, message_id: int, since: int) -> StoredMessage:
    await tg.wait_for(
        lambda c: c.method.startswith("editMessage") and c.params.get("message_id") == message_id,
        since=since,
    )
    return tg.messages[user][message_id]


async def pick(tg: FakeTelegram, user: int, picker: dict[str, Any], code: str) -> StoredMessage:
    """Press a coin on the list; the list's message, turned into the next step."""
    mark = tg.mark()
    await press(tg, user, picker["message_id"], WithdrawCurrencyCallback(code=code).pack())
    return await edited(tg, user, picker["message_id"], mark)


async def to_confirmation(
    tg: FakeTelegram, user: int, amount: str, code: str, address: str, memo: str | None = None
) -> dict[str, Any]:
    """The whole form; the confirmation message."""
    await say(tg, user, "/withdraw")
    picker = await say(tg, user, amount)
    await pick(tg, user, picker, code)
    reply = await say(tg, user, address)
    if memo is not None:
        reply = await say(tg, user, memo)
    assert reply["text"].startswith("Please confirm your withdrawal"), reply["text"]
    return reply


async def confirm(tg: FakeTelegram, user: int, confirmation: dict[str, Any]) -> StoredMessage:
    mark = tg.mark()
    await press(tg, user, confirmation["message_id"], CONFIRM)
    return await edited(tg, user, confirmation["message_id"], mark)


async def answered(tg: FakeTelegram, query: str, since: int) -> None:
    def matches(call: Call) -> bool:
        return (
            call.method == "answerCallbackQuery" and call.params.get("callback_query_id") == query
        )

    await tg.wait_for(matches, since=since)


# --- tests ---------------------------------------------------------------------------------------


async def test_withdraw_happy_path(app: App, tg: FakeTelegram, flows_db: Db) -> None:
    user, user_id = await funded(flows_db, "100.00")
    menu = await say(tg, user, "/start")
    mark = tg.mark()
    await press(tg, user, menu["message_id"], MenuCallback(action=MenuAction.WITHDRAW).pack())
    prompt = await edited(tg, user, menu["message_id"], mark)
    assert prompt.text is not None and "Your balance: $100.00" in prompt.text

    picker = await say(tg, user, "25")
    assert picker["text"].startswith("Withdraw $25.00")
    assert tg.messages[user][picker["message_id"]].callback_data()[:4] == [
        WithdrawCurrencyCallback(code=c).pack() for c in ("BTC", "ETH", "USDTTRC20", "XRP")
    ]
    ask = await pick(tg, user, picker, "USDTTRC20")
    assert ask.text is not None and ask.text.startswith("Send your USDT (TRC20) address.")
    confirmation = await say(tg, user, f"  {TRX} ")
    shown = confirmation["text"]
    for line in (
        "Amount: $25.00",
        "Network fee: $1.00",
        "Service fee: $0.25",
        "You receive: $23.75 in USDT (TRC20)",
        f"To address: {TRX}",
    ):
        assert line in shown
    assert "Memo" not in shown
    assert tg.messages[user][confirmation["message_id"]].callback_data() == [CONFIRM, ABORT, MENU]
    assert await balance(flows_db, user_id) == D("100.00")  # nothing held before Confirm

    done = await confirm(tg, user, confirmation)
    assert done.text is not None and done.text.startswith("✅ Withdrawal requested")
    assert "You receive $23.75 in USDT (TRC20) at" in done.text and "USDTTRC20" not in done.text
    assert done.callback_data() == []
    [row] = await withdrawals_of(flows_db, user_id)
    assert (row.status, row.amount_usd, row.final_amount_usd) == (
        "pending",
        D("25.00"),
        D("23.75"),
    )
    assert (row.currency_code, row.wallet_address, row.memo) == ("USDTTRC20", TRX, None)
    assert row.request_key == f"confirm:{user}:{confirmation['message_id']}"
    assert await balance(flows_db, user_id) == D("75.00")  # held
    [card] = await rows(
        flows_db,
        "SELECT chat_id, kind FROM notifications WHERE dedup_key LIKE :k",
        k=f"withdrawal:{row.id}:%",
    )
    assert (card.chat_id, card.kind) == (ADMIN_CHAT, "withdrawal_card")
    assert await state_of(app, user) == (None, {})


async def test_invalid_address_asks_only_for_the_address(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    user, user_id = await funded(flows_db, "100.00")
    await say(tg, user, "/withdraw")
    picker = await say(tg, user, "40")
    await pick(tg, user, picker, "USDTTRC20")
    form = {"amount": "40.00", "currency": "USDTTRC20"}

    reply = await say(tg, user, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6X")  # checksum typo
    assert reply["text"].startswith("That address has a typo")
    assert reply["text"].endswith("Send the address again — or /cancel.")
    assert await state_of(app, user) == (WithdrawFlow.address.state, form)

    reply = await say(tg, user, ETH)  # valid, for another network: named, asked for once
    assert reply["text"] == (
        "That is an address on Ethereum or another EVM chain, but this withdrawal is sent on"
        " Tron.\nSend an address on Tron — or /cancel."
    )
    reply = await say(tg, user, "<b>x</b> & y")  # user text never becomes markup
    assert "Send the address again" in reply["text"]
    assert await state_of(app, user) == (WithdrawFlow.address.state, form)

    confirmation = await say(tg, user, TRX)  # amount and coin were kept
    assert "Amount: $40.00" in confirmation["text"] and TRX in confirmation["text"]
    assert await withdrawals_of(flows_db, user_id) == []


async def test_memo_currency_needs_a_memo(app: App, tg: FakeTelegram, flows_db: Db) -> None:
    user, user_id = await funded(flows_db, "100.00")
    await say(tg, user, "/withdraw")
    picker = await say(tg, user, "30")
    await pick(tg, user, picker, "XRP")
    ask = await say(tg, user, XRP)
    assert "needs a memo / destination tag" in ask["text"]
    reply = await say(tg, user, "abc")  # an XRP destination tag is a number
    assert reply["text"].startswith("That memo / destination tag doesn't look right.")
    assert reply["text"].endswith("Send the memo / tag again — or /cancel.")
    assert (await state_of(app, user))[0] == WithdrawFlow.memo.state
    confirmation = await say(tg, user, "123456")
    assert "Memo / tag: 123456" in confirmation["text"]
    await confirm(tg, user, confirmation)
    [row] = await withdrawals_of(flows_db, user_id)
    assert (row.currency_code, row.wallet_address, row.memo) == ("XRP", XRP, "123456")


async def test_amount_refusals_keep_the_rest_of_the_form(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    user, user_id = await funded(flows_db, "40.00")
    await say(tg, user, "/withdraw")
    for typed, error in (
        ("NaN", "That is not a number I can read."),
        ("-5", "The amount must be positive."),
        ("0.001", "Use at most 2 decimals."),
        # Below every coin's minimum, above the maximum: refused before a coin is picked.
        ("9.99", "The minimum is $10.00."),
        ("10000.01", "The maximum is $10,000.00."),
        ("50", "Not enough balance: you have $40.00."),
    ):
        reply = await say(tg, user, typed)
        # What is wrong, once; what to send, once.
        assert reply["text"] == f"{error}\nSend the amount in USD, e.g. 25 or 12.50 — or /cancel."
        assert await state_of(app, user) == (WithdrawFlow.amount.state, {})

    # Below this coin's own, higher minimum: known once the coin is picked; the coin is kept,
    # and the question says so (the next amount skips the coin step).
    picker = await say(tg, user, "11")
    asked = await pick(tg, user, picker, "ETH")
    assert asked.text is not None and asked.text.startswith("The minimum for ETH is $12.00.")
    assert "How much do you want to withdraw" in asked.text
    assert asked.text.endswith(
        "Kept from before: coin ETH. To change it, start again with /withdraw."
    )
    assert await state_of(app, user) == (WithdrawFlow.amount.state, {"currency": "ETH"})
    ask_address = await say(tg, user, "30")
    assert ask_address["text"].startswith("Send your ETH address.")
    confirmation = await say(tg, user, ETH)
    assert "Amount: $30.00" in confirmation["text"]

    # The balance drops before Confirm: core refuses, says the balance and asks for the amount
    # only; the new amount goes straight back to a confirmation.
    await post(flows_db, user_id, "-25.00")
    mark = tg.mark()
    await press(tg, user, confirmation["message_id"], CONFIRM)
    refused = await tg.wait_for_message(user, contains="Not enough balance", since=mark)
    assert refused["text"].startswith("Not enough balance: you have $15.00.")
    assert refused["text"].endswith(
        f"Kept from before: coin ETH, address {ETH}. To change them, start again with /withdraw."
    )
    assert tg.messages[user][confirmation["message_id"]].callback_data() == []
    assert (await state_of(app, user))[0] == WithdrawFlow.amount.state
    confirmation = await say(tg, user, "12")
    assert "Amount: $12.00" in confirmation["text"] and ETH in confirmation["text"]
    await confirm(tg, user, confirmation)
    [row] = await withdrawals_of(flows_db, user_id)
    assert row.amount_usd == D("12.00") and await balance(flows_db, user_id) == D("3.00")


async def test_the_amount_step_allows_the_lowest_minimum_of_any_coin(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    user, _ = await funded(flows_db, "100.00")
    async with flows_db.sessions.begin() as session:
        await session.execute(
            text("UPDATE currencies SET min_withdrawal_usd = 5 WHERE code = 'XRP'")
        )
    try:
        await say(tg, user, "/withdraw")
        reply = await say(tg, user, "4.99")
        assert reply["text"].startswith("The minimum is $5.00.\n")
        picker = await say(tg, user, "7")  # enough for XRP: the coin step decides
        assert picker["text"].startswith("Withdraw $7.00")
        asked = await pick(tg, user, picker, "USDTTRC20")
        assert asked.text is not None
        assert asked.text.startswith("The minimum for USDT (TRC20) is $10.00.")
        assert await state_of(app, user) == (WithdrawFlow.amount.state, {"currency": "USDTTRC20"})
    finally:
        async with flows_db.sessions.begin() as session:
            await session.execute(
                text("UPDATE currencies SET min_withdrawal_usd = NULL WHERE code = 'XRP'")
            )


async def test_amounts_with_thousands_separators(app: App, tg: FakeTelegram, flows_db: Db) -> None:
    user, user_id = await funded(flows_db, "2000.00")
    await say(tg, user, "/withdraw")
    reply = await say(tg, user, "1,23,456")  # wrong grouping: refused, nothing kept
    assert reply["text"].startswith("That is not a number I can read.")
    assert await state_of(app, user) == (WithdrawFlow.amount.state, {})
    picker = await say(tg, user, "$1,500")
    assert picker["text"].startswith("Withdraw $1,500.00")
    assert await state_of(app, user) == (WithdrawFlow.currency.state, {"amount": "1500.00"})
    await pick(tg, user, picker, "USDTTRC20")
    confirmation = await say(tg, user, TRX)
    assert "Amount: $1,500.00" in confirmation["text"]
    await confirm(tg, user, confirmation)
    [row] = await withdrawals_of(flows_db, user_id)
    assert row.amount_usd == D("1500.00") and await balance(flows_db, user_id) == D("500.00")


async def test_double_tap_on_confirm_makes_one_request(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    user, user_id = await funded(flows_db, "100.00")
    confirmation = await to_confirmation(tg, user, "60", "BTC", BTC)
    mark = tg.mark()
    queries = [
        tg.press_button(user, confirmation["message_id"], user, CONFIRM),
        tg.press_button(user, confirmation["message_id"], user, CONFIRM),
    ]
    for query in queries:
        await answered(tg, query, mark)
    await edited(tg, user, confirmation["message_id"], mark)
    answers = sorted((tg.callback_answer(q) or {}).get("text", "") for q in queries)
    assert answers == ["", texts.WITHDRAW_CONFIRM_EXPIRED]
    assert len(await withdrawals_of(flows_db, user_id)) == 1
    assert await balance(flows_db, user_id) == D("40.00")
    # Pressed again later: the same, nothing new.
    answer = await press(tg, user, confirmation["message_id"], CONFIRM, forged=True)
    assert answer["text"] == texts.WITHDRAW_CONFIRM_EXPIRED
    assert len(await withdrawals_of(flows_db, user_id)) == 1


async def test_confirm_after_cancel_or_on_an_old_confirmation(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    user, user_id = await funded(flows_db, "100.00")
    old = await to_confirmation(tg, user, "20", "USDTTRC20", TRX)
    assert (await say(tg, user, "/cancel"))["text"] == texts.CANCELLED
    answer = await press(tg, user, old["message_id"], CONFIRM)
    assert answer["text"] == texts.WITHDRAW_CONFIRM_EXPIRED

    # A newer confirmation replaces an older one: only its own buttons count.
    older = await to_confirmation(tg, user, "20", "USDTTRC20", TRX)
    newer = await to_confirmation(tg, user, "21", "USDTTRC20", TRX)
    answer = await press(tg, user, older["message_id"], CONFIRM)
    assert answer["text"] == texts.WITHDRAW_CONFIRM_EXPIRED
    mark = tg.mark()
    await press(tg, user, newer["message_id"], ABORT)
    assert (await edited(tg, user, newer["message_id"], mark)).text == texts.WITHDRAW_ABORTED
    assert await withdrawals_of(flows_db, user_id) == []
    assert await balance(flows_db, user_id) == D("100.00")
    for forged in ("wf1:maybe", "wf1:", "wc1:btc", "wx1:-1", "wx1:1:2"):
        answer = await press(tg, user, newer["message_id"], forged, forged=True)
        assert answer["text"] == texts.BUTTON_EXPIRED


async def test_cancel_a_pending_withdrawal_from_the_list(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    user, user_id = await funded(flows_db, "100.00")
    await confirm(tg, user, await to_confirmation(tg, user, "25", "USDTTRC20", TRX))
    [row] = await withdrawals_of(flows_db, user_id)
    assert await balance(flows_db, user_id) == D("75.00")

    listing = await say(tg, user, "/withdrawals")
    assert "$25.00</b>" not in listing["text"]  # parsed HTML, not shown raw
    assert "$25.00 → $23.75 in USDT (TRC20) · 🕓 waiting for approval" in listing["text"]
    cancel = WithdrawalCancelCallback(withdrawal_id=row.id).pack()
    assert tg.messages[user][listing["message_id"]].callback_data() == [cancel]

    # Someone else's button (forged) is refused by core and changes nothing.
    other, _ = await funded(flows_db, "1.00")
    menu = await say(tg, other, "/start")
    answer = await press(tg, other, menu["message_id"], cancel, forged=True)
    assert answer["text"] == "That isn't yours."
    assert (await withdrawals_of(flows_db, user_id))[0].status == "pending"

    mark = tg.mark()
    answer = await press(tg, user, listing["message_id"], cancel)
    assert answer["text"] == (
        f"Withdrawal {row.internal_withdrawal_id} cancelled: $25.00 is back on your balance."
    )
    refreshed = await edited(tg, user, listing["message_id"], mark)
    assert refreshed.text is not None
    assert "$25.00 in USDT (TRC20) · ↩️ cancelled, back on your balance" in refreshed.text
    assert "$23.75" not in refreshed.text  # nothing is on its way
    assert refreshed.callback_data() == []
    push = await tg.wait_for_message(user, contains="Withdrawal cancelled", since=mark)
    assert "Returned to your balance: $25.00" in push["text"]
    assert "You receive" not in push["text"] and "$23.75" not in push["text"]
    assert await balance(flows_db, user_id) == D("100.00")
    assert (await withdrawals_of(flows_db, user_id))[0].status == "cancelled"
    # Pressed again: already cancelled.
    answer = await press(tg, user, listing["message_id"], cancel, forged=True)
    assert answer["text"] == texts.error_text("invalid_transition", "not_allowed", {})
    assert await balance(flows_db, user_id) == D("100.00")


async def test_restart_with_the_same_storage_keeps_the_flow(
    tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    """A storage that outlives the process (Redis in production): the form continues."""
    storage = MemoryStorage()
    settings = app_settings(tg, np, flows_db.url)
    user, user_id = await funded(flows_db, "100.00")

    def build() -> App:
        return build_app(
            settings,
            engine=flows_db.engine,
            nowpayments=None,
            storage=storage,
            notifier_tuning=FAST,
            polling_timeout=1,
        )

    first = build()
    await first.start()
    try:
        await say(tg, user, "/withdraw")
        picker = await say(tg, user, "25")
        await pick(tg, user, picker, "USDTTRC20")
    finally:
        await first.stop()
    second = build()
    await second.start()
    try:
        confirmation = await say(tg, user, TRX)
        assert "Amount: $25.00" in confirmation["text"]
        await confirm(tg, user, confirmation)
    finally:
        await second.stop()
    assert not first.failed and not second.failed
    assert len(await withdrawals_of(flows_db, user_id)) == 1


async def test_restart_with_memory_storage_starts_clean(
    make_app: MakeApp, tg: FakeTelegram, flows_db: Db
) -> None:
    """The default memory storage forgets the form: the old confirmation is refused, typed text
    is not taken for a step, nothing half-made exists, and /withdraw starts cleanly."""
    user, user_id = await funded(flows_db, "100.00")
    first = await make_app(flows_db)
    confirmation = await to_confirmation(tg, user, "25", "USDTTRC20", TRX)
    await first.stop()
    await make_app(flows_db)
    answer = await press(tg, user, confirmation["message_id"], CONFIRM)
    assert answer["text"] == texts.WITHDRAW_CONFIRM_EXPIRED
    assert (await say(tg, user, TRX))["text"] == texts.UNKNOWN_INPUT
    assert await withdrawals_of(flows_db, user_id) == []
    assert await balance(flows_db, user_id) == D("100.00")
    await confirm(tg, user, await to_confirmation(tg, user, "25", "USDTTRC20", TRX))
    assert len(await withdrawals_of(flows_db, user_id)) == 1
