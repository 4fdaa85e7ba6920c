"""Deposits end to end: DepositService (create, check status, recheck, reads) and settle
through the real client against the fake provider, on real PostgreSQL (a database of this
module's own)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from core import deposits
from core.db.models import User
from core.deposits import settlement
from core.deposits.schedule import Schedule
from core.deposits.settlement import (
    ALERT_KIND,
    REVIEW_KIND,
    STATUS_KIND,
    Outcome,
    SettlePolicy,
    settle,
)
from core.deposits.views import list_by_status, payment_uri, plain
from core.errors import (
    CurrencyUnavailable,
    Forbidden,
    InvalidAmount,
    NotFound,
    ProviderRefused,
    ProviderUnavailable,
)
from core.nowpayments import MalformedReply, NowPaymentsClient
from core.nowpayments import Payment as Reply
from tests.fakes.nowpayments import FakeNowPayments, Fault, Step
from tests.support.db import Db, balance, make_user
from tests.support.deposits import (
    FAST,
    deposits_of,
    drive,
    events_of,
    make_client,
    make_policy,
    make_service,
    notes_of,
    payment_row,
    pro_rata,
    rows,
)
from tests.support.settings import ADMIN, ADMIN_CHAT

D = Decimal
POLICY = make_policy()


@pytest.fixture
async def user(deposit_db: Db) -> User:
    return await make_user(deposit_db.sessions)


async def create(
    db: Db,
    client: NowPaymentsClient,
    user: User,
    amount: str = "25",
    code: str = "BTC",
    *,
    policy: SettlePolicy = POLICY,
    fixed_rate: bool = False,
) -> deposits.PaymentView:
    return await make_service(db, client, policy).create(
        user_id=user.id, amount_usd=amount, currency_code=code, fixed_rate=fixed_rate
    )


def pid(view: deposits.PaymentView) -> str:
    assert view.provider_payment_id is not None
    return view.provider_payment_id


def pay(view: deposits.PaymentView) -> Decimal:
    assert view.pay_amount is not None
    return view.pay_amount


# --- create ----------------------------------------------------------------------------------


async def test_create_returns_what_the_bot_shows(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "25")
    (remote,) = fake.find_by_order_id(view.internal_id)
    assert view.status == "waiting" and view.provider_payment_id == str(remote.payment_id)
    assert view.pay_address == remote.pay_address and view.pay_amount == remote.pay_amount
    assert view.amount_usd == D("25.00") and view.currency == "BTC" and view.memo is None
    assert view.payment_uri == f"bitcoin:{remote.pay_address}?amount={plain(remote.pay_amount)}"
    assert view.expires_at is not None
    assert abs(view.expires_at - remote.valid_until) < timedelta(milliseconds=1)
    assert await events_of(deposit_db, view.id) == [("waiting", None)]
    assert await notes_of(deposit_db, view.id) == []  # shown inline, not pushed
    row = await payment_row(deposit_db, view.id)
    assert row.next_check_at is not None and row.lease_until is None and row.last_error is None

    memo = await create(deposit_db, client, user, "30", "XRP")
    assert memo.memo and memo.needs_memo and memo.payment_uri == memo.pay_address
    eth = await create(deposit_db, client, user, "30", "ETH")
    assert eth.payment_uri is not None and eth.payment_uri.startswith(
        f"ethereum:{eth.pay_address}?value="
    )
    trc = await create(deposit_db, client, user, "30", "usdttrc20")
    assert trc.payment_uri == trc.pay_address and trc.currency_name == "USDT (TRC20)"
    fixed = await create(deposit_db, client, user, "30", "LTC", fixed_rate=True)
    assert fixed.payment_uri is not None and fixed.payment_uri.startswith("litecoin:")
    assert fixed.expires_at is not None
    assert fixed.expires_at < datetime.now(UTC) + timedelta(minutes=21)


def test_payment_uri_rules() -> None:
    assert payment_uri("BTC", "bc1q", D("0.00106700")) == "bitcoin:bc1q?amount=0.001067"
    assert payment_uri("ETH", "0xab", D("0.5")) == "ethereum:0xab?value=500000000000000000"
    assert payment_uri("BTC", "bc1q", D("1"), memo="7") == "bc1q"
    assert payment_uri("USDTERC20", "0xab", D("5")) == "0xab"
    assert payment_uri("BTC", None, D("1")) is None


@pytest.mark.parametrize(
    ("amount", "code", "error", "reason", "params"),
    [
        ("4.99", "BTC", InvalidAmount, "below_minimum", {"minimum": D("5.00")}),
        ("10000.01", "BTC", InvalidAmount, "above_maximum", {"maximum": D("10000.00")}),
        # ETH: provider minimum $5.00 + 10 % margin = $5.50.
        ("5.49", "ETH", InvalidAmount, "below_minimum", {"minimum": D("5.50"), "currency": "ETH"}),
        ("abc", "BTC", InvalidAmount, "not_a_number", {}),
        ("NaN", "BTC", InvalidAmount, "not_a_number", {}),
        ("-5", "BTC", InvalidAmount, "negative", {}),
        ("1.001", "BTC", InvalidAmount, "too_many_decimals", {"places": 2}),
        ("25", "NOPE", CurrencyUnavailable, "unknown", {"currency": "NOPE"}),
    ],
)
async def test_refused_before_calling_the_provider(
    deposit_db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    amount: str,
    code: str,
    error: type[Exception],
    reason: str,
    params: dict[str, Any],
) -> None:
    with pytest.raises(error) as info:
        await create(deposit_db, client, user, amount, code)
    assert info.value.reason == reason and info.value.params == params  # type: ignore[attr-defined]
    assert fake.requests["create_payment"] == 0
    assert await rows(deposit_db, "SELECT id FROM payments WHERE user_id = :u", u=user.id) == []


async def test_refused_for_banned_user_inactive_coin_and_decimal_amount(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    banned = await make_user(deposit_db.sessions, is_banned=True)
    with pytest.raises(Forbidden):
        await create(deposit_db, client, banned)
    with pytest.raises(NotFound):
        await make_service(deposit_db, client).create(
            user_id=-1, amount_usd="25", currency_code="BTC"
        )
    user = await make_user(deposit_db.sessions)
    with pytest.raises(InvalidAmount):
        await create(deposit_db, client, user, D("25.005"))  # type: ignore[arg-type]
    async with deposit_db.sessions.begin() as s:
        await s.execute(
            text(
                "INSERT INTO currencies (code, name, token, network, is_active)"
                " VALUES ('OFFCOIN', 'Off', 'OFF', 'off', false)"
            )
        )
    with pytest.raises(CurrencyUnavailable) as info:
        await create(deposit_db, client, user, "25", "OFFCOIN")
    assert info.value.reason == "inactive"
    assert fake.requests["create_payment"] == 0
    ok = await create(deposit_db, client, user, D("25.5"))  # type: ignore[arg-type]
    assert ok.amount_usd == D("25.50")


@pytest.mark.parametrize(
    ("set_up", "reason", "code"),
    [
        (lambda f: f.set_min_usd("btc", D("100")), "below_minimum", "AMOUNT_MINIMAL_ERROR"),
        (lambda f: f.set_enabled("btc", False), "currency_unavailable", "CURRENCY_UNAVAILABLE"),
    ],
)
async def test_provider_refusal_is_typed_and_leaves_a_final_row(
    deposit_db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    set_up: Any,
    reason: str,
    code: str,
) -> None:
    set_up(fake)
    with pytest.raises(ProviderRefused) as info:
        await create(deposit_db, client, user, "25")
    assert info.value.reason == reason and info.value.params["currency"] == "BTC"
    (row,) = await rows(deposit_db, "SELECT * FROM payments WHERE user_id = :u", u=user.id)
    assert row.status == "create_failed" and code in row.last_error
    assert row.next_check_at is None and row.provider_payment_id is None
    assert await events_of(deposit_db, row.id) == [("create_failed", row.last_error)]
    assert await deposits_of(deposit_db, user.id) == []
    assert fake.requests["create_payment"] == 1  # never retried


async def test_unreachable_provider_fails_the_row(
    deposit_db: Db, fake: FakeNowPayments, user: User
) -> None:
    async with make_client(fake, timeout=0.5) as dead:
        await fake.stop()  # connection refused: nothing was sent
        with pytest.raises(ProviderUnavailable) as info:
            await create(deposit_db, dead, user, "25")
    assert info.value.reason == "unreachable"
    (row,) = await rows(deposit_db, "SELECT status FROM payments WHERE user_id = :u", u=user.id)
    assert row.status == "create_failed"


async def test_create_timeout_is_reconciled_by_order_id(
    deposit_db: Db, fake: FakeNowPayments, user: User
) -> None:
    async with make_client(fake, timeout=0.3) as slow:
        fake.inject("create_payment", Fault.HANG, after=True, count=1)
        with pytest.raises(ProviderUnavailable) as info:
            await create(deposit_db, slow, user, "40")
        assert info.value.reason == "outcome_unknown"
        (row,) = await rows(deposit_db, "SELECT * FROM payments WHERE user_id = :u", u=user.id)
        assert row.status == "creating" and row.next_check_at <= datetime.now(UTC)
        assert "outcome unknown" in row.last_error
        (remote,) = fake.find_by_order_id(row.internal_payment_id)  # the provider has it
        fake.heal()

        # The user's button (or the poller) looks it up; the address is pushed to the user.
        view = await make_service(deposit_db, slow).check_status(
            user_telegram_id=user.telegram_id,
            payment_id=row.internal_payment_id,
        )
        assert view.status == "waiting" and view.provider_payment_id == str(remote.payment_id)
        assert view.pay_address == remote.pay_address and view.last_error is None
        (note,) = await notes_of(deposit_db, row.id)
        assert (note.chat_id, note.kind) == (user.telegram_id, STATUS_KIND)
        assert note.payload["pay_address"] == remote.pay_address
        assert (
            note.payload["previous_status"] == "creating" and note.payload["status"] == "waiting"
        )
        assert fake.requests["create_payment"] == 1
        fake.play(remote.payment_id, "finished")
        assert (await drive(deposit_db, slow, user, row.id))[-1] == "finished"
    assert await deposits_of(deposit_db, user.id) == [(D("40.00"), f"deposit:{row.id}", row.id)]


async def test_lost_create_is_failed_after_the_deadline(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    async with make_client(fake, timeout=0.3) as slow:
        fake.inject("create_payment", Fault.HANG, count=1)  # never reaches the provider
        with pytest.raises(ProviderUnavailable):
            await create(deposit_db, slow, user, "40")
    fake.heal()
    (row,) = await rows(deposit_db, "SELECT * FROM payments WHERE user_id = :u", u=user.id)
    assert fake.find_by_order_id(row.internal_payment_id) == []
    outcome = await make_service(deposit_db, client).reconcile_creating(row.id)
    assert outcome is Outcome.UNCHANGED  # not found yet, deadline not reached
    past = make_policy(schedule=FAST.__class__(creating_deadline_seconds=0.0))
    outcome = await make_service(deposit_db, client, past).reconcile_creating(row.id)
    assert outcome is Outcome.CLOSED
    after = await payment_row(deposit_db, row.id)
    assert after.status == "create_failed" and after.next_check_at is None
    (note,) = await notes_of(deposit_db, row.id)
    assert note.payload["status"] == "create_failed" and note.payload["reason"] == "not_created"
    assert fake.requests["list_payments"] >= 2


# --- status paths through check_status ---------------------------------------------------------


async def test_finished_credits_once_with_history_and_notifications(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "25")
    fake.play(pid(view), "finished")
    seen = await drive(deposit_db, client, user, view.id)
    assert seen == ["waiting", "confirming", "confirmed", "sending", "finished"]
    assert await deposits_of(deposit_db, user.id) == [(D("25.00"), f"deposit:{view.id}", view.id)]
    assert await balance(deposit_db, user) == D("25.00")
    row = await payment_row(deposit_db, view.id)
    assert (row.status, row.credited_usd, row.next_check_at) == ("finished", D("25.00"), None)
    assert row.completed_at is not None and not row.needs_review
    assert [e[0] for e in await events_of(deposit_db, view.id)] == [
        "waiting",
        "confirming",
        "confirmed",
        "sending",
        "finished",
    ]
    notes = await notes_of(deposit_db, view.id)
    assert [n.payload["status"] for n in notes] == [
        "confirming",
        "confirmed",
        "sending",
        "finished",
    ]
    assert {(n.chat_id, n.kind) for n in notes} == {(user.telegram_id, STATUS_KIND)}
    last = notes[-1].payload
    assert last["credited_usd"] == "25.00" and last["balance_usd"] == "25.00"
    assert last["amount_usd"] == "25.00" and last["currency"] == "BTC" and last["final"] is True
    assert last["actually_paid"] == str(fake.payment(pid(view)).pay_amount)

    calls = fake.requests["get_payment"]
    again = await make_service(deposit_db, client).check_status(
        user_telegram_id=user.telegram_id,
        payment_id=view.internal_id,
    )
    assert again.status == "finished" and fake.requests["get_payment"] == calls  # final: stored
    reply = await client.get_payment(pid(view))
    repeat = await settle(deposit_db.sessions, view.id, reply, POLICY)
    assert repeat.outcome is Outcome.UNCHANGED and repeat.credited is None
    assert len(await deposits_of(deposit_db, user.id)) == 1


async def test_partially_paid_is_credited_pro_rata(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    credit = make_policy(partial_payment_policy="credit")
    view = await create(deposit_db, client, user, "33.33", policy=credit)
    fake.play(pid(view), "partially_paid")
    assert (await drive(deposit_db, client, user, view.id, credit))[-1] == "partially_paid"
    remote = fake.payment(pid(view))
    expected = pro_rata(D("33.33"), remote.actually_paid, remote.pay_amount)
    assert D("0") < expected < D("33.33")
    assert await deposits_of(deposit_db, user.id) == [(expected, f"deposit:{view.id}", view.id)]
    row = await payment_row(deposit_db, view.id)
    assert row.credited_usd == expected and not row.needs_review
    last = (await notes_of(deposit_db, view.id))[-1].payload
    assert last["status"] == "partially_paid" and last["credited_usd"] == str(expected)
    assert (
        last["actually_paid"] == str(remote.actually_paid) and last["reason"] == "partial_credit"
    )


async def test_partially_paid_hold_waits_for_an_admin(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    hold = make_policy(partial_payment_policy="hold")
    view = await create(deposit_db, client, user, "20", policy=hold)
    fake.play(pid(view), "partially_paid")
    assert (await drive(deposit_db, client, user, view.id, hold))[-1] == "partially_paid"
    assert await deposits_of(deposit_db, user.id) == []
    row = await payment_row(deposit_db, view.id)
    assert row.needs_review and row.credited_usd is None
    (review,) = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert review.chat_id == ADMIN_CHAT and review.payload["reason"] == "partial_hold"
    assert review.payload["user_telegram_id"] == user.telegram_id
    user_note = (await notes_of(deposit_db, view.id, STATUS_KIND))[-1].payload
    assert user_note["needs_review"] is True and user_note["credited_usd"] is None
    async with deposit_db.sessions() as session:
        listed = await list_by_status(session, needs_review=True)
    assert view.id in [v.id for v in listed]


@pytest.mark.parametrize(
    ("factor", "credit_overpayment", "expect_pro_rata", "review"),
    [
        (D("1.005"), True, True, False),  # within the 1 % tolerance: what arrived, pro rata
        (D("1.005"), False, False, False),  # within, extra not credited: the price
        (D("1.2"), True, False, True),  # beyond: nothing credited, an admin decides
        (D("1.2"), False, False, True),
    ],
)
async def test_overpayment(
    deposit_db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    factor: Decimal,
    credit_overpayment: bool,
    expect_pro_rata: bool,
    review: bool,
) -> None:
    policy = make_policy(credit_overpayment=credit_overpayment)
    view = await create(deposit_db, client, user, "50", policy=policy)
    asked = fake.payment(pid(view)).pay_amount
    paid = (asked * factor).quantize(D("0.00000001"))
    fake.script(
        pid(view),
        [Step("confirming", actually_paid=paid), Step("finished", actually_paid=paid)],
    )
    assert (await drive(deposit_db, client, user, view.id, policy))[-1] == "finished"
    expected = pro_rata(D("50"), paid, asked) if expect_pro_rata else D("50.00")
    assert (expected > D("50")) is expect_pro_rata
    credits = [] if review else [(expected, f"deposit:{view.id}", view.id)]
    assert await deposits_of(deposit_db, user.id) == credits
    reviews = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert [r.payload["reason"] for r in reviews] == (["overpaid"] if review else [])
    alerts = await notes_of(deposit_db, view.id, ALERT_KIND)
    told = ["overpaid_credited"] if expect_pro_rata else []
    assert [a.payload["reason"] for a in alerts] == told  # admins hear of every extra credit


@pytest.mark.parametrize("scenario", ["expired", "failed", "refunded"])
async def test_final_without_credit(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User, scenario: str
) -> None:
    view = await create(deposit_db, client, user, "15")
    fake.play(pid(view), scenario)
    assert (await drive(deposit_db, client, user, view.id))[-1] == scenario
    assert await deposits_of(deposit_db, user.id) == []
    row = await payment_row(deposit_db, view.id)
    assert row.credited_usd is None and row.completed_at
    # Expired and failed deposits are looked at again later (money may still arrive).
    assert (row.next_check_at is None) is (scenario == "refunded")
    last = (await notes_of(deposit_db, view.id, STATUS_KIND))[-1].payload
    # The fake's "failed" saw a little money arrive first: that is never dropped silently.
    reason = "ended_with_payment" if scenario == "failed" else scenario
    assert (last["status"], last["reason"], last["final"]) == (scenario, reason, True)
    assert row.needs_review is (scenario == "failed")
    reviews = [n.payload["reason"] for n in await notes_of(deposit_db, view.id, REVIEW_KIND)]
    assert reviews == (["ended_with_payment"] if scenario == "failed" else [])


async def test_unknown_status_is_recorded_and_non_final(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "15")
    fake.play(pid(view), "unknown")  # waiting, then "spending"
    for _ in range(3):
        got = await make_service(deposit_db, client).check_status(
            user_telegram_id=user.telegram_id,
            payment_id=view.id,
        )
    assert got.status == "waiting" and got.provider_status == "spending" and not got.is_final
    row = await payment_row(deposit_db, view.id)
    assert row.next_check_at is not None and row.credited_usd is None
    assert await events_of(deposit_db, view.id) == [("waiting", None), ("spending", None)]
    fake.set_status(pid(view), "finished", actually_paid=pay(got))
    assert (await drive(deposit_db, client, user, view.id))[-1] == "finished"
    assert len(await deposits_of(deposit_db, user.id)) == 1


@pytest.mark.parametrize(
    "fault", [Fault.NAN_STRING, Fault.NAN_TOKEN, Fault.TRUNCATED, Fault.NOT_JSON]
)
async def test_malformed_reply_changes_nothing(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User, fault: Fault
) -> None:
    view = await create(deposit_db, client, user, "15")
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    before = await payment_row(deposit_db, view.id)
    fake.inject("get_payment", fault, count=1)
    with pytest.raises(ProviderUnavailable) as info:
        await make_service(deposit_db, client).check_status(
            user_telegram_id=user.telegram_id,
            payment_id=view.id,
        )
    assert info.value.reason == "malformed_reply"
    assert await payment_row(deposit_db, view.id) == before
    assert await events_of(deposit_db, view.id) == [("waiting", None)]
    assert await deposits_of(deposit_db, user.id) == []
    assert (await drive(deposit_db, client, user, view.id))[-1] == "finished"


async def test_settle_validates_replies_itself(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "15")
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    good = await client.get_payment(pid(view))
    before = await payment_row(deposit_db, view.id)
    bad_replies = [
        good.model_copy(update={"actually_paid": D("NaN")}),
        good.model_copy(update={"actually_paid": D("-1")}),
        good.model_copy(update={"pay_amount": D("Infinity")}),
        good.model_copy(update={"payment_id": "1"}),
        good.model_copy(update={"order_id": "PAY_20000101000000_00000000"}),
        good.model_copy(update={"pay_currency": "eth"}),
    ]
    for bad in bad_replies:
        with pytest.raises(MalformedReply):
            await settle(deposit_db.sessions, view.id, bad, POLICY)
    assert await payment_row(deposit_db, view.id) == before
    assert await deposits_of(deposit_db, user.id) == []
    changed_price = good.model_copy(update={"price_amount": D("150")})
    result = await settle(deposit_db.sessions, view.id, changed_price, POLICY)
    assert result.outcome is Outcome.ALERTED and result.view.status == "waiting"
    assert await deposits_of(deposit_db, user.id) == []
    (review,) = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert review.payload["reason"] == "price_changed"
    with pytest.raises(NotFound):
        await settle(deposit_db.sessions, -1, good, POLICY)


async def test_disagreement_after_credit_alerts_and_never_debits(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "25")
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    assert (await drive(deposit_db, client, user, view.id))[-1] == "finished"

    async def recheck() -> deposits.PaymentView:
        return await make_service(deposit_db, client).recheck(
            admin_id=ADMIN, payment_ref=view.internal_id
        )

    fake.set_status(pid(view), "confirming")  # a regression
    for _ in range(2):  # alerted once
        got = await recheck()
    assert got.status == "finished" and got.credited_usd == D("25.00") and got.needs_review
    fake.set_status(pid(view), "finished", actually_paid=pay(view) * 2)  # another amount
    await recheck()
    alerts = await notes_of(deposit_db, view.id, ALERT_KIND)
    assert [(a.chat_id, a.payload["reason"]) for a in alerts] == [
        (ADMIN_CHAT, "changed_after_credit"),
        (ADMIN_CHAT, "amount_changed_after_credit"),
    ]
    assert alerts[0].payload["reply_status"] == "confirming"
    notes = [e[1] for e in await events_of(deposit_db, view.id)]
    assert notes.count("changed_after_credit") == 1 and "amount_changed_after_credit" in notes
    assert await deposits_of(deposit_db, user.id) == [(D("25.00"), f"deposit:{view.id}", view.id)]
    assert await balance(deposit_db, user) == D("25.00")
    with pytest.raises(Forbidden):
        await make_service(deposit_db, client).recheck(
            admin_id=user.telegram_id, payment_ref=view.id
        )


async def test_paid_after_expiry_is_reviewed_not_credited(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "25")
    fake.set_status(pid(view), "expired")
    assert (await drive(deposit_db, client, user, view.id))[-1] == "expired"
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    got = await make_service(deposit_db, client).recheck(admin_id=ADMIN, payment_ref=view.id)
    assert got.status == "expired" and got.needs_review
    (review,) = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert review.payload["reason"] == "paid_after_final"
    assert review.payload["invoice_value_usd"] == "25.00"
    assert await deposits_of(deposit_db, user.id) == []


async def test_child_payment_is_alerted_not_credited(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "25")
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    assert (await drive(deposit_db, client, user, view.id))[-1] == "finished"
    child_id = fake.add_child_payment(pid(view), D("0.0005"), status="finished")
    child = await client.get_payment(child_id)
    assert child.parent_payment_id == view.provider_payment_id
    for expected in (Outcome.ALERTED, Outcome.UNCHANGED):
        result = await settle(deposit_db.sessions, view.id, child, POLICY)
        assert result.outcome is expected
    (alert,) = await notes_of(deposit_db, view.id, ALERT_KIND)
    assert (
        alert.payload["reason"] == "child_payment"
        and alert.payload["child_payment_id"] == child_id
    )
    assert alert.payload["child_actually_paid"] == "0.0005"
    assert await deposits_of(deposit_db, user.id) == [(D("25.00"), f"deposit:{view.id}", view.id)]
    assert result.view.needs_review and result.view.status == "finished"


async def test_five_concurrent_settles_credit_once(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "77.77")
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    reply = await client.get_payment(pid(view))
    results = await asyncio.gather(
        *(settle(deposit_db.sessions, view.id, reply, POLICY) for _ in range(5))
    )
    assert sorted(r.outcome for r in results) == sorted(
        [Outcome.CREDITED] + [Outcome.UNCHANGED] * 4
    )
    assert [r.credited for r in results if r.credited] == [D("77.77")]
    assert await deposits_of(deposit_db, user.id) == [(D("77.77"), f"deposit:{view.id}", view.id)]
    assert len(await notes_of(deposit_db, view.id, STATUS_KIND)) == 1
    assert [e for e in await events_of(deposit_db, view.id) if e[0] == "finished"] == [
        ("finished", None)
    ]


# --- reads and ownership --------------------------------------------------------------------


async def test_reads_and_ownership(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    first = await create(deposit_db, client, user, "10")
    second = await create(deposit_db, client, user, "20", "LTC")
    service = make_service(deposit_db, client)
    recent = await service.list_for_user(user.id)
    assert [v.id for v in recent] == [second.id, first.id]
    for ref in (first.id, first.internal_id, first.internal_id.lower(), first.provider_payment_id):
        found = await service.find(ref)  # type: ignore[arg-type]
        assert found is not None and found.id == first.id
    assert await service.find("nonsense") is None
    async with deposit_db.sessions() as session:
        waiting = await list_by_status(session, ["waiting"], limit=100)
    assert {first.id, second.id} <= {v.id for v in waiting}

    stranger = await make_user(deposit_db.sessions)
    with pytest.raises(Forbidden) as info:
        await make_service(deposit_db, client).check_status(
            user_telegram_id=stranger.telegram_id,
            payment_id=first.id,
        )
    assert info.value.reason == "not_owner"
    with pytest.raises(NotFound):
        await make_service(deposit_db, client).check_status(
            user_telegram_id=user.telegram_id,
            payment_id="PAY_20000101000000_00000000",
        )
    fake.inject("get_payment", Fault.RATE_LIMIT, count=1, retry_after=7)
    with pytest.raises(ProviderUnavailable) as busy:
        await make_service(deposit_db, client).check_status(
            user_telegram_id=user.telegram_id,
            payment_id=first.id,
        )
    assert busy.value.reason == "rate_limited" and busy.value.params["retry_after"] == 7.0


# --- pure rules ------------------------------------------------------------------------------


def test_pro_rata_rounds_down_to_the_cent() -> None:
    assert settlement.pro_rata(D("33.33"), D("0.5"), D("1")) == D("16.66")
    assert settlement.pro_rata(D("10.00"), D("1"), D("3")) == D("3.33")
    assert settlement.pro_rata(D("10.00"), D("2"), D("3")) == D("6.66")
    assert settlement.pro_rata(D("10.00"), D("1E-60"), D("1")) == D("0.00")
    assert settlement.pro_rata(D("10.00"), D("0"), D("1")) == D("0.00")


def test_expiry_defaults() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    base = {"payment_id": 1, "payment_status": "waiting"}
    reply = Reply.model_validate(base)
    assert settlement.expiry_of(reply, created) == created + timedelta(days=7)
    fixed = Reply.model_validate({**base, "is_fixed_rate": True})
    assert settlement.expiry_of(fixed, created) == created + timedelta(minutes=20)
    naive = Reply.model_validate({**base, "valid_until": "2026-01-02T00:00:00"})
    assert settlement.expiry_of(naive, created) == datetime(2026, 1, 2, tzinfo=UTC)


def test_schedule_checks_young_payments_often_and_rechecks_at_expiry() -> None:
    s = Schedule(
        base_seconds=10,
        young_seconds=900,
        middle_factor=6,
        middle_seconds=7200,
        old_seconds=300,
        stale_after_seconds=86400,
        stale_seconds=1800,
        max_seconds=1800,
        expiry_grace_seconds=60,
    )
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    far = t0 + timedelta(days=7)
    assert s.next_check(t0 + timedelta(minutes=1), t0, far) == t0 + timedelta(
        minutes=1, seconds=10
    )
    assert s.next_check(t0 + timedelta(hours=1), t0, far) == t0 + timedelta(hours=1, seconds=60)
    assert s.next_check(t0 + timedelta(hours=5), t0, far) == t0 + timedelta(hours=5, minutes=5)
    soon = t0 + timedelta(hours=5, minutes=1)  # expiring before the next regular check
    assert s.next_check(t0 + timedelta(hours=5), t0, soon) == soon + timedelta(seconds=60)
    day_old = t0 + timedelta(days=2)  # most likely never paid: every half hour
    assert s.next_check(day_old, t0, far) == day_old + timedelta(minutes=30)
    last = far - timedelta(minutes=10)  # the re-check at expiry still comes first
    assert s.next_check(last, t0, far) == far + timedelta(seconds=60)
    late = t0 + timedelta(days=8)
    assert s.next_check(late, t0, far) == late + timedelta(minutes=30)  # still polled
    for attempts, ceiling in ((1, 10), (3, 40), (30, 600)):
        wait = (s.after_error(t0, attempts) - t0).total_seconds()
        assert ceiling / 2 <= wait <= ceiling


async def test_a_reply_older_than_the_one_applied_changes_nothing(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    """The poller fetched 'confirming', then the user's check settled 'finished' first: the
    poller's late reply must not look like the provider changing its mind."""
    view = await create(deposit_db, client, user, "25")
    fetched_early = await client.get_payment(pid(view))
    fake.set_status(pid(view), "finished", actually_paid=pay(view))
    newer = await client.get_payment(pid(view))
    assert fetched_early.updated_at is not None and newer.updated_at is not None
    early = fetched_early.model_copy(
        update={"updated_at": newer.updated_at - timedelta(seconds=5)}
    )
    assert (await settle(deposit_db.sessions, view.id, newer, POLICY)).outcome is Outcome.CREDITED
    before = await payment_row(deposit_db, view.id)
    late = await settle(deposit_db.sessions, view.id, early, POLICY)
    assert late.outcome is Outcome.UNCHANGED
    assert await payment_row(deposit_db, view.id) == before
    assert await notes_of(deposit_db, view.id, ALERT_KIND) == []
    # A genuinely newer reply that disagrees is still alerted.
    regressed = early.model_copy(update={"updated_at": newer.updated_at + timedelta(seconds=5)})
    assert (await settle(deposit_db.sessions, view.id, regressed, POLICY)).outcome is (
        Outcome.ALERTED
    )
    assert await deposits_of(deposit_db, user.id) == [(D("25.00"), f"deposit:{view.id}", view.id)]
