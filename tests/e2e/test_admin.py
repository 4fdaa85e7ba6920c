"""The admin chat through the real wiring (build_app, FakeTelegram, a real database): withdrawal
cards and their buttons, reply prompts, refusals, races, and the admin commands."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from bot import texts
from bot.app import App
from bot.callbacks import (
    AdminAdjustCallback,
    AdminCurrencyAction,
    AdminCurrencyCallback,
    AdminCurrencyPageCallback,
    AdminCurrencySyncCallback,
    AdminReviewAction,
    AdminReviewCallback,
    AdminWithdrawalAction,
    AdminWithdrawalCallback,
    ConfirmAction,
    CurrencyPageCallback,
    Flow,
    HistoryCallback,
    MenuAction,
    MenuCallback,
)
from core import ledger, outbox
from core.config import NotifierSettings
from core.db.models import Payment, User, WithdrawalStatus
from core.deposits import notify as deposit_notify
from core.deposits.notify import REVIEW_KIND
from core.ids import new_payment_id
from core.users import upsert_user
from core.withdrawals import WithdrawalService, WithdrawalView, refund_key
from tests.fakes.telegram import FakeTelegram, StoredMessage
from tests.support.db import Db, balance, post_deposit
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID, CURRENCIES, TRX, MakeApp, customer

D = Decimal
W = AdminWithdrawalAction
ADMIN_2 = 777_000_002
STRANGER = 777_000_666
FAST_CHATS = NotifierSettings(per_chat_per_second=20.0, group_per_minute=1200.0)
TX_HASH = "cd" * 32
NAMES = {ADMIN_ID: "boss", ADMIN_2: "deputy", STRANGER: "lurker"}


@pytest.fixture
async def admin_app(make_app: MakeApp, e2e_db: Db, tg: FakeTelegram) -> App:
    async with e2e_db.sessions.begin() as session:
        await session.execute(CURRENCIES)
    tg.add_chat(ADMIN_CHAT, title="Admins")
    return await make_app(e2e_db, notifier=FAST_CHATS, admin_ids=[ADMIN_ID, ADMIN_2])


async def withdraw(app: App, user: User, amount: str = "50.00") -> WithdrawalView:
    service = WithdrawalService(app.sessions, app.settings)
    view = await service.request(
        user_id=user.id, currency_code="USDTTRC20", amount=amount, address=TRX
    )
    app.notifier.wake()
    return view


async def get(app: App, withdrawal_id: int) -> WithdrawalView:
    return await WithdrawalService(app.sessions, app.settings).get(withdrawal_id)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def drained(db: Db, *chat_ids: int) -> None:
    """Until nothing is queued for these chats: a later test's app would send what is left
    into its own admin chat (the e2e database is shared)."""

    async def empty() -> bool:
        async with db.sessions() as session:
            left = await session.scalar(
                text(
                    "SELECT count(*) FROM notifications WHERE chat_id = ANY(:c)"
                    " AND state = 'pending'"
                ),
                {"c": list(chat_ids)},
            )
        return bool(left == 0)

    await until(empty, timeout=10.0)


async def stored_card(app: App, withdrawal_id: int, message_id: int) -> bool:
    return (await get(app, withdrawal_id)).admin_chat_message_id == message_id


def card_data(withdrawal_id: int, action: AdminWithdrawalAction) -> str:
    return AdminWithdrawalCallback(id=withdrawal_id, action=action).pack()


async def posted_card(tg: FakeTelegram, view: WithdrawalView) -> int:
    sent = await tg.wait_for_message(ADMIN_CHAT, contains=view.internal_id)
    return int(sent["message_id"])


def card(tg: FakeTelegram, message_id: int) -> StoredMessage:
    return tg.messages[ADMIN_CHAT][message_id]


async def card_shows(tg: FakeTelegram, message_id: int, *needles: str) -> StoredMessage:
    """Wait until the card was edited to contain every needle."""

    def shows(_: Any) -> bool:
        current = card(tg, message_id).text or ""
        return all(n in current for n in needles)

    if not shows(None):
        await tg.wait_for(shows)
    return card(tg, message_id)


async def press(
    tg: FakeTelegram, who: int, message_id: int, data: str, *, forged: bool = False
) -> dict[str, Any]:
    """Someone in the admin chat presses a button; the callback answer."""
    query = tg.press_button(
        who, message_id, ADMIN_CHAT, data, username=NAMES.get(who), check_button=not forged
    )
    await tg.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query
    )
    answer = tg.callback_answer(query)
    assert answer is not None
    return answer


async def write(
    tg: FakeTelegram, who: int, message: str, *, reply_to: int | None = None, expect: str = ""
) -> dict[str, Any]:
    """Someone writes in the admin chat; the bot's next message there containing ``expect``."""
    mark = tg.mark()
    tg.send_text(
        who, message, chat_id=ADMIN_CHAT, username=NAMES.get(who), reply_to_message_id=reply_to
    )
    return await tg.wait_for_message(ADMIN_CHAT, contains=expect, since=mark)


async def user_told(tg: FakeTelegram, user: User, contains: str) -> str:
    sent = await tg.wait_for_message(user.telegram_id, contains=contains)
    return str(sent["text"])


# What the bot's admin messages used to carry for the handlers to read back: a ref line
# ("ref: reject 2 from pending", "ref: adjustment 780001 5.00") and the card's database row id
# ("· #2"). An HTML character reference (&#39;) is not one.
MACHINE_LINE = re.compile(
    r"\bref:|(?<!&)#[0-9]+\b|^\s*(?:reject|complete|adjustment|bonus) [0-9]+"
)


# The numbers a person reads: internal ids, times, amounts, Telegram ids, the address.
HUMAN_NUMBERS = re.compile(
    r"WD_\w+|PAY_\w+|[0-9]{4}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2})?|[-+]?\$[0-9,.]+"
    r"|id (?:<code>)?[0-9]+|" + TRX
)


def assert_no_machine_lines(text: str, view: WithdrawalView | None = None) -> None:
    assert not MACHINE_LINE.search(text), text
    if view is not None:  # the withdrawal is named by its internal id, never its row id
        assert not re.search(rf"\b{view.id}\b", HUMAN_NUMBERS.sub("", text)), text


def admin_chat_texts(tg: FakeTelegram, since: int) -> list[str]:
    """Every text the bot sent or edited into the admin chat since the mark."""
    return [
        str(c.params.get("text") or "")
        for c in tg.calls(chat_id=ADMIN_CHAT)
        if c.seq >= since and c.method in ("sendMessage", "editMessageText")
    ]


async def prompt_for(
    tg: FakeTelegram, who: int, card_id: int, view: WithdrawalView, action: W
) -> dict[str, Any]:
    """An admin presses Reject or Complete; the question the bot asks them (a reply to the card
    that opens the admin's reply field), naming the withdrawal as the card does."""
    mark = tg.mark()
    answer = await press(tg, who, card_id, card_data(view.id, action))
    assert answer.get("text") == texts.ADMIN_WD_TOAST["prompt"]
    asks = "reason for rejecting" if action is W.REJECT else "transaction hash of"
    prompt = await tg.wait_for_message(ADMIN_CHAT, contains=asks, since=mark)
    assert view.internal_id in prompt["text"]
    assert (
        prompt["text"]
        .rstrip()
        .endswith(
            "Reply to this message"
            + (
                ": the user sees the reason, and the amount goes back to their balance."
                if action is W.REJECT
                else " with it."
            )
        )
    )
    assert_no_machine_lines(prompt["text"])
    stored = card(tg, prompt["message_id"])
    assert stored.reply_markup is not None and stored.reply_markup.get("force_reply") is True
    assert stored.reply_to is not None and stored.reply_to.message_id == card_id
    return prompt


async def test_card_approve_process_complete(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    user = await customer(e2e_db, tg, username="eve_payee")
    async with e2e_db.sessions.begin() as session:  # hostile text must show literally
        await session.execute(
            text("UPDATE users SET first_name = :n WHERE id = :id"),
            {"n": "<i>Eve</i> & <script>", "id": user.id},
        )
    view = await withdraw(admin_app, user)
    card_id = await posted_card(tg, view)
    shown = card(tg, card_id)
    body = shown.text or ""
    for needle in (
        "Status: 🕓 Pending",
        f"<i>Eve</i> & <script> @eve_payee (id {user.telegram_id})",
        "Amount: $50.00",
        "Fees: $1.50 (network $1.00, service $0.50)",
        "To send: $48.50 in USDT (TRC20)",
        "Currency: USDTTRC20 · network trx",
        f"Address: {TRX}",
        "Balance now: $50.00 (deposited $100.00, withdrawn $0.00)",
        "Withdrawal -$50.00 → $50.00",
        "Deposit +$100.00 → $100.00",
    ):
        assert needle in body, (needle, body)
    assert shown.callback_data() == [card_data(view.id, W.APPROVE), card_data(view.id, W.REJECT)]
    await until(lambda: stored_card(admin_app, view.id, card_id))

    answer = await press(tg, ADMIN_ID, card_id, card_data(view.id, W.APPROVE))
    assert answer["text"] == texts.ADMIN_WD_TOAST["approve"]
    shown = await card_shows(tg, card_id, "Status: 👍 Approved", "approved by @boss")
    assert shown.callback_data() == [
        card_data(view.id, W.PROCESS),
        card_data(view.id, W.COMPLETE),
        card_data(view.id, W.REJECT),
    ]
    await user_told(tg, user, "Withdrawal approved")

    await press(tg, ADMIN_2, card_id, card_data(view.id, W.PROCESS))
    shown = await card_shows(tg, card_id, "Status: 🔄 Processing", "marked processing by @deputy")
    assert shown.callback_data() == [card_data(view.id, W.COMPLETE)]
    await user_told(tg, user, "being sent")

    prompt = await prompt_for(tg, ADMIN_2, card_id, view, W.COMPLETE)
    assert prompt["text"].split(", ", 1)[1] == (
        f"transaction hash of withdrawal {view.internal_id} ($48.50 in USDTTRC20 to"
        f" {TRX})?\nReply to this message with it."
    )
    # a non-admin, and an admin who was not asked, are refused; a bad hash is refused and the
    # question stays open; nothing changes
    refused = await write(
        tg, STRANGER, TX_HASH, reply_to=prompt["message_id"], expect=texts.ADMIN_ONLY
    )
    assert refused["text"] == texts.ADMIN_ONLY
    other = await write(tg, ADMIN_ID, TX_HASH, reply_to=prompt["message_id"], expect="another")
    assert other["text"] == texts.PROMPT_REFUSAL["not_yours"]
    bad = await write(tg, ADMIN_2, "0xdeadbeef", reply_to=prompt["message_id"], expect="hash")
    assert bad["text"] == texts.ERRORS["invalid_address.bad_tx_hash"]
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.PROCESSING

    done = await write(tg, ADMIN_2, TX_HASH.upper(), reply_to=prompt["message_id"], expect="✅")
    assert done["text"] == f"✅ Withdrawal {view.internal_id} completed (tx {TX_HASH})." + (
        " The user is told."
    )
    shown = await card_shows(tg, card_id, "Status: ✅ Completed", f"Tx hash: {TX_HASH}")
    assert "completed by @deputy" in (shown.text or "")
    assert shown.callback_data() == []
    assert TX_HASH in await user_told(tg, user, "Withdrawal sent")
    final = await get(admin_app, view.id)
    assert (final.status, final.completed_by) == (WithdrawalStatus.COMPLETED, ADMIN_2)
    async with e2e_db.sessions() as session:
        assert (await ledger.get_balance(session, user.id)).total_withdrawn == D("50.00")
    title = f"💸 Withdrawal {view.internal_id}"
    cards = [m for m in tg.sent_messages(ADMIN_CHAT) if m["text"].startswith(title)]
    assert [m["message_id"] for m in cards] == [card_id]  # one card, edited in place


async def test_reject_with_reason_refunds(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    user = await customer(e2e_db, tg, amount="80.00")
    view = await withdraw(admin_app, user, "30.00")
    card_id = await posted_card(tg, view)
    assert await balance(e2e_db, user) == D("50.00")

    prompt = await prompt_for(tg, ADMIN_ID, card_id, view, W.REJECT)
    assert (
        f", reason for rejecting withdrawal {view.internal_id} (pending, $30.00 to"
        in (prompt["text"])
    )
    taken = await write(tg, ADMIN_ID, "   .", reply_to=prompt["message_id"], expect="rejected")
    assert "is back on the user's balance" in taken["text"]
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.REJECTED
    shown = await card_shows(tg, card_id, "Status: ❌ Rejected", "Reason: .", "rejected by @boss")
    assert shown.callback_data() == []
    assert "back on your balance" in await user_told(tg, user, "Withdrawal rejected")
    assert await balance(e2e_db, user) == D("80.00")

    # a second answer to the same question, and a stale button: nothing more happens
    again = await write(
        tg, ADMIN_ID, "another reason", reply_to=prompt["message_id"], expect="already"
    )
    assert again["text"] == texts.PROMPT_REFUSAL["used"]
    stale = await press(tg, ADMIN_2, card_id, card_data(view.id, W.APPROVE), forged=True)
    assert stale["text"].startswith("Already handled: rejected by @boss at ")
    assert stale.get("show_alert") is True
    async with e2e_db.sessions() as session:
        refunds = await session.execute(
            text("SELECT count(*) FROM transactions WHERE idempotency_key = :k"),
            {"k": refund_key(view.id)},
        )
        assert refunds.scalar_one() == 1
    assert await balance(e2e_db, user) == D("80.00")
    assert (await get(admin_app, view.id)).reject_reason == "."


async def test_reject_reason_is_escaped_and_prompt_survives_restart(
    make_app: MakeApp, tg: FakeTelegram, e2e_db: Db
) -> None:
    async with e2e_db.sessions.begin() as session:
        await session.execute(CURRENCIES)
    tg.add_chat(ADMIN_CHAT, title="Admins")
    first = await make_app(e2e_db, notifier=FAST_CHATS)
    user = await customer(e2e_db, tg)
    view = await withdraw(first, user, "20.00")
    card_id = await posted_card(tg, view)
    await press(tg, ADMIN_ID, card_id, card_data(view.id, W.APPROVE))
    await card_shows(tg, card_id, "Status: 👍 Approved")
    prompt = await prompt_for(tg, ADMIN_ID, card_id, view, W.REJECT)
    assert f"{view.internal_id} (approved, $20.00 to" in prompt["text"]
    await first.stop()

    # a restart mid-flow loses nothing: the question is kept in the database, not in memory
    second = await make_app(e2e_db, notifier=FAST_CHATS)
    reason = "<b>wrong</b> network & <script>"
    await write(tg, ADMIN_ID, reason, reply_to=prompt["message_id"], expect="rejected")
    await card_shows(tg, card_id, "Status: ❌ Rejected", f"Reason: {reason}")
    assert reason in await user_told(tg, user, "Withdrawal rejected")
    assert (await get(second, view.id)).status is WithdrawalStatus.REJECTED
    again = await write(tg, ADMIN_ID, "again", reply_to=prompt["message_id"], expect="already")
    assert again["text"] == texts.PROMPT_REFUSAL["used"]


async def test_non_admin_changes_nothing(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user)
    card_id = await posted_card(tg, view)
    before = card(tg, card_id)
    text_before, keyboard_before = before.text, before.reply_markup
    mark = tg.mark()
    for action in W:
        answer = await press(tg, STRANGER, card_id, card_data(view.id, action), forged=True)
        assert answer == {**answer, "text": texts.ADMIN_ONLY, "show_alert": True}
    refused = await write(tg, STRANGER, "/pending", expect=texts.ADMIN_ONLY)
    assert refused["text"] == texts.ADMIN_ONLY
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.PENDING
    after = card(tg, card_id)
    assert (after.text, after.reply_markup) == (text_before, keyboard_before)
    assert not [c for c in tg.calls("editMessageText") if c.seq >= mark]
    assert not tg.sent_messages(user.telegram_id)  # no push to the user

    # an admin's commands do nothing in a private chat
    tg.send_text(ADMIN_ID, "/pending")
    reply = await tg.wait_for_message(ADMIN_ID)
    assert reply["text"] == texts.UNKNOWN_INPUT


async def test_an_admin_cannot_approve_their_own_withdrawal(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    async with e2e_db.sessions.begin() as session:
        me = await upsert_user(session, ADMIN_2, first_name="Deputy")
        await post_deposit(session, me.id, D("80.00"), f"e2e-admin:{secrets.token_hex(6)}")
    tg.add_chat(ADMIN_2)
    view = await withdraw(admin_app, me, "30.00")
    card_id = await posted_card(tg, view)
    refused = await press(tg, ADMIN_2, card_id, card_data(view.id, W.APPROVE))
    assert refused["text"] == texts.error_text("forbidden", "own_withdrawal", {})
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.PENDING
    approved = await press(tg, ADMIN_ID, card_id, card_data(view.id, W.APPROVE))
    assert approved["text"] == texts.ADMIN_WD_TOAST["approve"]
    assert (await get(admin_app, view.id)).approved_by == ADMIN_ID
    await card_shows(tg, card_id, "approved by @boss")
    # Asking for the hash is refused too, before the prompt.
    mark = tg.mark()
    refused = await press(tg, ADMIN_2, card_id, card_data(view.id, W.COMPLETE))
    assert refused["text"] == texts.error_text("forbidden", "own_withdrawal", {})
    prompts = [c for c in tg.calls("sendMessage") if c.seq >= mark]
    assert not [c for c in prompts if c.params.get("chat_id") == ADMIN_CHAT]
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.APPROVED


async def test_user_buttons_forged_in_the_admin_chat_edit_nothing(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user)
    card_id = await posted_card(tg, view)
    before = card(tg, card_id)
    mark = tg.mark()
    for data in (
        HistoryCallback(page=0).pack(),
        MenuCallback(action=MenuAction.BALANCE).pack(),
        CurrencyPageCallback(flow=Flow.DEPOSIT, page=0).pack(),
    ):
        for who in (STRANGER, ADMIN_ID):
            await press(tg, who, card_id, data, forged=True)
    assert not [c for c in tg.calls("editMessageText") if c.seq >= mark]
    assert not [c for c in tg.calls("sendMessage") if c.seq >= mark]
    after = card(tg, card_id)
    assert (after.text, after.reply_markup) == (before.text, before.reply_markup)


async def test_a_refused_answer_to_a_press_does_not_undo_or_hide_the_decision(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user)
    card_id = await posted_card(tg, view)
    tg.fail_next("answerCallbackQuery", code=400, description="Bad Request: query is too old")
    mark = tg.mark()
    query = tg.press_button(
        ADMIN_ID, card_id, ADMIN_CHAT, card_data(view.id, W.APPROVE), username="boss"
    )
    await card_shows(tg, card_id, "approved by @boss")
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.APPROVED
    await user_told(tg, user, "Withdrawal approved")
    answers = [c for c in tg.calls("answerCallbackQuery") if c.seq >= mark]
    assert [c.params.get("callback_query_id") for c in answers] == [query]  # the refused one
    assert tg.callback_answer(query) is None  # and no "something went wrong" after it


async def test_two_admins_press_at_once(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user)
    card_id = await posted_card(tg, view)
    data = card_data(view.id, W.APPROVE)
    answers = await asyncio.gather(
        press(tg, ADMIN_ID, card_id, data), press(tg, ADMIN_2, card_id, data)
    )
    texts_seen = sorted(a["text"] for a in answers)
    winner = (await get(admin_app, view.id)).approved_by
    assert winner in (ADMIN_ID, ADMIN_2)
    assert texts_seen[0].startswith(f"Already handled: approved by @{NAMES[winner]} at ")
    assert texts_seen[1] == texts.ADMIN_WD_TOAST["approve"]
    await card_shows(tg, card_id, f"approved by @{NAMES[winner]}")
    await user_told(tg, user, "Withdrawal approved")

    # approve and (forged) processing at once on a pending one: the approve wins; processing
    # is refused (seen pending, or losing the race and told who just acted) or runs after it
    second = await withdraw(admin_app, user, "10.00")
    second_card = await posted_card(tg, second)
    approve_and_process = await asyncio.gather(
        press(tg, ADMIN_ID, second_card, card_data(second.id, W.APPROVE)),
        press(tg, ADMIN_2, second_card, card_data(second.id, W.PROCESS), forged=True),
    )
    assert approve_and_process[0]["text"] == texts.ADMIN_WD_TOAST["approve"]
    assert approve_and_process[1]["text"] in (
        "Not possible now: the withdrawal is pending.",
        texts.ADMIN_WD_TOAST["process"],
    ) or approve_and_process[1]["text"].startswith("Already handled: approved by @boss at ")


@pytest.mark.parametrize(
    "data",
    ["aw1:0:ap", "aw1:-5:ap", "aw1:abc:ap", "aw1:1:zz", "aw1:1", "aw1:99999999999999999999:ap"],
)
async def test_forged_callback_data(
    admin_app: App, tg: FakeTelegram, e2e_db: Db, data: str
) -> None:
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user)
    card_id = await posted_card(tg, view)
    mark = tg.mark()
    answer = await press(tg, ADMIN_ID, card_id, data, forged=True)
    assert answer["text"] == texts.BUTTON_EXPIRED
    missing = await press(tg, ADMIN_ID, card_id, card_data(10**15, W.APPROVE), forged=True)
    assert missing["text"] == texts.ERRORS["not_found"]
    early = await press(tg, ADMIN_ID, card_id, card_data(view.id, W.COMPLETE), forged=True)
    assert early["text"] == "Not possible now: the withdrawal is pending."
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.PENDING
    assert not [c for c in tg.calls("editMessageText") if c.seq >= mark]
    assert not [c for c in tg.calls("sendMessage", chat_id=user.telegram_id) if c.seq >= mark]


async def add_payment(db: Db, user: User, amount: str, status: str) -> str:
    internal_id = new_payment_id()
    async with db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code,"
                " status) VALUES (:iid, :uid, :amount, 'BTC', :status)"
            ),
            {"iid": internal_id, "uid": user.id, "amount": D(amount), "status": status},
        )
    return internal_id


async def held_deposit(db: Db, user: User, *, paid: str, of: str, amount: str) -> tuple[int, str]:
    """A partially paid deposit held for review, its notice queued for the admin chat (as
    settlement leaves it under the hold policy)."""
    internal_id = new_payment_id()
    async with db.sessions.begin() as session:
        payment_id = await session.scalar(
            text(
                "INSERT INTO payments (internal_payment_id, user_id, amount_usd, currency_code,"
                " status, provider_status, pay_amount, actually_paid, needs_review, completed_at)"
                " VALUES (:iid, :uid, :amount, 'BTC', 'partially_paid', 'partially_paid',"
                " :of, :paid, true, now()) RETURNING id"
            ),
            {
                "iid": internal_id,
                "uid": user.id,
                "amount": D(amount),
                "of": D(of),
                "paid": D(paid),
            },
        )
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        card = deposit_notify.admin_message(
            ADMIN_CHAT,
            REVIEW_KIND,
            payment,
            user,
            deposit_notify.facts(payment, previous="waiting", reason="partial_hold"),
            reply_status="partially_paid",
            reply_paid=D(paid),
        )
        assert card is not None
        await deposit_notify.enqueue(session, card)
    assert isinstance(payment_id, int)
    return payment_id, internal_id


async def test_a_held_deposit_is_credited_from_the_admin_chat(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg, amount="5.00")
    payment_id, internal_id = await held_deposit(
        e2e_db, user, paid="0.0002", of="0.0005", amount="50.00"
    )  # 40 % of $50 arrived
    admin_app.notifier.wake()
    notice = await tg.wait_for_message(ADMIN_CHAT, contains=internal_id)
    assert "Deposit needs a decision" in notice["text"]
    credit = AdminReviewCallback(payment_id=payment_id, action=AdminReviewAction.CREDIT).pack()
    close = AdminReviewCallback(payment_id=payment_id, action=AdminReviewAction.CLOSE).pack()
    buttons = card(tg, notice["message_id"]).callback_data()
    assert buttons == [credit, close]
    assert "Credit $20.00" in str(card(tg, notice["message_id"]).reply_markup)

    refused = await press(tg, STRANGER, notice["message_id"], credit)
    assert refused["text"] == texts.ADMIN_ONLY
    assert await balance(e2e_db, user) == D("5.00")

    done = await press(tg, ADMIN_ID, notice["message_id"], credit)
    assert done["text"] == texts.REVIEW_TOAST["credit"]
    decided = await card_shows(tg, notice["message_id"], "credited $20.00 by @boss")
    assert decided.callback_data() == []  # no buttons left on a decided notice
    pushed = await user_told(tg, user, "Deposit credited after review")
    assert "Balance: $25.00" in pushed and internal_id in pushed
    assert await balance(e2e_db, user) == D("25.00")

    again = await press(tg, ADMIN_2, notice["message_id"], close, forged=True)
    assert again["text"].startswith("Already decided by @boss at ")
    assert await balance(e2e_db, user) == D("25.00")


async def test_payments_review_lists_the_waiting_deposits_with_buttons(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg, amount="1.00")
    first_id, first = await held_deposit(e2e_db, user, paid="0.1", of="0.4", amount="10.00")
    second_id, second = await held_deposit(e2e_db, user, paid="0.2", of="0.4", amount="10.00")
    listing = await write(tg, ADMIN_ID, "/payments review", expect="Recent deposits")
    assert first in listing["text"] and second in listing["text"]
    data = card(tg, listing["message_id"]).callback_data()
    close_first = AdminReviewCallback(payment_id=first_id, action=AdminReviewAction.CLOSE).pack()
    assert close_first in data
    assert (
        AdminReviewCallback(payment_id=second_id, action=AdminReviewAction.CREDIT).pack() in data
    )

    answer = await press(tg, ADMIN_ID, listing["message_id"], close_first)
    assert answer["text"] == texts.REVIEW_TOAST["close"]
    after = await card_shows(tg, listing["message_id"], f"{first}: review closed by @boss")
    left = after.callback_data()
    assert close_first not in left and any(str(second_id) in d for d in left)  # the other stays
    await user_told(tg, user, "Deposit reviewed")
    assert await balance(e2e_db, user) == D("1.00")


async def test_commands(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    name = f"cmd_{secrets.token_hex(3)}"
    user = await customer(e2e_db, tg, amount="70.00", username=name)
    view = await withdraw(admin_app, user, "25.00")
    await posted_card(tg, view)
    paid = await add_payment(e2e_db, user, "70.00", "finished")
    waiting = await add_payment(e2e_db, user, "15.00", "waiting")

    pending = await write(tg, ADMIN_ID, "/pending", expect="awaiting action")
    assert view.internal_id in pending["text"] and f"@{name}" in pending["text"]

    recent = await write(tg, ADMIN_ID, "/payments", expect="Recent deposits")
    assert paid in recent["text"] and waiting in recent["text"]
    only = await write(tg, ADMIN_ID, "/payments waiting", expect="Recent deposits")
    assert waiting in only["text"] and paid not in only["text"]
    unknown = await write(tg, ADMIN_ID, "/payments <b>", expect="Unknown status")
    assert unknown["text"].startswith("Unknown status “<b>”. Use one of: review, creating")

    found = await write(tg, ADMIN_ID, f"/user @{name.upper()}", expect="Balance")
    for needle in (
        f"@{name} (id {user.telegram_id})",
        "Balance: $45.00",
        "Total deposited: $70.00",
        view.internal_id,
        paid,
        "Withdrawal -$25.00 → $45.00",
    ):
        assert needle in found["text"], needle
    by_id = await write(tg, ADMIN_ID, f"/user {user.telegram_id}", expect="Balance")
    assert by_id["text"] == found["text"]
    nobody = await write(tg, ADMIN_ID, "/user @nobody_at_all_here", expect="No user")
    assert nobody["text"] == texts.USER_NOT_FOUND
    assert (await write(tg, ADMIN_ID, "/user", expect="Usage"))["text"].startswith("Usage")

    stats = await write(tg, ADMIN_ID, "/stats", expect="Stats")
    assert "Withdrawals by status" in stats["text"] and "Ledger check" in stats["text"]
    assert "pending: " in stats["text"]
    helped = await write(tg, ADMIN_ID, "/help", expect="Admin commands")
    assert "/adjust" in helped["text"]


async def confirmation(tg: FakeTelegram, who: int, command: str) -> dict[str, Any]:
    """An admin sends /adjust or /bonus; the confirmation, once its buttons are on it."""
    sent = await write(tg, who, command, expect="Confirm")
    await tg.wait_for(lambda _: bool(card(tg, sent["message_id"]).callback_data()))
    return sent


async def test_adjust_with_confirm(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    name = f"adj_{secrets.token_hex(3)}"
    user = await customer(e2e_db, tg, amount="20.00", username=name)

    usage = await write(tg, ADMIN_ID, f"/adjust @{name} -5", expect="Usage")
    assert usage["text"].startswith("Usage: /adjust")
    too_much = await write(tg, ADMIN_ID, f"/adjust @{name} -20.01 oops", expect="Refused")
    assert "$20.00" in too_much["text"]
    bad = await write(tg, ADMIN_ID, f"/adjust @{name} 1e3 x", expect="number")
    assert bad["text"] == texts.ERRORS["invalid_amount.not_a_number"]

    confirm = await confirmation(tg, ADMIN_ID, f"/adjust @{name} -5.00 dup <b>deposit</b>")
    assert "Balance: $20.00 → $15.00" in confirm["text"]
    assert "Reason: dup <b>deposit</b>" in confirm["text"]
    assert await balance(e2e_db, user) == D("20.00")  # nothing before the confirmation
    ok = AdminAdjustCallback(action=ConfirmAction.CONFIRM).pack()
    stranger = await press(tg, STRANGER, confirm["message_id"], ok)
    assert stranger["text"] == texts.ADMIN_ONLY
    other = await press(tg, ADMIN_2, confirm["message_id"], ok)
    assert other["text"] == texts.ADJUST_REFUSAL["not_yours"]
    assert await balance(e2e_db, user) == D("20.00")
    answers = await asyncio.gather(
        press(tg, ADMIN_ID, confirm["message_id"], ok),
        press(tg, ADMIN_ID, confirm["message_id"], ok),
    )
    assert sorted(a["text"] for a in answers) == sorted(
        [texts.ADJUST_DONE_TOAST, texts.ADJUST_REFUSAL["used"]]
    )
    assert await balance(e2e_db, user) == D("15.00")

    def done(_: Any) -> bool:
        return "posted" in (card(tg, confirm["message_id"]).text or "")

    await tg.wait_for(done)
    edited = card(tg, confirm["message_id"])
    assert "Change: -$5.00 → balance $15.00" in (edited.text or "")
    assert edited.callback_data() == []
    late = await press(tg, ADMIN_ID, confirm["message_id"], ok, forged=True)
    assert late["text"] == texts.ADJUST_REFUSAL["used"]
    assert await balance(e2e_db, user) == D("15.00")

    bonus = await confirmation(tg, ADMIN_ID, f"/bonus {user.telegram_id} 3 welcome")
    no = AdminAdjustCallback(action=ConfirmAction.CANCEL).pack()
    assert (await press(tg, ADMIN_2, bonus["message_id"], no))["text"] == (
        texts.ADJUST_REFUSAL["not_yours"]
    )
    await press(tg, ADMIN_ID, bonus["message_id"], no)
    await tg.wait_for(lambda _: "Cancelled" in (card(tg, bonus["message_id"]).text or ""))
    after_cancel = await press(tg, ADMIN_ID, bonus["message_id"], ok, forged=True)
    assert after_cancel["text"] == texts.ADJUST_REFUSAL["used"]
    assert await balance(e2e_db, user) == D("15.00")
    async with e2e_db.sessions() as session:
        rows = await session.execute(
            text("SELECT type, amount_usd, description FROM transactions WHERE user_id = :u"),
            {"u": user.id},
        )
        assert [tuple(r) for r in rows.all()][1:] == [
            ("adjustment", D("-5.00"), "dup <b>deposit</b>")
        ]


async def test_currencies_toggle_and_sync(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    async with fresh_db.sessions.begin() as session:
        await session.execute(CURRENCIES)
    tg.add_chat(ADMIN_CHAT, title="Admins")
    await make_app(fresh_db, notifier=FAST_CHATS)
    listing = await write(tg, ADMIN_ID, "/currencies", expect="Currencies")
    assert "BTC Bitcoin · ✅ on" in listing["text"] or "BTC BTC · ✅ on" in listing["text"]
    off = AdminCurrencyCallback(action=AdminCurrencyAction.OFF, code="BTC").pack()
    assert off in card(tg, listing["message_id"]).callback_data()

    refused = await press(tg, STRANGER, listing["message_id"], off)
    assert refused["text"] == texts.ADMIN_ONLY
    answer = await press(tg, ADMIN_ID, listing["message_id"], off)
    assert answer["text"] == "BTC is now off."
    on = AdminCurrencyCallback(action=AdminCurrencyAction.ON, code="BTC").pack()
    shown = await card_shows(tg, listing["message_id"], "switched off by an admin")
    assert on in shown.callback_data()
    async with fresh_db.sessions() as session:
        row = await session.execute(
            text("SELECT is_active, disabled_by_admin FROM currencies WHERE code = 'BTC'")
        )
        assert tuple(row.one()) == (False, True)

    mark = tg.mark()
    await press(tg, ADMIN_ID, listing["message_id"], AdminCurrencySyncCallback().pack())
    synced = await tg.wait_for_message(ADMIN_CHAT, contains="Currencies synced", since=mark)
    assert "Active now:" in synced["text"]
    async with fresh_db.sessions() as session:  # the admin's switch outlives the sync
        row = await session.execute(
            text("SELECT is_active, disabled_by_admin FROM currencies WHERE code = 'BTC'")
        )
        assert tuple(row.one()) == (False, True)


async def test_a_long_currency_list_pages(
    make_app: MakeApp, tg: FakeTelegram, fresh_db: Db
) -> None:
    codes = [f"COIN{i:02d}" for i in range(70)]  # 3 pages of 30
    async with fresh_db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO currencies (code, name, token, network, needs_memo, is_active,"
                " sort_order) SELECT c, c, c, 'net', false, true, n"
                " FROM unnest(CAST(:codes AS text[])) WITH ORDINALITY AS t(c, n)"
            ),
            {"codes": codes},
        )
    tg.add_chat(ADMIN_CHAT, title="Admins")
    await make_app(fresh_db, notifier=FAST_CHATS)
    listing = await write(tg, ADMIN_ID, "/currencies", expect="Currencies")
    message_id = listing["message_id"]
    assert "(70, page 1 of 3;" in listing["text"]
    assert "COIN29" in listing["text"] and "COIN30" not in listing["text"]
    buttons = card(tg, message_id).callback_data()
    assert AdminCurrencyCallback(action=AdminCurrencyAction.OFF, code="COIN29").pack() in buttons
    assert [b for b in buttons if b.startswith("ap1:")] == ["ap1:1"]  # no ◀ on the first page
    assert len([b for b in buttons if b.startswith("ac2:")]) == 30

    await press(tg, ADMIN_ID, message_id, AdminCurrencyPageCallback(page=1).pack())
    second = await card_shows(tg, message_id, "page 2 of 3", "COIN30", "COIN59")
    assert "COIN29" not in (second.text or "") and "COIN60" not in (second.text or "")
    off = AdminCurrencyCallback(action=AdminCurrencyAction.OFF, code="COIN45", page=1).pack()
    assert off in second.callback_data()
    assert {
        AdminCurrencyPageCallback(page=0).pack(),
        AdminCurrencyPageCallback(page=2).pack(),
    } <= set(second.callback_data())

    answer = await press(tg, ADMIN_ID, message_id, off)  # the switch keeps the admin on page 2
    assert answer["text"] == "COIN45 is now off."
    await card_shows(tg, message_id, "page 2 of 3", "switched off by an admin")
    async with fresh_db.sessions() as session:
        row = await session.execute(text("SELECT is_active FROM currencies WHERE code = 'COIN45'"))
        assert row.scalar_one() is False

    await press(tg, STRANGER, message_id, AdminCurrencyPageCallback(page=0).pack())
    assert "page 2 of 3" in (card(tg, message_id).text or "")  # a stranger turns no page
    forged = AdminCurrencyPageCallback(page=9).pack()
    await press(tg, ADMIN_ID, message_id, forged, forged=True)
    last = await card_shows(tg, message_id, "page 3 of 3", "COIN69")  # past the end: the last
    assert [b for b in last.callback_data() if b.startswith("ap1:")] == ["ap1:1"]  # no ▶


async def test_alerts_reach_the_admin_chat(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    hostile = "<b>x</b> & <script>"
    key = secrets.token_hex(4)
    async with e2e_db.sessions.begin() as session:
        await outbox.enqueue(
            session,
            chat_id=ADMIN_CHAT,
            kind="deposit_review",
            payload={
                "internal_id": f"PAY_{key}",
                "reason": "partial_hold",
                "user_telegram_id": 123456,
                "username": hostile,
                "amount_usd": "25.00",
                "actually_paid": "0.0001",
                "currency": "BTC",
            },
            dedup_key=f"e2e-admin-review-{key}",
        )
        await outbox.enqueue(
            session,
            chat_id=ADMIN_CHAT,
            kind="reconcile_alert",
            payload={"count": 1, "users": 1, "detail": hostile, "more": 0},
            dedup_key=f"e2e-admin-reconcile-{key}",
        )
    admin_app.notifier.wake()
    review = await tg.wait_for_message(ADMIN_CHAT, contains=f"PAY_{key}")
    assert "Deposit needs a decision" in review["text"]
    assert f"@{hostile} (id 123456)" in review["text"] and "Paid: 0.0001 BTC" in review["text"]
    assert "nothing credited" in review["text"]
    alert = await tg.wait_for_message(ADMIN_CHAT, contains="1 mismatches")
    assert hostile in alert["text"]


async def test_answers_that_change_nothing(admin_app: App, tg: FakeTelegram, e2e_db: Db) -> None:
    """A reply from a non-admin, from an admin who was not asked, to a message that asks
    nothing, to an expired question: one sentence each, the withdrawal and the card as they
    were, nothing pushed to the user. Pressing the button again asks afresh."""
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user, "15.00")
    card_id = await posted_card(tg, view)
    await until(lambda: stored_card(admin_app, view.id, card_id))
    prompt = await prompt_for(tg, ADMIN_ID, card_id, view, W.REJECT)
    question = prompt["message_id"]
    before = card(tg, card_id)
    mark = tg.mark()

    stranger = await write(tg, STRANGER, "fraud", reply_to=question, expect=texts.ADMIN_ONLY)
    assert stranger["text"] == texts.ADMIN_ONLY
    other = await write(tg, ADMIN_2, "fraud", reply_to=question, expect="another admin")
    assert other["text"] == texts.PROMPT_REFUSAL["not_yours"]
    to_card = await write(tg, ADMIN_ID, "fraud", reply_to=card_id, expect="not waiting")
    assert to_card["text"] == texts.PROMPT_REFUSAL["unknown"]
    listing = await write(tg, ADMIN_ID, "/pending", expect="awaiting action")
    to_listing = await write(
        tg, ADMIN_ID, "fraud", reply_to=listing["message_id"], expect="not waiting"
    )
    assert to_listing["text"] == texts.PROMPT_REFUSAL["unknown"]
    async with e2e_db.sessions.begin() as session:  # the question's time runs out
        await session.execute(
            text(
                "UPDATE admin_prompts SET created_at = now() - interval '2 days',"
                " expires_at = now() - interval '1 day' WHERE chat_id = :c AND message_id = :m"
            ),
            {"c": ADMIN_CHAT, "m": question},
        )
    expired = await write(tg, ADMIN_ID, "fraud", reply_to=question, expect="expired")
    assert expired["text"] == texts.PROMPT_REFUSAL["expired"]

    assert (await get(admin_app, view.id)).status is WithdrawalStatus.PENDING
    after = card(tg, card_id)
    assert (after.text, after.reply_markup) == (before.text, before.reply_markup)
    assert not [c for c in tg.calls("editMessageText") if c.seq >= mark]
    assert not tg.sent_messages(user.telegram_id)
    for said in admin_chat_texts(tg, mark):
        assert_no_machine_lines(said)

    fresh = await prompt_for(tg, ADMIN_ID, card_id, view, W.REJECT)
    done = await write(tg, ADMIN_ID, "duplicate", reply_to=fresh["message_id"], expect="rejected")
    assert done["text"].startswith(f"❌ Withdrawal {view.internal_id} rejected")
    assert (await get(admin_app, view.id)).reject_reason == "duplicate"
    await drained(e2e_db, ADMIN_CHAT, user.telegram_id)


async def test_a_question_about_a_withdrawal_that_moved_is_refused(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    user = await customer(e2e_db, tg)
    view = await withdraw(admin_app, user, "15.00")
    card_id = await posted_card(tg, view)
    prompt = await prompt_for(tg, ADMIN_ID, card_id, view, W.REJECT)
    await press(tg, ADMIN_2, card_id, card_data(view.id, W.APPROVE))  # meanwhile
    late = await write(tg, ADMIN_ID, "no", reply_to=prompt["message_id"], expect="approved")
    assert late["text"].startswith("Already handled: approved by @deputy at ")
    assert (await get(admin_app, view.id)).status is WithdrawalStatus.APPROVED
    again = await write(tg, ADMIN_ID, "no", reply_to=prompt["message_id"], expect="already")
    assert again["text"] == texts.PROMPT_REFUSAL["used"]
    await drained(e2e_db, ADMIN_CHAT, user.telegram_id)


async def test_no_machine_lines_in_the_admin_chat(
    admin_app: App, tg: FakeTelegram, e2e_db: Db
) -> None:
    """Reject, complete, /adjust and /bonus end to end: nothing the bot writes into the admin
    chat carries a ref line or a database id, yet every answer does what it was asked for."""
    name = f"ml_{secrets.token_hex(3)}"
    user = await customer(e2e_db, tg, amount="100.00", username=name)
    mark = tg.mark()
    rejected = await withdraw(admin_app, user, "15.00")
    completed = await withdraw(admin_app, user, "20.00")
    reject_card = await posted_card(tg, rejected)
    complete_card = await posted_card(tg, completed)
    await until(lambda: stored_card(admin_app, completed.id, complete_card))

    prompt = await prompt_for(tg, ADMIN_ID, reject_card, rejected, W.REJECT)
    assert prompt["text"].split(", ", 1)[1] == (
        f"reason for rejecting withdrawal {rejected.internal_id} (pending, $15.00 to"
        f" @{name})?\nReply to this message: the user sees the reason, and the amount goes back"
        " to their balance."
    )
    await write(tg, ADMIN_ID, "wrong network", reply_to=prompt["message_id"], expect="rejected")
    await press(tg, ADMIN_ID, complete_card, card_data(completed.id, W.APPROVE))
    await card_shows(tg, complete_card, "Status: 👍 Approved")
    prompt = await prompt_for(tg, ADMIN_2, complete_card, completed, W.COMPLETE)
    await write(tg, ADMIN_2, TX_HASH, reply_to=prompt["message_id"], expect="completed")
    await card_shows(tg, reject_card, "Status: ❌ Rejected")
    await card_shows(tg, complete_card, "Status: ✅ Completed")

    ok = AdminAdjustCallback(action=ConfirmAction.CONFIRM).pack()
    no = AdminAdjustCallback(action=ConfirmAction.CANCEL).pack()
    adjust = await confirmation(tg, ADMIN_ID, f"/adjust @{name} -5.00 fee refund")
    assert adjust["text"].endswith("Balance: $80.00 → $75.00\nReason: fee refund")
    assert (await press(tg, ADMIN_ID, adjust["message_id"], ok))["text"] == (
        texts.ADJUST_DONE_TOAST
    )
    await tg.wait_for(lambda _: "posted" in (card(tg, adjust["message_id"]).text or ""))
    bonus = await confirmation(tg, ADMIN_2, f"/bonus {user.telegram_id} 2.50 thanks")
    await press(tg, ADMIN_2, bonus["message_id"], no)
    await tg.wait_for(lambda _: "Cancelled" in (card(tg, bonus["message_id"]).text or ""))

    assert (await get(admin_app, rejected.id)).status is WithdrawalStatus.REJECTED
    assert (await get(admin_app, completed.id)).status is WithdrawalStatus.COMPLETED
    assert await balance(e2e_db, user) == D(
        "75.00"
    )  # 100 - 20 - 5: the 15 came back, the bonus was cancelled
    await drained(e2e_db, ADMIN_CHAT, user.telegram_id)
    said = admin_chat_texts(tg, mark)
    assert len(said) >= 10  # two cards and their edits, two questions, answers, confirmations
    for text_ in said:
        assert_no_machine_lines(text_, rejected)
        assert_no_machine_lines(text_, completed)
