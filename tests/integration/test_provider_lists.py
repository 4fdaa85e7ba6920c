"""A malformed item in a provider list costs that item only: the order_id look-up and the child
scan still work for everybody else (the fake garbles one payment with a NaN or a wrong type)."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core import deposits
from core.deposits.settlement import ALERT_KIND, utcnow
from core.ids import new_payment_id
from core.nowpayments import MalformedReply, NowPaymentsClient
from tests.fakes.nowpayments import NAN_TOKEN, FakeNowPayments
from tests.support.db import Db
from tests.support.deposits import add_coins, notes_of, payment_row, poller, seed_payments, users

D = Decimal
GARBAGE: list[dict[str, Any]] = [
    {"price_amount": NAN_TOKEN},
    {"pay_amount": "NaN"},
    {"actually_paid": "-1"},
    {"payment_status": None},
    {"fee": "not an object"},
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=lambda g: next(iter(g)))
async def test_order_id_lookup_survives_a_broken_neighbour(
    client: NowPaymentsClient,
    fake: FakeNowPayments,
    garbage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours = new_payment_id()
    mine = fake.add_payment(D("25"), "btc", order_id=ours)
    neighbour = fake.add_payment(D("30"), "eth", order_id=new_payment_id())  # listed first
    fake.garble(neighbour, **garbage)
    caplog.set_level(logging.WARNING, "core.nowpayments")

    found = await deposits.find_by_order_id(client, ours, utcnow())

    assert found is not None and found.payment_id == str(mine)
    listing = await client.list_payments(limit=10)
    assert [p.payment_id for p in listing.data] == [str(mine)]
    (skipped,) = listing.skipped
    assert skipped.id == str(neighbour) and skipped.field == next(iter(garbage))
    assert listing.received == 2
    # The log names the item and the field, never the value.
    assert f"id {neighbour}" in caplog.text and next(iter(garbage)) in caplog.text


async def test_order_id_lookup_refuses_to_say_absent_when_ours_is_unreadable(
    client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    ours = new_payment_id()
    mine = fake.add_payment(D("25"), "btc", order_id=ours)
    fake.garble(mine, price_amount=NAN_TOKEN)
    with pytest.raises(MalformedReply):
        await deposits.find_by_order_id(client, ours, utcnow() - timedelta(minutes=1))


async def test_child_scan_survives_a_broken_neighbour(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)

    (parent,) = await seed_payments(fresh_db, fake, [user.id], 1, lambda i, pid: None)
    p = poller(fresh_db, client)
    child = fake.add_child_payment(parent.provider_id, D("0.001"), status="finished")
    # Newer than the child, so the scan meets it first; garbled both ways the issue saw.
    other = fake.add_payment(D("40"), "ltc", order_id=new_payment_id())
    fake.garble(other, price_amount=NAN_TOKEN, actually_paid="NaN")

    assert await p.scan_children() == 1

    (alert,) = await notes_of(fresh_db, parent.payment_id, ALERT_KIND)
    assert alert.payload["child_payment_id"] == child
    assert (await payment_row(fresh_db, parent.payment_id)).needs_review


async def test_page_of_broken_items_is_not_taken_for_the_last_page(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    """The scan pages by count: skipped items still count as received."""
    await add_coins(fresh_db)
    (user,) = await users(fresh_db, 1)
    (parent,) = await seed_payments(fresh_db, fake, [user.id], 1, lambda i, pid: None)
    child = fake.add_child_payment(parent.provider_id, D("0.001"), status="finished")
    for _ in range(3):  # a whole newer page of garbage
        fake.garble(fake.add_payment(D("10"), "btc"), pay_amount=NAN_TOKEN)
    p = poller(fresh_db, client)

    assert await p.scan_children(pages=2, page_size=3) == 1

    (alert,) = await notes_of(fresh_db, parent.payment_id, ALERT_KIND)
    assert alert.payload["child_payment_id"] == child
