"""Issue 8: what arrived decides the credit, and late money always reaches an admin.

Attacks: a $10 invoice paid 1000×, paid 0 or nothing at all, paid half, paid 1.5× within and
beyond the tolerance; polls and user checks racing; money that arrives after expiry, found by
the poller (time moved by SQL) and by the user's check; a burst of concurrent checks against the
per-user limit. Real PostgreSQL, the real client, the fake provider.
"""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import text

from core import deposits
from core.db.models import User
from core.deposits.poller import Poller
from core.deposits.settlement import REVIEW_KIND, STATUS_KIND, SettlePolicy
from core.errors import LimitExceeded
from core.nowpayments import NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments, Fault
from tests.support.db import Db, make_user
from tests.support.deposits import (
    deposits_of,
    make_policy,
    make_service,
    notes_of,
    payment_row,
    pro_rata,
    rows,
)
from tests.support.settings import ADMIN_CHAT, make_settings

D = Decimal
POLICY = make_policy(status_checks_per_minute=1000)


@pytest.fixture
async def user(deposit_db: Db) -> User:
    return await make_user(deposit_db.sessions)


async def create(
    db: Db, client: NowPaymentsClient, user: User, amount: str = "10", **payments: Any
) -> deposits.PaymentView:
    service = make_service(db, client, **payments)
    return await service.create(user_id=user.id, amount_usd=amount, currency_code="BTC")


async def check(
    db: Db, client: NowPaymentsClient, user: User, payment_id: int, policy: SettlePolicy = POLICY
) -> deposits.PaymentView:
    return await make_service(db, client, policy).check_status(
        user_telegram_id=user.telegram_id, payment_id=payment_id
    )


def pid(view: deposits.PaymentView) -> str:
    assert view.provider_payment_id is not None
    return view.provider_payment_id


async def run(db: Db, sql: str, **params: Any) -> None:
    """A committed write (time moved by SQL)."""
    async with db.sessions.begin() as session:
        await session.execute(text(sql), params)


async def finished_with(
    db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    paid: Decimal | None,
    *,
    policy: SettlePolicy = POLICY,
    **payments: Any,
) -> tuple[deposits.PaymentView, Decimal]:
    """A $10 BTC deposit the provider calls finished with ``paid`` × pay_amount (None: the
    reply carries no actually_paid at all); the view after one user check."""
    view = await create(db, client, user, "10", **payments)
    asked = fake.payment(pid(view)).pay_amount
    if paid is None:
        fake.set_status(pid(view), "finished", fields={"actually_paid": None})
    else:
        fake.set_status(pid(view), "finished", actually_paid=(asked * paid).quantize(D("1e-8")))
    return await check(db, client, user, view.id, policy), asked


async def assert_in_review(db: Db, user: User, view: deposits.PaymentView, reason: str) -> Any:
    assert await deposits_of(db, user.id) == []
    row = await payment_row(db, view.id)
    assert row.status == "finished" and row.needs_review and row.credited_usd is None
    (review,) = await notes_of(db, view.id, REVIEW_KIND)
    assert review.chat_id == ADMIN_CHAT and review.payload["reason"] == reason
    told = (await notes_of(db, view.id, STATUS_KIND))[-1].payload
    assert told["reason"] == reason and told["needs_review"] is True
    assert told["credited_usd"] is None
    return review.payload


# --- Must 1: over- and underpayment ---------------------------------------------------------


async def test_a_thousandfold_overpayment_waits_for_an_admin_with_both_rates(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await create(deposit_db, client, user, "10")
    asked = fake.payment(pid(view)).pay_amount
    paid = asked * 1000
    fake.set_rate("btc", D("11715.25"))  # the coin has halved since the invoice
    fake.set_status(pid(view), "finished", actually_paid=paid)
    await check(deposit_db, client, user, view.id)
    review = await assert_in_review(deposit_db, user, view, "overpaid")
    assert review["actually_paid"] == str(paid.normalize()) and review["currency"] == "BTC"
    assert review["invoice_value_usd"] == str(pro_rata(D("10"), paid, asked))
    now_worth = (paid * D("11715.25")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert review["current_value_usd"] == str(now_worth)
    assert review["current_rate_unavailable"] is False


@pytest.mark.parametrize(
    ("paid", "reason"),
    [(D("0"), "finished_nothing_paid"), (None, "finished_nothing_paid")],
)
async def test_finished_with_nothing_paid_credits_nothing(
    deposit_db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    paid: Decimal | None,
    reason: str,
) -> None:
    view, _ = await finished_with(deposit_db, client, fake, user, paid)
    review = await assert_in_review(deposit_db, user, view, reason)
    assert review["invoice_value_usd"] in (None, "0.00")


async def test_finished_with_half_paid_waits_for_an_admin(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view, asked = await finished_with(deposit_db, client, fake, user, D("0.5"))
    review = await assert_in_review(deposit_db, user, view, "finished_underpaid")
    half = (asked * D("0.5")).quantize(D("1e-8"))
    assert review["invoice_value_usd"] == str(pro_rata(D("10"), half, asked)) == "5.00"


async def test_the_review_opens_when_the_estimate_fails(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    fake.inject("estimate", Fault.SERVER_ERROR)
    view, _ = await finished_with(deposit_db, client, fake, user, D("3"))
    review = await assert_in_review(deposit_db, user, view, "overpaid")
    assert review["current_value_usd"] is None and review["current_rate_unavailable"] is True


@pytest.mark.parametrize(
    ("tolerance", "credit_overpayment", "expected"),
    [
        ("60", True, "pro_rata"),  # 1.5× within 60 %: what arrived, at most 10 × 1.6
        ("60", False, "invoice"),  # within, but the extra is not credited: the invoice
        ("1", True, "review"),  # beyond 1 %: an admin decides
        ("1", False, "review"),
    ],
)
async def test_one_and_a_half_times_within_and_beyond_the_tolerance(
    deposit_db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    tolerance: str,
    credit_overpayment: bool,
    expected: str,
) -> None:
    knobs: dict[str, Any] = {
        "overpayment_tolerance_percent": tolerance,
        "credit_overpayment": credit_overpayment,
    }
    policy = make_policy(status_checks_per_minute=1000, **knobs)
    view, asked = await finished_with(deposit_db, client, fake, user, D("1.5"), policy=policy)
    if expected == "review":
        await assert_in_review(deposit_db, user, view, "overpaid")
        return
    paid = (asked * D("1.5")).quantize(D("1e-8"))
    credit = pro_rata(D("10"), paid, asked) if expected == "pro_rata" else D("10.00")
    assert D("10") < pro_rata(D("10"), paid, asked) <= D("15.00")
    assert await deposits_of(deposit_db, user.id) == [(credit, f"deposit:{view.id}", view.id)]
    assert not (await payment_row(deposit_db, view.id)).needs_review


async def test_defaults_are_the_safe_ones() -> None:
    settings = make_settings()
    assert settings.payments.partial_payment_policy == "hold"
    assert settings.payments.credit_overpayment is False


# --- races ----------------------------------------------------------------------------------


def poller(db: Db, client: NowPaymentsClient) -> Poller:
    settings = make_settings()
    return Poller(
        db.sessions,
        client,
        settings,
        policy=make_service(db, client).policy,
        lease_seconds=30.0,
        children_scan_seconds=None,
    )


@pytest.mark.parametrize("factor", [D("1"), D("1000")])
async def test_polls_and_user_checks_racing_credit_at_most_once(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User, factor: Decimal
) -> None:
    view = await create(deposit_db, client, user, "10")
    asked = fake.payment(pid(view)).pay_amount
    fake.set_status(pid(view), "finished", actually_paid=asked * factor)
    checks = [check(deposit_db, client, user, view.id) for _ in range(6)]
    polls = [poller(deposit_db, client).run_once() for _ in range(3)]
    await asyncio.gather(*checks, *polls)
    credits = await deposits_of(deposit_db, user.id)
    if factor == 1:
        assert credits == [(D("10.00"), f"deposit:{view.id}", view.id)]
        assert await notes_of(deposit_db, view.id, REVIEW_KIND) == []
    else:
        assert credits == []
        assert len(await notes_of(deposit_db, view.id, REVIEW_KIND)) == 1
    assert len(await notes_of(deposit_db, view.id, STATUS_KIND)) == 1


# --- Must 2: late money ---------------------------------------------------------------------


async def expired(
    db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> deposits.PaymentView:
    view = await create(db, client, user, "10")
    fake.set_status(pid(view), "expired")
    view = await check(db, client, user, view.id)
    assert view.status == "expired" and view.is_final
    return view


async def test_an_expired_deposit_stays_on_a_decaying_late_schedule(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await expired(deposit_db, client, fake, user)
    (row,) = await rows(
        deposit_db,
        "SELECT extract(epoch FROM next_check_at - completed_at) AS s FROM payments WHERE id = :i",
        i=view.id,
    )
    assert 299 <= row.s <= 301  # the first late check: 5 minutes after it ended
    assert (await poller(deposit_db, client).run_once()).claimed == 0  # not due yet


async def test_late_money_found_by_the_poller_goes_to_review(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await expired(deposit_db, client, fake, user)
    asked = fake.payment(pid(view)).pay_amount
    # Nothing yet: an unchanged late check moves it along the late schedule, no alert.
    await run(deposit_db, "UPDATE payments SET next_check_at = now() WHERE id = :i", i=view.id)
    counts = await poller(deposit_db, client).run_once()
    assert counts.claimed == 1 and counts.unchanged == 1
    row = await payment_row(deposit_db, view.id)
    assert row.next_check_at is not None and row.status == "expired"
    # The clock moves past the next check (by SQL); the money has arrived meanwhile.
    fake.set_status(pid(view), "finished", actually_paid=asked)
    await run(deposit_db, "UPDATE payments SET next_check_at = now() WHERE id = :i", i=view.id)
    assert (await poller(deposit_db, client).run_once()).claimed == 1
    row = await payment_row(deposit_db, view.id)
    assert row.status == "expired" and row.needs_review and row.credited_usd is None
    assert row.actually_paid == asked
    assert await deposits_of(deposit_db, user.id) == []
    (review,) = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert review.payload["reason"] == "paid_after_final"
    told = (await notes_of(deposit_db, view.id, STATUS_KIND))[-1].payload
    assert told["reason"] == "paid_after_final" and told["needs_review"] is True


async def test_late_checks_end_with_the_providers_window(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await expired(deposit_db, client, fake, user)
    await run(
        deposit_db,
        "UPDATE payments SET created_at = now() - interval '8 days', next_check_at = now()"
        " WHERE id = :i",
        i=view.id,
    )
    assert (await poller(deposit_db, client).run_once()).claimed == 0
    fake.set_status(pid(view), "finished", actually_paid=fake.payment(pid(view)).pay_amount)
    calls = fake.requests["get_payment"]
    await check(deposit_db, client, user, view.id)  # past the window: stored, not asked
    assert fake.requests["get_payment"] == calls


async def test_late_money_found_by_the_users_check_goes_to_review(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await expired(deposit_db, client, fake, user)
    fake.set_status(pid(view), "partially_paid", actually_paid=D("0.0001"))
    calls = fake.requests["get_payment"]
    seen = await check(deposit_db, client, user, view.id)
    assert fake.requests["get_payment"] == calls + 1  # asked the provider
    assert seen.status == "expired" and seen.needs_review
    (review,) = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert review.payload["reason"] == "paid_after_final"
    assert await deposits_of(deposit_db, user.id) == []


async def test_concurrent_checks_of_late_money_open_one_review(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await expired(deposit_db, client, fake, user)
    fake.set_status(pid(view), "finished", actually_paid=fake.payment(pid(view)).pay_amount)
    await run(deposit_db, "UPDATE payments SET next_check_at = now() WHERE id = :i", i=view.id)
    checks = [check(deposit_db, client, user, view.id) for _ in range(6)]
    polls = [poller(deposit_db, client).run_once() for _ in range(2)]
    await asyncio.gather(*checks, *polls)
    assert len(await notes_of(deposit_db, view.id, REVIEW_KIND)) == 1
    assert await deposits_of(deposit_db, user.id) == []


async def test_the_per_user_check_limit_holds_under_concurrent_presses(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await expired(deposit_db, client, fake, user)
    limited = make_policy(status_checks_per_minute=3)
    await run(deposit_db, "DELETE FROM status_check_limits WHERE user_id = :u", u=user.id)
    calls = fake.requests["get_payment"]
    results = await asyncio.gather(
        *(check(deposit_db, client, user, view.id, limited) for _ in range(10)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, LimitExceeded)]
    assert len(refused) == 7 and all(r.reason == "status_checks" for r in refused)
    assert all(isinstance(r, deposits.PaymentView) for r in results if r not in refused)
    assert fake.requests["get_payment"] == calls + 3
    other = await make_user(deposit_db.sessions)  # another user's limit is their own
    mine = await create(deposit_db, client, other, "10")
    assert (await check(deposit_db, client, other, mine.id, limited)).status == "waiting"
    # A minute later (moved by SQL) the user may check again.
    await run(
        deposit_db,
        "UPDATE status_check_limits SET window_start = window_start - interval '61 seconds'"
        " WHERE user_id = :u",
        u=user.id,
    )
    await check(deposit_db, client, user, view.id, limited)


@pytest.mark.parametrize(
    ("scenario", "status", "reason"),
    [
        ("paid_late", "expired", "paid_after_final"),
        ("overpaid_1000x", "finished", "overpaid"),
        ("finished_unpaid", "finished", "finished_nothing_paid"),
    ],
)
async def test_scripted_attacks_through_repeated_checks_never_credit(
    deposit_db: Db,
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    user: User,
    scenario: str,
    status: str,
    reason: str,
) -> None:
    view = await create(deposit_db, client, user, "10")
    fake.play(pid(view), scenario)
    for _ in range(6):  # past the end of the script: the last reply repeats
        await check(deposit_db, client, user, view.id)
    row = await payment_row(deposit_db, view.id)
    assert (row.status, row.needs_review, row.credited_usd) == (status, True, None)
    assert await deposits_of(deposit_db, user.id) == []
    reviews = await notes_of(deposit_db, view.id, REVIEW_KIND)
    assert {r.payload["reason"] for r in reviews} == {reason}
    # One review per provider status it passed through (confirming, then finished): the
    # repeated checks of an unchanged reply add none.
    said = [r.payload["reply_status"] for r in reviews]
    assert len(said) == len(set(said)) and said[-1] == "finished"
