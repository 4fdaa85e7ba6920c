"""The fake provider itself: wire shapes, scripting, faults, paging and scale."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from core.nowpayments import CreatePaymentRequest, NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments, Fault


@pytest.fixture
async def fake() -> AsyncIterator[FakeNowPayments]:
    async with FakeNowPayments() as server:
        yield server


@pytest.fixture
async def http(fake: FakeNowPayments) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=fake.base_url, headers={"x-api-key": fake.api_key}, timeout=5
    ) as client:
        yield client


async def test_wire_shapes(fake: FakeNowPayments, http: httpx.AsyncClient):
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/v1"
    created = await http.post(
        "/payment",
        content=b'{"price_amount":3999.5,"price_currency":"usd","pay_currency":"btc",'
        b'"order_id":"RGDBP-21314","is_fixed_rate":true}',
        headers={"Content-Type": "application/json"},
    )
    assert created.status_code == 201
    body = created.json()
    assert isinstance(body["payment_id"], str)
    assert isinstance(body["purchase_id"], str)
    assert '"price_amount":3999.5,' in created.text  # echoed exactly, as a number

    polled = (await http.get(f"/payment/{body['payment_id']}")).json()
    assert polled["payment_id"] == int(body["payment_id"])
    listing = await http.get("/payment/")
    assert listing.status_code == 401
    assert listing.json() == {
        "status": False,
        "statusCode": 401,
        "code": "AUTH_REQUIRED",
        "message": "Authorization header is empty (Bearer JWTtoken is required)",
    }
    bad_id = await http.get("/payment/abc")
    assert (bad_id.status_code, bad_id.json()["code"]) == (400, "INVALID_REQUEST_PARAMS")
    no_target = await http.get("/min-amount", params={"currency_from": "btc"})
    assert no_target.status_code == 400
    assert "currency_to is required" in no_target.text
    keyless = await http.get("/status", headers={"x-api-key": ""})
    assert keyless.json() == {"message": "OK"}
    wrong_key = await http.get("/currencies", headers={"x-api-key": "nope"})
    assert (wrong_key.status_code, wrong_key.json()["code"]) == (403, "INVALID_API_KEY")
    coins = (await http.get("/merchant/coins")).json()["selectedCurrencies"]
    assert "BTC" in coins
    assert "DOGE" not in coins


async def test_auth_tokens_and_expiry(fake: FakeNowPayments, http: httpx.AsyncClient):
    bad = await http.post("/auth", json={"email": fake.email, "password": "wrong"})
    assert bad.status_code == 401
    token = (
        await http.post("/auth", json={"email": fake.email, "password": fake.password})
    ).json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert (await http.get("/payment/", headers=bearer)).status_code == 200
    fake.expire_tokens()
    assert (await http.get("/payment/", headers=bearer)).status_code == 401


async def test_purchase_id_only_for_partially_paid(fake: FakeNowPayments):
    async with NowPaymentsClient(
        fake.api_key, fake.base_url, max_requests_per_second=1000, burst=100
    ) as client:
        first = await client.create_payment(
            CreatePaymentRequest(
                price_amount=Decimal(50), price_currency="usd", pay_currency="eth"
            )
        )
        again = first.model_dump(include={"purchase_id"})
        request = CreatePaymentRequest(
            price_amount=Decimal(20), price_currency="usd", pay_currency="eth", **again
        )
        with pytest.raises(Exception, match="partially_paid"):
            await client.create_payment(request)
        fake.set_status(first.payment_id, "partially_paid", actually_paid=Decimal("0.01"))
        second = await client.create_payment(request)
        assert second.purchase_id == first.purchase_id
        assert second.payment_id != first.payment_id


async def test_seeded_faults_are_deterministic():
    patterns = []
    for _ in range(2):
        async with (
            FakeNowPayments(seed=7) as seeded,
            httpx.AsyncClient(base_url=seeded.base_url) as http,
        ):
            seeded.inject("*", Fault.SERVER_ERROR, rate=0.5)
            codes = [(await http.get("/status")).status_code for _ in range(20)]
            patterns.append(codes)
            assert seeded.requests["status"] == 20
    assert patterns[0] == patterns[1]
    assert {200, 500} == set(patterns[0])


async def test_heal_releases_hanging_requests(fake: FakeNowPayments, http: httpx.AsyncClient):
    fake.inject("status", Fault.HANG)
    hanging = asyncio.create_task(http.get("/status"))
    for _ in range(1000):
        if fake.requests["status"]:
            break
        await asyncio.sleep(0.005)
    assert not hanging.done()
    fake.heal()
    assert (await asyncio.wait_for(hanging, 2)).status_code == 504
    assert (await http.get("/status")).status_code == 200


async def test_latency_is_added():
    async with (
        FakeNowPayments(latency=0.05) as slow,
        httpx.AsyncClient(base_url=slow.base_url) as http,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        await http.get("/status")
        assert loop.time() - started >= 0.05


async def test_list_paging_filters_and_order(fake: FakeNowPayments):
    ids = [
        fake.add_payment(Decimal(10 + i), "ltc", invoice_id=9 if i % 5 == 0 else None)
        for i in range(25)
    ]
    async with NowPaymentsClient(
        fake.api_key,
        fake.base_url,
        email=fake.email,
        password=fake.password,
        max_requests_per_second=1000,
        burst=100,
    ) as client:
        last = await client.list_payments(limit=10, page=2)
        assert [p.payment_id for p in last.data] == ids[20:]
        assert (last.total, last.pages_count) == (25, 3)
        newest = await client.list_payments(limit=3, order_by="desc")
        assert [p.payment_id for p in newest.data] == ids[:-4:-1]
        invoice = await client.list_payments(limit=50, invoice_id=9)
        assert [p.payment_id for p in invoice.data] == ids[::5]
        by_price = await client.list_payments(limit=2, sort_by="price_amount", order_by="desc")
        assert [p.price_amount for p in by_price.data] == [Decimal(34), Decimal(33)]
        future = await client.list_payments(date_from="2999-01-01")
        assert future.total == 0


async def test_ten_thousand_payments_polled_concurrently(fake: FakeNowPayments):
    ids = [fake.add_payment(Decimal(25), "usdttrc20", order_id=f"o-{i}") for i in range(10_000)]
    for pid in ids[::2]:
        fake.play(pid, "finished")
    async with NowPaymentsClient(
        fake.api_key, fake.base_url, max_requests_per_second=100_000, burst=1000
    ) as client:
        sample = ids[::50]  # 200 polls in flight at once over one pooled client
        results = await asyncio.gather(*(client.get_payment(pid) for pid in sample))
    assert [p.payment_id for p in results] == sample
    assert fake.requests["get_payment"] == len(sample)
    assert len(fake) == 10_000


def test_dumps_keeps_decimal_digits():
    from tests.fakes.nowpayments import dumps

    raw = dumps({"a": Decimal("0.17070286"), "b": Decimal("5"), "c": [Decimal("1.50")]})
    assert raw == b'{"a":0.17070286,"b":5,"c":[1.50]}'
    assert json.loads(raw, parse_float=Decimal)["a"] == Decimal("0.17070286")
