"""The deposit flow through the real wiring: coin → amount → address, amount and a QR photo →
the provider finishes → the poller (or "Check status") settles → push and balance. Against
FakeTelegram, FakeNowPayments and a database of this module's own."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from bot import texts
from bot.app import App
from bot.callbacks import (
    CurrencyPageCallback,
    DepositCheckCallback,
    DepositCurrencyCallback,
    DepositPresetCallback,
    Flow,
    MenuAction,
    MenuCallback,
)
from bot.handlers.deposit import send_invoice
from bot.qr import qr_png
from bot.states import DepositFlow
from core.background import PaymentBackground
from core.db.models import User
from core.deposits.poller import Poller
from core.deposits.views import PaymentView, payment_uri, plain, recent_for_user
from core.users import get_by_telegram_id
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import Call, FakeTelegram, StoredMessage, image_info
from tests.support.db import Db, DbServer, clone, next_telegram_id
from tests.support.deposits import COINS
from tests.support.e2e import MakeApp, deposit_service, press, say

D = Decimal

# Beside the fake provider's coins (tests.support.deposits.COINS), enough for a second page.
PAGE_COINS = text(
    """
    INSERT INTO currencies (code, name, token, network, decimal_places, needs_memo,
                            min_amount_usd, sort_order)
    VALUES ('PAGEA', 'Page A', 'PAGEA', 'pagea', 8, false, NULL, 200),
           ('PAGEB', 'Page B', 'PAGEB', 'pageb', 8, false, NULL, 201),
           ('PAGEC', 'Page C', 'PAGEC', 'pagec', 8, false, NULL, 202),
           ('PAGED', 'Page D', 'PAGED', 'paged', 8, false, NULL, 203),
           ('PAGEE', 'Page E', 'PAGEE', 'pagee', 8, false, NULL, 204)
    """
)
FIRST_PAGE = ["BTC", "ETH", "USDTTRC20", "LTC", "TRX", "XRP", "PAGEA", "PAGEB"]
SECOND_PAGE = ["PAGEC", "PAGED", "PAGEE"]

# Every step's keyboard ends with the way back to the main menu.
MENU = MenuCallback(action=MenuAction.MENU).pack()
# Provider ids are unique per database: each test's fake hands out its own range.
_first_ids = itertools.count(5_000_000_001, 10_000_000)


@pytest.fixture
async def np() -> AsyncIterator[FakeNowPayments]:
    async with FakeNowPayments(first_payment_id=next(_first_ids)) as fake:
        yield fake


@pytest.fixture(scope="module")
async def flows_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    db = await clone(db_server, template_db, COINS, PAGE_COINS, label="depflow_", pool_size=10)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def app(make_app: MakeApp, flows_db: Db) -> App:
    return await make_app(flows_db)


# --- helpers -------------------------------------------------------------------------------------


async def edited(tg: FakeTelegram, user: int, message_id: int, since: int) -> StoredMessage:
    await tg.wait_for(
        lambda c: c.method.startswith("editMessage") and c.params.get("message_id") == message_id,
        since=since,
    )
    return tg.messages[user][message_id]


async def user_row(db: Db, telegram_id: int) -> User:
    async with db.sessions() as session:
        found = await get_by_telegram_id(session, telegram_id)
    assert found is not None
    return found


async def deposits_of(db: Db, telegram_id: int) -> list[PaymentView]:
    user = await user_row(db, telegram_id)
    async with db.sessions() as session:
        return await recent_for_user(session, user.id, 100)


async def pushes_to(db: Db, chat_id: int) -> int:
    """The outbox rows ever written for a chat (every push the notifier sends is one)."""
    async with db.sessions() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM notifications WHERE chat_id = :chat"), {"chat": chat_id}
        )
    assert found is not None
    return int(found)


async def state_of(app: App, user: int) -> tuple[str | None, dict[str, Any]]:
    context = app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)
    return await context.get_state(), await context.get_data()


async def open_amount_step(tg: FakeTelegram, user: int, code: str) -> int:
    """/deposit, pick the coin; the prompt's message id (the coin list, edited)."""
    picker = await say(tg, user, "/deposit")
    mark = tg.mark()
    await press(tg, user, picker["message_id"], DepositCurrencyCallback(code=code).pack())
    await edited(tg, user, picker["message_id"], mark)
    return int(picker["message_id"])


async def deposit(tg: FakeTelegram, user: int, code: str, amount: str) -> dict[str, Any]:
    """Through the flow with a typed amount; the photo message with the invoice."""
    await open_amount_step(tg, user, code)
    mark = tg.mark()
    tg.send_text(user, amount)
    return await tg.wait_for_message(user, contains="Send exactly", since=mark)


async def balance_text(tg: FakeTelegram, user: int) -> str:
    return str((await say(tg, user, "/balance"))["text"])


async def answered(tg: FakeTelegram, query: str, since: int) -> None:
    def matches(call: Call) -> bool:
        return (
            call.method == "answerCallbackQuery" and call.params.get("callback_query_id") == query
        )

    await tg.wait_for(matches, since=since)


# --- tests ---------------------------------------------------------------------------------------


async def test_the_poller_and_the_handlers_share_one_policy(
    make_app: MakeApp, flows_db: Db
) -> None:
    app = await make_app(flows_db, start=False)
    background = app.payment_poller
    assert isinstance(background, PaymentBackground)
    # Built once in the composition root: the poller settles by the handlers' very rules.
    assert background.poller.policy is deposit_service(app).policy
    assert background.poller.schedule is deposit_service(app).policy.schedule


async def test_deposit_through_the_poller(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    user = next_telegram_id()
    menu = await say(tg, user, "/start")
    mark = tg.mark()
    await press(tg, user, menu["message_id"], MenuCallback(action=MenuAction.DEPOSIT).pack())
    picker = await edited(tg, user, menu["message_id"], mark)  # the menu turns into the list
    assert picker.text is not None and picker.text.startswith("Deposit")
    next_page = CurrencyPageCallback(flow=Flow.DEPOSIT, page=1).pack()
    assert picker.callback_data() == [
        *(DepositCurrencyCallback(code=c).pack() for c in FIRST_PAGE),
        next_page,
        MENU,
    ]
    mark = tg.mark()
    await press(tg, user, menu["message_id"], next_page)
    page2 = await edited(tg, user, menu["message_id"], mark)
    assert page2.callback_data() == [
        *(DepositCurrencyCallback(code=c).pack() for c in SECOND_PAGE),
        CurrencyPageCallback(flow=Flow.DEPOSIT, page=0).pack(),
        MENU,
    ]

    invoice = await deposit(tg, user, "BTC", "25")
    [view] = await deposits_of(flows_db, user)
    assert (view.status, view.amount_usd, view.currency) == ("waiting", D("25.00"), "BTC")
    assert view.pay_address is not None and view.pay_amount is not None
    caption = invoice["caption"]
    assert f"Send exactly: {view.pay_amount} BTC" in caption
    assert f"To address: {view.pay_address}" in caption and "Pay before:" in caption
    code_entities = [e for e in invoice["caption_entities"] if e["type"] == "code"]
    assert len(code_entities) == 2  # amount and address: tap to copy
    # A real PNG of exactly the payment URI, drawn locally.
    [photo] = list(tg.calls("sendPhoto", chat_id=user))
    assert photo.upload is not None
    kind, width, height = image_info(photo.upload.data) or ("", 0, 0)
    assert kind == "image/png" and width == height >= 200
    uri = payment_uri("BTC", view.pay_address, view.pay_amount)
    assert uri == f"bitcoin:{view.pay_address}?amount={view.pay_amount}"
    assert photo.upload.data == qr_png(uri)
    stored = tg.messages[user][invoice["message_id"]]
    assert stored.callback_data() == [DepositCheckCallback(payment_id=view.id).pack()]
    assert await state_of(app, user) == (None, {})

    # The provider finishes; one poller round settles it.
    assert view.provider_payment_id is not None
    np.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount)
    async with flows_db.sessions.begin() as session:  # due now instead of in 10 s
        await session.execute(
            text("UPDATE payments SET next_check_at = now() WHERE id = :id"), {"id": view.id}
        )
    mark = tg.mark()
    policy = deposit_service(app).policy
    poller = Poller(app.sessions, app.nowpayments, app.settings, policy=policy)
    await poller.run_once()  # the app's own poller may have taken it first: same outcome
    push = await tg.wait_for_message(user, contains="Deposit credited", since=mark)
    assert "Credited: $25.00" in push["text"] and "Balance: $25.00" in push["text"]
    assert "Available: $25.00" in await balance_text(tg, user)
    [done] = await deposits_of(flows_db, user)
    assert (done.status, done.credited_usd) == ("finished", D("25.00"))
    listed = await say(tg, user, "/deposits")
    assert view.internal_id in listed["text"] and "credited" in listed["text"]
    assert view.pay_address not in listed["text"]  # paid: no need to show where to pay


async def test_my_deposits_shows_where_to_pay_an_open_one(
    app: App, tg: FakeTelegram, flows_db: Db
) -> None:
    """The invoice message may be gone: /deposits says again what to send where."""
    user = next_telegram_id()
    await deposit(tg, user, "BTC", "30")
    [view] = await deposits_of(flows_db, user)
    listed = await say(tg, user, "/deposits")
    assert f"Send {view.pay_amount} BTC to {view.pay_address}, before " in listed["text"]
    codes = [e for e in listed["entities"] if e["type"] == "code"]
    assert len(codes) == 2  # amount and address: tap to copy
    assert tg.messages[user][listed["message_id"]].callback_data() == [
        DepositCheckCallback(payment_id=view.id).pack()
    ]


async def test_partial_payment_through_check_status(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    user = next_telegram_id()
    prompt = await open_amount_step(tg, user, "LTC")
    presets = tg.messages[user][prompt].callback_data()
    assert presets == [
        *(DepositPresetCallback(code="LTC", cents=c).pack() for c in (1000, 2500, 5000, 10000)),
        MENU,
    ]
    mark = tg.mark()
    await press(tg, user, prompt, presets[1])  # $25
    invoice = await tg.wait_for_message(user, contains="Send exactly", since=mark)
    [view] = await deposits_of(flows_db, user)
    assert view.amount_usd == D("25.00") and view.pay_amount is not None
    assert view.provider_payment_id is not None
    half = (view.pay_amount / 2).quantize(D("0.00000001"))
    np.set_status(view.provider_payment_id, "partially_paid", actually_paid=half)

    mark = tg.mark()
    answer = await press(tg, user, invoice["message_id"], stored_check(view))
    paid = plain(half)
    # The safe default (partial_payment_policy: hold): nothing credited until an admin decides.
    assert answer["text"] == (
        f"Deposit {view.internal_id}: ⚠️ partially paid: {paid} LTC arrived,"
        " an admin is reviewing it"
    )
    push = await tg.wait_for_message(user, contains="Partially paid", since=mark)
    assert f"Paid: {paid} LTC" in push["text"] and "an admin will review it" in push["text"]
    assert "Credited" not in push["text"]
    assert "Available: $0.00" in await balance_text(tg, user)
    # Final: the invoice's button is gone; pressing an old copy changes nothing more.
    await tg.wait_for(
        lambda c: (
            c.method == "editMessageReplyMarkup"
            and c.params.get("message_id") == invoice["message_id"]
        ),
        since=mark,
    )
    assert tg.messages[user][invoice["message_id"]].callback_data() == []
    pushes = await pushes_to(flows_db, user)
    mark = tg.mark()
    again = await press(tg, user, invoice["message_id"], stored_check(view), forged=True)
    assert "partially paid" in again["text"]
    # Pushes are outbox rows, and the check commits before it answers: no new row, no push.
    assert await pushes_to(flows_db, user) == pushes
    assert not [c for c in tg.calls(chat_id=user) if c.seq >= mark and c.method.startswith("send")]
    assert "Available: $0.00" in await balance_text(tg, user)


async def test_late_payment_through_check_status_and_the_friendly_limit(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    user = next_telegram_id()
    invoice = await deposit(tg, user, "BTC", "20")
    [view] = await deposits_of(flows_db, user)
    assert view.provider_payment_id is not None and view.pay_amount is not None
    np.set_status(view.provider_payment_id, "expired", actually_paid=D("0"))
    check = stored_check(view)
    mark = tg.mark()
    answer = await press(tg, user, invoice["message_id"], check)
    assert "expired" in answer["text"]
    # No "Paid: 0 BTC"; what happens next and what the user can do.
    push = await tg.wait_for_message(user, contains="Deposit expired", since=mark)
    assert "Paid" not in push["text"] and "Nothing was credited" in push["text"]
    assert "start a new deposit with /deposit" in push["text"]
    assert "If you paid late" in push["text"]
    # Money may still arrive within the provider's window: the button stays.
    assert tg.messages[user][invoice["message_id"]].callback_data() == [check]

    np.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount)
    mark = tg.mark()
    answer = await press(tg, user, invoice["message_id"], check)
    assert answer["text"] == (
        f"Deposit {view.internal_id}: payment received, an admin is reviewing it"
    )
    push = await tg.wait_for_message(user, contains="Late payment received", since=mark)
    assert "an admin will review it" in push["text"]
    assert "Available: $0.00" in await balance_text(tg, user)

    # The default limit is 5 provider checks a minute per user; the 6th gets words, not a crash.
    for _ in range(3):
        await press(tg, user, invoice["message_id"], check)
    refused = await press(tg, user, invoice["message_id"], check)
    assert refused["text"] == texts.error_text("limit_exceeded", "status_checks", {})
    assert "wait a minute" in refused["text"]


def stored_check(view: PaymentView) -> str:
    return DepositCheckCallback(payment_id=view.id).pack()


async def test_check_status_of_someone_elses_payment_changes_nothing(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    owner, other = next_telegram_id(), next_telegram_id()
    await deposit(tg, owner, "BTC", "30")
    [view] = await deposits_of(flows_db, owner)
    assert view.provider_payment_id is not None
    np.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount)
    menu = await say(tg, other, "/start")
    asked = np.requests["get_payment"]
    mark = tg.mark()
    answer = await press(tg, other, menu["message_id"], stored_check(view), forged=True)
    assert answer["text"] == texts.error_text("forbidden", "not_owner", {})
    answer = await press(
        tg, other, menu["message_id"], DepositCheckCallback(payment_id=2**62).pack(), forged=True
    )
    assert answer["text"] == texts.error_text("not_found", "payment", {})
    for forged in ("dk1:abc", "dk1:0", "dk1:99999999999999999999", "dk1:1:2"):
        answer = await press(tg, other, menu["message_id"], forged, forged=True)
        assert answer["text"] == texts.BUTTON_EXPIRED
    [unchanged] = await deposits_of(flows_db, owner)
    assert unchanged == view
    assert np.requests["get_payment"] == asked  # the provider was not even asked
    assert tg.calls("sendMessage", chat_id=other)[-1].seq < mark
    assert tg.calls("sendMessage", chat_id=owner)[-1].seq < mark
    assert "Available: $0.00" in await balance_text(tg, other)


UNREADABLE = "That is not a number I can read."


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("NaN", UNREADABLE),
        ("1e3", UNREADABLE),
        ("-5", "The amount must be positive."),
        ("0.001", "Use at most 2 decimals."),
        ("0", "The amount must be more than zero."),
        ("9" * 40, "That is too long for an amount."),
        ("99999999999", "That amount is too large (at most $1,000,000,000.00)."),
        ("1", "That is below the minimum."),  # refused by core.deposits: the step opens again
        ("20000", "That is above the maximum."),
        ("$ 1 0", UNREADABLE),
        ("1,23,456", UNREADABLE),
        ("$-5", "The amount must be positive."),
        ("1.000,00", UNREADABLE),
    ],
)
async def test_invalid_amounts_keep_the_amount_step(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db, amount: str, error: str
) -> None:
    user = next_telegram_id()
    await open_amount_step(tg, user, "BTC")
    reply = await say(tg, user, amount)
    # What is wrong, once; what to send, once.
    assert reply["text"] == (
        f"{error}\nSend an amount in USD from $5.00 to $10,000.00, e.g. 25 or 12.50 — or /cancel."
    )
    assert await state_of(app, user) == (DepositFlow.amount.state, {"currency": "BTC"})
    assert await deposits_of(flows_db, user) == []
    assert len(np) == 0
    # ... and a valid amount still goes through
    mark = tg.mark()
    tg.send_text(user, "12.50")
    await tg.wait_for_message(user, contains="Send exactly", since=mark)
    assert [v.amount_usd for v in await deposits_of(flows_db, user)] == [D("12.50")]


async def test_a_coins_own_minimum_replaces_the_general_one(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    user = next_telegram_id()
    await open_amount_step(tg, user, "ETH")  # the provider's minimum $5.00 + 10 % margin
    reply = await say(tg, user, "5")
    assert reply["text"] == (
        "That is below the minimum for ETH.\nSend an amount in USD from $5.50 to $10,000.00,"
        " e.g. 25 or 12.50 — or /cancel."
    )
    assert await state_of(app, user) == (DepositFlow.amount.state, {"currency": "ETH"})
    assert await deposits_of(flows_db, user) == [] and len(np) == 0


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("$1,234.50", "1,234.50"), ("1,000", "1,000.00"), ("25$", "25.00"), ("7,5", "7.50")],
)
async def test_amounts_as_the_bot_writes_them_are_understood(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db, typed: str, amount: str
) -> None:
    user = next_telegram_id()
    invoice = await deposit(tg, user, "BTC", typed)
    assert f"Amount: ${amount}\n" in invoice["caption"]
    amount = amount.replace(",", "")
    assert [v.amount_usd for v in await deposits_of(flows_db, user)] == [D(amount)]


async def test_presets_are_taken_once_and_never_after_cancel(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    user = next_telegram_id()
    prompt = await open_amount_step(tg, user, "ETH")
    preset = DepositPresetCallback(code="ETH", cents=5000).pack()
    # A double tap: two queries for one button before the bot answers either.
    mark = tg.mark()
    first = tg.press_button(user, prompt, user, preset)
    second = tg.press_button(user, prompt, user, preset)
    for query in (first, second):
        await answered(tg, query, mark)
    await tg.wait_for_message(user, contains="Send exactly", since=mark)
    answers = [tg.callback_answer(first), tg.callback_answer(second)]
    assert sorted(a.get("text", "") for a in answers if a) == ["", texts.DEPOSIT_STEP_EXPIRED]
    assert [v.amount_usd for v in await deposits_of(flows_db, user)] == [D("50.00")]

    # After /cancel, an amount button of that prompt creates nothing.
    prompt = await open_amount_step(tg, user, "BTC")
    assert (await say(tg, user, "/cancel"))["text"] == texts.CANCELLED
    answer = await press(tg, user, prompt, DepositPresetCallback(code="BTC", cents=1000).pack())
    assert answer["text"] == texts.DEPOSIT_STEP_EXPIRED
    # A preset of another coin's prompt does not fit the open step either.
    await open_amount_step(tg, user, "LTC")
    forged = DepositPresetCallback(code="BTC", cents=1000).pack()
    answer = await press(tg, user, prompt, forged, forged=True)
    assert answer["text"] == texts.DEPOSIT_STEP_EXPIRED
    assert len(await deposits_of(flows_db, user)) == 1 and len(np) == 1


async def test_memo_coin_shows_the_memo_and_a_warning(
    app: App, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    user = next_telegram_id()
    invoice = await deposit(tg, user, "XRP", "10")
    [view] = await deposits_of(flows_db, user)
    assert view.memo and view.pay_address
    caption = invoice["caption"]
    assert f"Memo / tag: {view.memo}" in caption
    assert "Without it the deposit cannot be matched to your account and is lost." in caption
    [photo] = tg.calls("sendPhoto", chat_id=user)
    assert photo.upload is not None
    assert photo.upload.data == qr_png(view.pay_address)  # with a memo: the bare address


async def test_long_text_goes_in_its_own_message(app: App, tg: FakeTelegram, flows_db: Db) -> None:
    """Longer than a caption may be (1024): the photo first, then the text with the button."""
    user = next_telegram_id()
    await say(tg, user, "/start")
    now = datetime.now(UTC)
    view = PaymentView(
        id=1,
        internal_id="PAY_test",
        user_id=1,
        user_telegram_id=user,
        status="waiting",
        provider_status="waiting",
        amount_usd=D("10.00"),
        credited_usd=None,
        currency="X" * 400,  # the name shown is made from the code
        currency_name="XRP",
        needs_memo=True,
        pay_amount=D("19.23"),
        actually_paid=None,
        pay_address="rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
        memo="1" * 10,
        payment_uri="rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
        provider_payment_id="1",
        needs_review=False,
        expires_at=now + timedelta(days=1),
        created_at=now,
        updated_at=now,
        completed_at=None,
        check_attempts=0,
        last_error=None,
    )
    assert not texts.fits_caption(texts.deposit_invoice(view))
    mark = tg.mark()
    await send_invoice(app.bot, user, view)
    calls = [c for c in tg.calls(chat_id=user) if c.seq >= mark]
    assert [c.method for c in calls] == ["sendPhoto", "sendMessage"]
    assert "caption" not in calls[0].params and calls[1].ok
    assert tg.messages[user][calls[1].result["message_id"]].callback_data() == [
        DepositCheckCallback(payment_id=1).pack()
    ]


async def test_restart_loses_only_the_open_step(
    make_app: MakeApp, tg: FakeTelegram, np: FakeNowPayments, flows_db: Db
) -> None:
    """Memory storage: after a restart the amount step is gone, its buttons are refused, nothing
    half-made exists, and /deposit starts cleanly."""
    first = await make_app(flows_db)
    user = next_telegram_id()
    prompt = await open_amount_step(tg, user, "BTC")
    await first.stop()
    await make_app(flows_db)
    answer = await press(tg, user, prompt, DepositPresetCallback(code="BTC", cents=1000).pack())
    assert answer["text"] == texts.DEPOSIT_STEP_EXPIRED
    assert (await say(tg, user, "25"))["text"] == texts.UNKNOWN_INPUT
    assert await deposits_of(flows_db, user) == [] and len(np) == 0
    await deposit(tg, user, "BTC", "25")
    assert len(await deposits_of(flows_db, user)) == 1
