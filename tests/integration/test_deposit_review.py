"""An admin ends a deposit's review: credit a held payment exactly once, or close it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from core import deposits
from core.db.models import Payment, User
from core.deposits import DepositService
from core.deposits import review as deposit_review
from core.deposits.review import ReviewDecision
from core.deposits.settlement import STATUS_KIND, Outcome, ledger_key, settle
from core.errors import Forbidden, InvalidTransition
from core.nowpayments import NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments
from tests.support.db import Db, balance, make_user
from tests.support.deposits import (
    deposits_of,
    events_of,
    make_service,
    notes_of,
    payment_row,
    pro_rata,
)
from tests.support.settings import ADMIN

D = Decimal
ADMIN_2 = ADMIN + 1


def service(db: Db, client: NowPaymentsClient, **settings: Any) -> DepositService:
    """What the bot's deposit handlers and the admin's review buttons call; partial payments
    are held for review (the default, said here because these tests rely on it)."""
    return make_service(db, client, partial_payment_policy="hold", **settings)


@pytest.fixture
async def user(deposit_db: Db) -> User:
    return await make_user(deposit_db.sessions)


async def new_deposit(db: Db, client: NowPaymentsClient, user: User) -> deposits.PaymentView:
    return await service(db, client).create(user_id=user.id, amount_usd="20", currency_code="BTC")


async def held(db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User) -> int:
    """A $20 deposit partially paid under the hold policy: final, nothing credited, flagged."""
    view = await new_deposit(db, client, user)
    assert view.provider_payment_id is not None
    fake.play(view.provider_payment_id, "partially_paid")
    for _ in range(12):
        seen = await service(db, client).check_status(
            user_telegram_id=user.telegram_id, payment_id=view.id
        )
        if seen.is_final:
            break
    row = await payment_row(db, view.id)
    assert row.status == "partially_paid" and row.needs_review and row.credited_usd is None
    return view.id


async def test_credit_posts_what_arrived_once_and_tells_the_user(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    payment_id = await held(deposit_db, client, fake, user)
    row = await payment_row(deposit_db, payment_id)
    expected = pro_rata(row.amount_usd, row.actually_paid, row.pay_amount)
    assert D("0") < expected < D("20")

    result = await service(deposit_db, client).review(
        payment_id, ReviewDecision.CREDIT, admin_telegram_id=ADMIN
    )
    assert (result.credited, result.balance) == (expected, expected)
    assert await deposits_of(deposit_db, user.id) == [
        (expected, ledger_key(payment_id), payment_id)
    ]
    row = await payment_row(deposit_db, payment_id)
    assert not row.needs_review and row.credited_usd == expected
    assert ("partially_paid", "review:credit") in await events_of(deposit_db, payment_id)
    told = (await notes_of(deposit_db, payment_id, STATUS_KIND))[-1].payload
    assert told["reason"] == "review_credit" and D(told["balance_usd"]) == expected

    with pytest.raises(InvalidTransition) as again:
        await service(deposit_db, client).review(
            payment_id,
            ReviewDecision.CLOSE,
            admin_telegram_id=ADMIN,
        )
    assert again.value.reason == "not_under_review"
    assert again.value.params["decided_by"] == ADMIN
    assert await balance(deposit_db, user) == expected


async def test_two_admins_at_once_credit_exactly_once(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    payment_id = await held(deposit_db, client, fake, user)
    two_admins = service(deposit_db, client, admin_ids=[ADMIN, ADMIN_2])

    async def press(admin: int, decision: ReviewDecision) -> object:
        try:
            return await two_admins.review(payment_id, decision, admin_telegram_id=admin)
        except InvalidTransition as exc:
            return exc.reason

    outcomes = await asyncio.gather(
        *(press(ADMIN if i % 2 else ADMIN_2, ReviewDecision.CREDIT) for i in range(10)),
        *(press(ADMIN, ReviewDecision.CLOSE) for _ in range(4)),
    )
    winners = [o for o in outcomes if isinstance(o, deposit_review.ReviewResult)]
    assert len(winners) == 1
    assert [o for o in outcomes if not isinstance(o, deposit_review.ReviewResult)] == [
        "not_under_review"
    ] * 13
    credited = await deposits_of(deposit_db, user.id)
    assert len(credited) == (1 if winners[0].decision is ReviewDecision.CREDIT else 0)
    assert await balance(deposit_db, user) == (winners[0].credited or D("0.00"))


async def test_close_moves_no_money_and_tells_the_waiting_user(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    payment_id = await held(deposit_db, client, fake, user)
    result = await service(deposit_db, client).review(
        payment_id, ReviewDecision.CLOSE, admin_telegram_id=ADMIN
    )
    assert result.credited is None
    assert await deposits_of(deposit_db, user.id) == []
    row = await payment_row(deposit_db, payment_id)
    assert not row.needs_review and row.credited_usd is None
    told = (await notes_of(deposit_db, payment_id, STATUS_KIND))[-1].payload
    assert told["reason"] == "review_close"


async def test_refusals_change_nothing(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    payment_id = await held(deposit_db, client, fake, user)
    before = await payment_row(deposit_db, payment_id)
    with pytest.raises(Forbidden):
        await service(deposit_db, client).review(
            payment_id,
            ReviewDecision.CREDIT,
            admin_telegram_id=user.telegram_id,
        )
    async with deposit_db.sessions.begin() as session:  # what arrived is no longer known
        row = await session.get(Payment, payment_id)
        assert row is not None
        row.actually_paid = None
    with pytest.raises(InvalidTransition) as unknown:
        await service(deposit_db, client).review(
            payment_id,
            ReviewDecision.CREDIT,
            admin_telegram_id=ADMIN,
        )
    assert unknown.value.reason == "nothing_to_credit"
    after = await payment_row(deposit_db, payment_id)
    assert after.needs_review and after.credited_usd is None and before.needs_review
    assert await deposits_of(deposit_db, user.id) == []
    async with deposit_db.sessions() as session:
        assert await deposit_review.review_options(session, payment_id) == (True, None)


async def check(db: Db, client: NowPaymentsClient, user: User, payment_id: int) -> str:
    view = await service(db, client).check_status(
        user_telegram_id=user.telegram_id, payment_id=payment_id
    )
    return view.status


async def test_a_payment_still_in_progress_is_never_credited_by_review(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    view = await new_deposit(deposit_db, client, user)
    assert view.provider_payment_id is not None and view.pay_amount is not None
    fake.set_status(view.provider_payment_id, "confirming", actually_paid=view.pay_amount / 2)
    assert await check(deposit_db, client, user, view.id) == "confirming"
    async with deposit_db.sessions.begin() as session:  # flagged, e.g. by a repeat payment
        row = await session.get(Payment, view.id)
        assert row is not None
        row.needs_review = True
    async with deposit_db.sessions() as session:
        assert await deposit_review.review_options(session, view.id) == (True, None)
    with pytest.raises(InvalidTransition) as refused:
        await service(deposit_db, client).review(
            view.id, ReviewDecision.CREDIT, admin_telegram_id=ADMIN
        )
    assert (refused.value.reason, refused.value.params["status"]) == (
        "nothing_to_credit",
        "confirming",
    )
    assert await deposits_of(deposit_db, user.id) == []
    await service(deposit_db, client).review(
        view.id, ReviewDecision.CLOSE, admin_telegram_id=ADMIN
    )
    # The provider finishes it later: settled as usual, in full, under the payment's key.
    fake.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount)
    assert await check(deposit_db, client, user, view.id) == "finished"
    assert await deposits_of(deposit_db, user.id) == [(D("20.00"), ledger_key(view.id), view.id)]


async def test_review_credits_what_the_provider_says_last(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    """Held as partially paid, then the provider reports it paid in full: the admin's credit is
    the full amount, not the partial figure it was held with."""
    payment_id = await held(deposit_db, client, fake, user)
    row = await payment_row(deposit_db, payment_id)
    fake.set_status(row.provider_payment_id, "finished", actually_paid=row.pay_amount)
    rechecked = await service(deposit_db, client).recheck(  # an admin asks the provider again
        admin_id=ADMIN, payment_ref=payment_id
    )
    assert rechecked.status == "partially_paid"  # ours stays; the alert says what changed
    async with deposit_db.sessions() as session:
        assert await deposit_review.review_options(session, payment_id) == (True, D("20.00"))
    result = await service(deposit_db, client).review(
        payment_id, ReviewDecision.CREDIT, admin_telegram_id=ADMIN
    )
    assert result.credited == D("20.00")
    assert await balance(deposit_db, user) == D("20.00")


async def test_a_closed_price_review_lets_the_payment_settle_on_our_terms(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    svc = service(deposit_db, client)
    view = await svc.create(user_id=user.id, amount_usd="20", currency_code="BTC")
    assert view.provider_payment_id is not None and view.pay_amount is not None
    policy = svc.policy  # settle is driven by hand here: replies edited before they land
    priced = (await client.get_payment(view.provider_payment_id)).model_copy(
        update={"price_amount": D("150")}
    )
    assert (await settle(deposit_db.sessions, view.id, priced, policy)).outcome is Outcome.ALERTED
    assert (await payment_row(deposit_db, view.id)).needs_review
    await svc.review(view.id, ReviewDecision.CLOSE, admin_telegram_id=ADMIN)
    again = await settle(deposit_db.sessions, view.id, priced, policy)  # the same price again
    assert again.outcome is Outcome.UNCHANGED
    assert not (await payment_row(deposit_db, view.id)).needs_review  # the decision stands
    fake.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount)
    paid = (await client.get_payment(view.provider_payment_id)).model_copy(
        update={"price_amount": D("150")}
    )
    done = await settle(deposit_db.sessions, view.id, paid, policy)
    assert done.outcome is Outcome.CREDITED and done.credited == D("20.00")  # what we asked
    assert await deposits_of(deposit_db, user.id) == [(D("20.00"), ledger_key(view.id), view.id)]


async def test_an_overpayment_waits_in_review_and_credit_posts_the_invoice(
    deposit_db: Db, client: NowPaymentsClient, fake: FakeNowPayments, user: User
) -> None:
    svc = service(deposit_db, client)
    policy = svc.policy  # settle is driven by hand here: the reply is checked step by step
    view = await svc.create(user_id=user.id, amount_usd="20", currency_code="BTC")
    assert view.provider_payment_id is not None and view.pay_amount is not None
    fake.set_status(view.provider_payment_id, "finished", actually_paid=view.pay_amount * 5)
    reply = await client.get_payment(view.provider_payment_id)
    held = await settle(deposit_db.sessions, view.id, reply, policy)
    assert held.outcome is Outcome.HELD and held.credited is None
    async with deposit_db.sessions() as session:  # the invoice at most; the rest by /adjust
        assert await deposit_review.review_options(session, view.id) == (True, D("20.00"))
    done = await svc.review(view.id, ReviewDecision.CREDIT, admin_telegram_id=ADMIN)
    assert done.credited == D("20.00")
    assert await balance(deposit_db, user) == D("20.00")
