"""The real NOWPayments client against the real fake provider, over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from core.db.models import PaymentStatus
from core.errors import ConfigError
from core.nowpayments import (
    FINAL_STATUSES,
    CreatePaymentRequest,
    MalformedReply,
    MinimumAmountError,
    NowPaymentsClient,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    base_url_for,
    is_final,
)
from core.nowpayments.client import _parse_retry_after
from tests.fakes.nowpayments import NAN_TOKEN, FakeNowPayments, Fault
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

MakeClient = Callable[..., NowPaymentsClient]

# Bodies copied from the provider facts document (/work/shared/nowpayments-api.md).
DOC_CREATE = (
    '{"payment_id":"5745459419","payment_status":"waiting",'
    '"pay_address":"3EZ2uTdVDAMFXTfc6uLDDKR6o8qKBZXVkj",'
    '"price_amount":3999.5,"price_currency":"usd","pay_amount":0.17070286,"pay_currency":"btc",'
    '"order_id":"RGDBP-21314","order_description":"Apple Macbook Pro 2019 x 1",'
    '"ipn_callback_url":"https://nowpayments.io",'
    '"created_at":"2020-12-22T15:00:22.742Z","updated_at":"2020-12-22T15:00:22.742Z",'
    '"purchase_id":"5837122679","amount_received":null,"payin_extra_id":null,'
    '"smart_contract":"","network":"btc","network_precision":8,'
    '"time_limit":null,"burning_percent":null,'
    '"expiration_estimate_date":"2020-12-23T15:00:22.742Z"}'
)
DOC_STATUS = (
    '{"payment_id":5524759814,"payment_status":"finished",'
    '"pay_address":"TNDFkiSmBQorNFacb3735q8MnT29sn8BLn",'
    '"price_amount":5,"price_currency":"usd","pay_amount":165.652609,"actually_paid":180,'
    '"pay_currency":"trx","order_id":"RGDBP-21314",'
    '"order_description":"Apple Macbook Pro 2019 x 1","purchase_id":"4944856743",'
    '"created_at":"2020-12-16T14:30:43.306Z","updated_at":"2020-12-16T14:40:46.523Z",'
    '"outcome_amount":178.9005,"outcome_currency":"trx"}'
)
DOC_FULL_CURRENCIES = (
    '{"currencies":[{"id":121,"code":"AAVE","name":"Aave","enable":true,'
    '"wallet_regex":"^(0x)[0-9A-Fa-f]{40}$","priority":127,"extra_id_exists":false,'
    '"extra_id_regex":null,"logo_url":"/images/coins/aave.svg","track":true,"cg_id":"aave",'
    '"is_maxlimit":false,"network":"eth","smart_contract":null,"network_precision":null}]}'
)
DOC_MIN_AMOUNT = (
    '{"currency_from":"eth","currency_to":"trx","min_amount":0.0078999,'
    '"fiat_equivalent":35.40626584}'
)
DOC_ESTIMATE = (
    '{"currency_from":"usd","amount_from":3999.5,"currency_to":"btc",'
    '"estimated_amount":0.17061637}'
)
DOC_LIST = (
    '{"data":[{"payment_id":5524759814,"payment_status":"finished",'
    '"pay_address":"TNDFkiSmBQorNFacb3735q8MnT29sn8BLn","price_amount":5,'
    '"price_currency":"usd","pay_amount":165.652609,"actually_paid":180,"pay_currency":"trx",'
    '"order_id":"RGDBP-21314","order_description":"Apple Macbook Pro 2019 x 1",'
    '"purchase_id":"4944856743","outcome_amount":178.9005,"outcome_currency":"trx"}],'
    '"limit":10,"page":0,"pagesCount":6,"total":59}'
)
DOC_BAD_ID = (
    '{"status":false,"statusCode":400,"code":"INVALID_REQUEST_PARAMS",'
    '"message":"Payment id must be a number"}'
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeNowPayments]:
    async with FakeNowPayments() as server:
        yield server


@pytest.fixture
async def make_client(fake: FakeNowPayments) -> AsyncIterator[MakeClient]:
    clients: list[NowPaymentsClient] = []

    def make(**overrides: Any) -> NowPaymentsClient:
        options: dict[str, Any] = {
            "email": fake.email,
            "password": fake.password,
            "timeout": 2.0,
            "max_requests_per_second": 1000.0,
            "burst": 100,
            "catalog_requests_per_second": 1000.0,
            "max_retries": 2,
            "backoff_initial": 0.01,
            "backoff_max": 0.02,
        }
        options.update(overrides)
        api_key = options.pop("api_key", fake.api_key)
        base_url = options.pop("base_url", fake.base_url)
        client = NowPaymentsClient(api_key, base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> NowPaymentsClient:
    return make_client()


def order(price: str = "25", coin: str = "btc", order_id: str = "dep-1") -> CreatePaymentRequest:
    return CreatePaymentRequest(
        price_amount=Decimal(price), price_currency="usd", pay_currency=coin, order_id=order_id
    )


# --- documented bodies -------------------------------------------------------------------------


async def test_create_reply_from_the_doc(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.reply_once("create_payment", 201, DOC_CREATE)
    payment = await client.create_payment(order("3999.5"))
    assert payment.payment_id == "5745459419"
    assert payment.pay_amount == Decimal("0.17070286")
    assert str(payment.pay_amount) == "0.17070286"  # exact digits, no float artefacts
    assert str(payment.price_amount) == "3999.5"
    assert payment.purchase_id == "5837122679"
    assert payment.payment_status == "waiting"
    assert payment.known_status is PaymentStatus.WAITING
    assert payment.amount_received is None
    assert payment.network_precision == 8
    assert payment.expiration_estimate_date is not None
    assert payment.expiration_estimate_date.day == 23


async def test_status_reply_from_the_doc(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.reply_once("get_payment", 200, DOC_STATUS)
    payment = await client.get_payment("5524759814")
    assert payment.payment_id == "5524759814"  # a number on the wire
    assert payment.pay_amount == Decimal("165.652609")
    assert payment.actually_paid == Decimal(180)
    assert payment.outcome_amount == Decimal("178.9005")
    assert payment.price_amount == Decimal(5)
    assert payment.is_final
    assert payment.known_status is PaymentStatus.FINISHED


async def test_catalogue_replies_from_the_doc(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.reply_once("full_currencies", 200, DOC_FULL_CURRENCIES)
    fake.reply_once("min_amount", 200, DOC_MIN_AMOUNT)
    fake.reply_once("estimate", 200, DOC_ESTIMATE)
    fake.reply_once("merchant_coins", 200, '{"selectedCurrencies":["BTC","USDTTRC20"]}')
    fake.reply_once("status", 200, '{"message":"OK"}')

    (aave,) = await client.full_currencies()
    assert (aave.code, aave.network, aave.extra_id_exists) == ("aave", "eth", False)
    minimum = await client.min_amount("eth", "trx", fiat_equivalent="usd")
    assert minimum.min_amount == Decimal("0.0078999")
    assert minimum.fiat_equivalent == Decimal("35.40626584")
    estimate = await client.estimate(Decimal("3999.5"), "usd", "btc")
    assert estimate.estimated_amount == Decimal("0.17061637")
    assert estimate.amount_from == Decimal("3999.5")
    assert await client.merchant_coins() == ["btc", "usdttrc20"]
    assert (await client.status()).message == "OK"


async def test_list_reply_from_the_doc(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.reply_once("list_payments", 200, DOC_LIST)
    page = await client.list_payments(limit=10, page=0, sort_by="created_at", order_by="asc")
    assert (page.limit, page.page, page.pages_count, page.total) == (10, 0, 6, 59)
    (payment,) = page.data
    assert payment.payment_id == "5524759814"
    assert payment.created_at is None
    assert payment.actually_paid == Decimal(180)


@pytest.mark.parametrize(
    ("status", "body", "error", "code", "text"),
    [
        (400, DOC_BAD_ID, ProviderBadRequest, "INVALID_REQUEST_PARAMS", "must be a number"),
        (400, '{"message":"only a message"}', ProviderBadRequest, None, "only a message"),
        (400, '{"error":"only an error"}', ProviderBadRequest, None, "only an error"),
        (400, "<html>bad</html>", ProviderBadRequest, None, "<html>bad</html>"),
        (
            400,
            '{"status":false,"statusCode":400,"code":"AMOUNT_MINIMAL_ERROR",'
            '"message":"amountTo is too small"}',
            MinimumAmountError,
            "AMOUNT_MINIMAL_ERROR",
            "amountTo is too small",
        ),
        (
            403,
            '{"status":false,"statusCode":403,"code":"INVALID_API_KEY",'
            '"message":"Invalid api key"}',
            ProviderAuthError,
            "INVALID_API_KEY",
            "Invalid api key",
        ),
        (404, '{"message":"Not found"}', ProviderBadRequest, None, "Not found"),
    ],
)
async def test_error_bodies(
    fake: FakeNowPayments,
    client: NowPaymentsClient,
    status: int,
    body: str,
    error: type[ProviderError],
    code: str | None,
    text: str,
):
    fake.reply_once("get_payment", status, body)
    with pytest.raises(error) as caught:
        await client.get_payment("1")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.code == code
    assert text in str(caught.value)
    assert fake.requests["get_payment"] == 1  # 4xx is never retried


async def test_currencies_as_strings_or_objects(make_client: MakeClient):
    async with FakeNowPayments(currencies_as_objects=True) as objects_fake:
        client = make_client(base_url=objects_fake.base_url)
        plain = await client.currencies()
        assert "btc" in plain.codes
        assert plain.currencies[0].min_amount is None
        fixed = await client.currencies(fixed_rate=True)
        assert fixed.codes == plain.codes
        btc = fixed.currencies[0]
        assert btc.code == "btc"
        assert btc.min_amount is not None
        assert btc.min_amount > 0

        objects_fake.reply_once(
            "currencies",
            200,
            '{"currencies":[{"code":"BTC","min_amount":"0.0001","max_amount":2}, "ETH"]}',
        )
        mixed = await client.currencies(fixed_rate=True)
        assert mixed.codes == ["btc", "eth"]
        assert mixed.currencies[0].min_amount == Decimal("0.0001")


# --- normalisation -----------------------------------------------------------------------------


async def test_amounts_may_be_numeric_strings(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.reply_once(
        "get_payment",
        200,
        '{"payment_id":"7","payment_status":"waiting","price_amount":"200",'
        '"pay_amount":"0.00850000","actually_paid":0}',
    )
    payment = await client.get_payment(7)
    assert payment.price_amount == Decimal(200)
    assert str(payment.pay_amount) == "0.00850000"


async def test_ids_normalised_both_ways(make_client: MakeClient):
    async with FakeNowPayments(purchase_id_as_number=True) as numbers:
        client = make_client(base_url=numbers.base_url)
        created = await client.create_payment(order())
        polled = await client.get_payment(created.payment_id)
        listed = (await client.list_payments()).data[0]
        for payment in (created, polled, listed):
            assert payment.payment_id == created.payment_id
            assert payment.purchase_id == created.purchase_id
            assert isinstance(payment.purchase_id, str)

        fields = {"payment_id": f"00{created.payment_id}"}
        numbers.set_status(created.payment_id, "waiting", fields=fields)
        assert (await client.get_payment(int(created.payment_id))).payment_id == created.payment_id


@pytest.mark.parametrize(
    "fields",
    [
        '"payment_id":"12a","payment_status":"waiting"',
        '"payment_id":true,"payment_status":"waiting"',
        '"payment_id":1.5,"payment_status":"waiting"',
        '"payment_id":-3,"payment_status":"waiting"',
        '"payment_id":1',
        '"payment_id":1,"payment_status":""',
        '"payment_id":1,"payment_status":"waiting","pay_amount":true',
        '"payment_id":1,"payment_status":"waiting","pay_amount":"Infinity"',
        '"payment_id":1,"payment_status":"waiting","pay_amount":"1e999"',
        '"payment_id":1,"payment_status":"waiting","actually_paid":-1',
        '"payment_id":1,"payment_status":"waiting","actually_paid":"1,5"',
    ],
)
async def test_bad_ids_and_amounts_are_malformed(
    fake: FakeNowPayments, client: NowPaymentsClient, fields: str
):
    fake.reply_once("get_payment", 200, "{" + fields + "}")
    with pytest.raises(MalformedReply):
        await client.get_payment(1)
    assert fake.requests["get_payment"] == 1  # not retried


async def test_non_numeric_id_rejected_locally(fake: FakeNowPayments, client: NowPaymentsClient):
    for bad in ("12a", "", "1 2", "-1", "١٢"):
        with pytest.raises(ProviderBadRequest) as caught:
            await client.get_payment(bad)
        assert caught.value.code == "INVALID_REQUEST_PARAMS"
    assert fake.requests["get_payment"] == 0


async def test_statuses_lower_cased_and_unknown_kept(
    fake: FakeNowPayments, client: NowPaymentsClient, caplog: pytest.LogCaptureFixture
):
    fake.reply_once("get_payment", 200, '{"payment_id":1,"payment_status":"FINISHED"}')
    assert (await client.get_payment(1)).payment_status == "finished"

    fake.reply_once("get_payment", 200, '{"payment_id":1,"payment_status":"Spending"}')
    with caplog.at_level(logging.WARNING, logger="core.nowpayments"):
        payment = await client.get_payment(1)
    assert payment.payment_status == "spending"
    assert payment.known_status is None
    assert not payment.is_final
    assert "unknown status" in caplog.text


def test_final_statuses():
    assert {"partially_paid", "finished", "failed", "refunded", "expired"} <= FINAL_STATUSES
    assert not any(is_final(s) for s in ("waiting", "confirming", "confirmed", "sending"))
    assert is_final(" FINISHED ")
    assert is_final("Canceled")
    assert not is_final("spending")


# --- lists, item by item -----------------------------------------------------------------------


async def test_catalogue_lists_skip_only_their_bad_items(
    fake: FakeNowPayments, client: NowPaymentsClient, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, "core.nowpayments")
    fake.reply_once("currencies", 200, '{"currencies":["btc",17,{"ticker":"eth"},null,"ltc"]}')
    fake.reply_once(
        "full_currencies",
        200,
        '{"currencies":[{"code":"BTC","network_precision":"eight"},'
        '{"code":"ETH","enable":true},{"name":"no code"},{"code":"LTC","id":NaN}]}',
    )
    fake.reply_once("merchant_coins", 200, '{"selectedCurrencies":["BTC",{"x":1},"ETH",NaN]}')
    fake.reply_once(
        "list_payments",
        200,
        '{"data":[{"payment_id":1,"payment_status":"waiting","pay_amount":NaN},'
        '{"payment_id":2,"payment_status":"finished","actually_paid":"5"},'
        '"garbage",{"payment_id":"x1","payment_status":"waiting"}],"pagesCount":1}',
    )

    currencies = await client.currencies()
    full = await client.full_currencies_reply()
    merchant = await client.merchant_coins_reply()
    payments = await client.list_payments()

    assert currencies.codes == ["btc", "eth", "ltc"]
    assert [(s.index, s.id) for s in currencies.skipped] == [(1, None), (3, None)]
    assert [c.code for c in full.currencies] == ["eth"]
    assert [(s.id, s.field) for s in full.skipped] == [
        ("BTC", "network_precision"),
        (None, "code"),
        ("LTC", "id"),
    ]
    assert merchant.selected_currencies == ["btc", "eth"]
    assert [s.index for s in merchant.skipped] == [1, 3]
    assert [p.payment_id for p in payments.data] == ["2"]
    assert [(s.id, s.field) for s in payments.skipped] == [
        ("1", "pay_amount"),
        ("garbage", "item"),
        ("x1", "payment_id"),
    ]
    assert payments.received == 4
    assert "skipped malformed payment item #0 (id 1): pay_amount" in caplog.text
    assert "skipped malformed full-currency item #0 (id BTC): network_precision" in caplog.text


async def test_a_list_of_only_bad_items_is_empty_not_an_error(
    fake: FakeNowPayments, client: NowPaymentsClient
):
    fake.reply_once("list_payments", 200, '{"data":[{"payment_id":1}]}')
    listing = await client.list_payments()
    assert listing.data == [] and len(listing.skipped) == 1


async def test_a_list_of_the_wrong_shape_is_still_malformed(
    fake: FakeNowPayments, client: NowPaymentsClient
):
    for body in ('{"data":{"payment_id":1}}', '{"limit":10}', "[1,2]"):
        fake.reply_once("list_payments", 200, body)
        with pytest.raises(MalformedReply):
            await client.list_payments()


async def test_a_single_payment_with_nan_is_still_malformed(
    fake: FakeNowPayments, client: NowPaymentsClient
):
    pid = fake.add_payment(Decimal("25"))
    fake.garble(pid, outcome_amount=NAN_TOKEN)
    with pytest.raises(MalformedReply, match="outcome_amount"):
        await client.get_payment(pid)


# --- the fake's money behaviour through the client ---------------------------------------------


async def test_create_uses_rates_and_keeps_order_fields(
    fake: FakeNowPayments, client: NowPaymentsClient
):
    request = CreatePaymentRequest(
        price_amount=Decimal("100"),
        price_currency="usd",
        pay_currency="TRX",
        order_id="dep-42",
        order_description="Deposit #42",
        ipn_callback_url="https://example.com/ipn",
    )
    payment = await client.create_payment(request)
    assert payment.pay_amount == Decimal("3311.258278")  # 100 / 0.0302 at 6 places
    assert payment.pay_currency == "trx"
    assert (payment.order_id, payment.order_description) == ("dep-42", "Deposit #42")
    assert payment.valid_until is not None
    assert payment.created_at is not None
    assert payment.valid_until > payment.created_at
    assert [p.order_id for p in fake.find_by_order_id("dep-42")] == ["dep-42"]

    minimum = await client.min_amount("trx", "trx", fiat_equivalent="usd")
    assert minimum.fiat_equivalent == Decimal("1.00000000")
    estimate = await client.estimate(Decimal("100"), "usd", "trx")
    assert estimate.estimated_amount == payment.pay_amount


async def test_create_refusals(fake: FakeNowPayments, client: NowPaymentsClient):
    with pytest.raises(MinimumAmountError) as minimal:
        await client.create_payment(order("1.99", "btc"))
    assert minimal.value.code == "AMOUNT_MINIMAL_ERROR"
    assert minimal.value.outcome_unknown is False

    with pytest.raises(ProviderBadRequest) as unknown:
        await client.create_payment(order("50", "nosuchcoin"))
    assert unknown.value.code == "CURRENCY_UNAVAILABLE"

    fake.set_enabled("eth", False)
    with pytest.raises(ProviderBadRequest) as disabled:
        await client.create_payment(order("50", "eth"))
    assert disabled.value.code == "CURRENCY_UNAVAILABLE"
    assert len(fake) == 0


@pytest.mark.parametrize(
    ("scenario", "statuses"),
    [
        ("finished", ["waiting", "confirming", "confirmed", "sending", "finished"]),
        ("partially_paid", ["waiting", "confirming", "partially_paid"]),
        ("overpaid", ["waiting", "confirming", "confirmed", "sending", "finished"]),
        ("expired", ["waiting", "expired"]),
        ("failed", ["waiting", "confirming", "failed"]),
        ("refunded", ["waiting", "confirming", "refunded"]),
        ("unknown", ["waiting", "spending", "spending"]),
    ],
)
async def test_scenarios(
    fake: FakeNowPayments, client: NowPaymentsClient, scenario: str, statuses: list[str]
):
    created = await client.create_payment(order("25"))
    fake.play(created.payment_id, scenario)
    seen = [await client.get_payment(created.payment_id) for _ in statuses]
    assert [p.payment_status for p in seen] == statuses
    last = seen[-1]
    assert last.pay_amount == created.pay_amount
    assert last.actually_paid is not None
    assert created.pay_amount is not None
    if scenario == "partially_paid":
        assert 0 < last.actually_paid < created.pay_amount
    elif scenario == "overpaid":
        assert last.actually_paid > created.pay_amount
    elif scenario == "finished":
        assert last.actually_paid == created.pay_amount
    elif scenario == "expired":
        assert last.actually_paid == 0
    assert last.is_final == (scenario != "unknown")


async def test_script_and_set_status(fake: FakeNowPayments, client: NowPaymentsClient):
    pid = fake.add_payment(Decimal("10"), "ltc", order_id="o-7")
    fake.script(pid, ["confirming", "finished"])
    assert (await client.get_payment(pid)).payment_status == "confirming"
    fake.set_status(pid, "partially_paid", actually_paid=Decimal("0.05"))
    payment = await client.get_payment(pid)  # set_status dropped the rest of the script
    assert (payment.payment_status, payment.actually_paid) == ("partially_paid", Decimal("0.05"))


async def test_child_payment(fake: FakeNowPayments, client: NowPaymentsClient):
    parent = await client.create_payment(order("25", "xrp"))
    assert parent.payin_extra_id  # memo coin
    child_id = fake.add_child_payment(parent.payment_id, Decimal("5"), status="finished")
    child = await client.get_payment(child_id)
    assert child.parent_payment_id == parent.payment_id
    assert child.pay_address == parent.pay_address
    assert child.actually_paid == Decimal(5)
    assert child.payment_id != parent.payment_id


async def test_sandbox_failure_case(fake: FakeNowPayments, client: NowPaymentsClient):
    request = order().model_copy(update={"case": "fail"})
    created = await client.create_payment(request)
    statuses = [(await client.get_payment(created.payment_id)).payment_status for _ in range(3)]
    assert statuses == ["waiting", "confirming", "failed"]


# --- faults, retries ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_retried_then_unavailable(
    fake: FakeNowPayments, client: NowPaymentsClient, status: int
):
    fake.inject("get_payment", Fault.SERVER_ERROR, status=status)
    with pytest.raises(ProviderUnavailable) as caught:
        await client.get_payment(1)
    assert caught.value.status == status
    assert caught.value.outcome_unknown is False
    assert fake.requests["get_payment"] == 3  # 1 + max_retries


async def test_reads_retry_until_healed(fake: FakeNowPayments, make_client: MakeClient):
    client = make_client(max_retries=50)
    pid = fake.add_payment(Decimal("25"))
    fake.inject("get_payment", Fault.SERVER_ERROR)
    poll = asyncio.create_task(client.get_payment(pid))
    for _ in range(1000):  # until the fake has refused a few attempts
        if fake.requests["get_payment"] >= 3:
            break
        await asyncio.sleep(0.005)
    assert not poll.done()
    fake.heal()
    assert (await poll).payment_id == pid


async def test_a_counted_fault_then_success(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.inject("full_currencies", Fault.SERVER_ERROR, count=2)
    assert await client.full_currencies()
    assert fake.requests["full_currencies"] == 3


async def test_hang_times_out_as_unavailable(fake: FakeNowPayments, make_client: MakeClient):
    client = make_client(timeout=0.2, max_retries=1)
    fake.inject("estimate", Fault.HANG)
    with pytest.raises(ProviderUnavailable) as caught:
        await client.estimate(Decimal(1), "usd", "btc")
    assert "ReadTimeout" in str(caught.value)
    assert fake.requests["estimate"] == 2
    fake.heal()
    assert (await client.estimate(Decimal(1), "usd", "btc")).estimated_amount > 0


async def test_create_not_retried_on_timeout_and_reconcilable(
    fake: FakeNowPayments, make_client: MakeClient
):
    client = make_client(timeout=0.3)
    fake.inject("create_payment", Fault.HANG, after=True)  # created, then the reply is lost
    with pytest.raises(ProviderUnavailable) as caught:
        await client.create_payment(order(order_id="dep-lost"))
    assert caught.value.outcome_unknown is True
    assert "outcome unknown" in str(caught.value)
    assert fake.requests["create_payment"] == 1
    fake.heal()
    found = [p for p in (await client.list_payments(limit=50)).data if p.order_id == "dep-lost"]
    assert len(found) == 1


async def test_create_outcome_flags(fake: FakeNowPayments, client: NowPaymentsClient):
    fake.inject("create_payment", Fault.SERVER_ERROR, count=1)
    with pytest.raises(ProviderUnavailable) as server_error:
        await client.create_payment(order())
    assert server_error.value.outcome_unknown is True

    fake.inject("create_payment", Fault.TRUNCATED, count=1)
    with pytest.raises(MalformedReply) as truncated:
        await client.create_payment(order(order_id="dep-trunc"))
    assert truncated.value.outcome_unknown is True
    assert len(fake.find_by_order_id("dep-trunc")) == 1

    fake.inject("create_payment", Fault.RATE_LIMIT, count=1, retry_after=1)
    with pytest.raises(ProviderRateLimited) as limited:
        await client.create_payment(order())
    assert limited.value.outcome_unknown is False
    assert fake.requests["create_payment"] == 3  # one each, never retried


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused(make_client: MakeClient):
    client = make_client(base_url=f"http://127.0.0.1:{_closed_port()}/v1", max_retries=1)
    with pytest.raises(ProviderUnavailable) as read:
        await client.status()
    assert read.value.outcome_unknown is False
    with pytest.raises(ProviderUnavailable) as create:
        await client.create_payment(order())
    assert create.value.outcome_unknown is False  # nothing was sent


async def test_rate_limited_retry_after_honoured(fake: FakeNowPayments, make_client: MakeClient):
    fake.inject("status", Fault.RATE_LIMIT, count=1, retry_after="0.3")
    with pytest.raises(ProviderRateLimited) as caught:
        await make_client(max_retries=0).status()
    assert caught.value.retry_after == pytest.approx(0.3)
    assert caught.value.status == 429

    fake.inject("status", Fault.RATE_LIMIT, count=1, retry_after="0.3")
    fake.request_times.clear()
    assert (await make_client(max_retries=1).status()).message == "OK"
    (first, _), (second, _) = fake.request_times
    assert second - first >= 0.29


async def test_a_long_retry_after_is_left_to_the_caller(
    fake: FakeNowPayments, make_client: MakeClient
):
    """A read does not hang for an hour: it fails at once with the delay, and the client sends
    nothing more until the delay is over."""
    fake.inject("status", Fault.RATE_LIMIT, count=1, retry_after=3600)
    client = make_client(max_retries=3, retry_after_max=5.0, retry_after_cap=7200.0)
    with pytest.raises(ProviderRateLimited) as caught:
        await asyncio.wait_for(client.status(), 10)
    assert (caught.value.status, caught.value.retry_after) == (429, 3600)
    with pytest.raises(ProviderRateLimited) as held:
        await asyncio.wait_for(client.create_payment(order()), 10)
    assert held.value.status is None and 3590 < (held.value.retry_after or 0) <= 3600
    assert held.value.outcome_unknown is False  # nothing was sent
    assert (fake.requests["status"], fake.requests["create_payment"]) == (1, 0)


async def test_a_bogus_retry_after_silences_the_client_for_at_most_the_cap(
    fake: FakeNowPayments, make_client: MakeClient
):
    fake.inject("status", Fault.RATE_LIMIT, count=1, retry_after=100_000_000)
    clock = FakeClock()
    client = make_client(max_retries=0, retry_after_cap=300.0, clock=clock)
    with pytest.raises(ProviderRateLimited) as caught:
        await client.status()
    assert caught.value.retry_after == pytest.approx(300.0)  # what callers (the poller) honour
    clock.advance(299.0)
    with pytest.raises(ProviderRateLimited) as held:  # still quiet, refused without a request
        await client.status()
    assert held.value.status is None and held.value.retry_after == pytest.approx(1.0)
    clock.advance(1.0)
    assert (await client.status()).message == "OK"
    assert fake.requests["status"] == 2


async def test_a_429_holds_off_every_caller(fake: FakeNowPayments, make_client: MakeClient):
    fake.inject("status", Fault.RATE_LIMIT, count=1, retry_after="40")
    clock = FakeClock()
    impatient = make_client(max_retries=0, clock=clock)
    with pytest.raises(ProviderRateLimited):
        await impatient.status()
    with pytest.raises(ProviderRateLimited) as held:  # refused here, not by the provider
        await impatient.currencies()
    assert held.value.status is None and held.value.retry_after == pytest.approx(40.0)
    assert fake.requests["status"] == 1 and fake.requests.get("currencies", 0) == 0
    clock.advance(40.0)
    assert (await impatient.status()).message == "OK"


async def test_concurrent_reads_wait_out_a_short_429_together(
    fake: FakeNowPayments, make_client: MakeClient, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, "core.nowpayments")
    client = make_client(max_retries=2)
    fake.inject("status", Fault.RATE_LIMIT, count=1, retry_after="0.8")
    fake.request_times.clear()
    first = asyncio.create_task(client.status())
    # The retry is logged once the 429 was read and everyone's hold set: the others start then.
    await eventually(lambda: "RateLimited), retry 1 in" in caplog.text)
    replies = await asyncio.gather(first, *(client.status() for _ in range(9)))
    assert [r.message for r in replies] == ["OK"] * 10
    (limited, _), *later = fake.request_times
    assert len(later) == 10  # the limited one again, and nine that waited instead of sending
    assert all(at - limited >= 0.79 for at, _ in later)


def test_parse_retry_after():
    assert _parse_retry_after("2") == 2.0
    assert _parse_retry_after(" 0.5 ") == 0.5
    assert _parse_retry_after("-3") == 0.0
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert _parse_retry_after("soon") is None
    assert _parse_retry_after("nan") is None
    assert _parse_retry_after(None) is None


@pytest.mark.parametrize(
    "fault", [Fault.TRUNCATED, Fault.NAN_STRING, Fault.NAN_TOKEN, Fault.NOT_JSON]
)
async def test_broken_replies_are_malformed(
    fake: FakeNowPayments, client: NowPaymentsClient, fault: Fault
):
    pid = fake.add_payment(Decimal("25"))
    fake.inject("get_payment", fault)
    with pytest.raises(MalformedReply) as caught:
        await client.get_payment(pid)
    assert caught.value.outcome_unknown is False
    assert fake.requests["get_payment"] == 1
    for endpoint, call in (
        ("min_amount", client.min_amount("btc", "usdttrc20")),
        ("estimate", client.estimate(Decimal(5), "usd", "eth")),
    ):
        fake.inject(endpoint, fault, count=1)
        with pytest.raises(MalformedReply):
            await call


async def test_nan_token_and_string_reach_the_wire(fake: FakeNowPayments):
    import httpx

    pid = fake.add_payment(Decimal("25"))
    fake.inject("get_payment", Fault.NAN_TOKEN, count=1)
    fake.inject("get_payment", Fault.NAN_STRING, count=1)
    async with httpx.AsyncClient(headers={"x-api-key": fake.api_key}) as http:
        token = (await http.get(f"{fake.base_url}/payment/{pid}")).text
        string = (await http.get(f"{fake.base_url}/payment/{pid}")).text
    assert '"pay_amount":NaN' in token
    assert '"pay_amount":"NaN"' in string


# --- auth --------------------------------------------------------------------------------------


async def test_jwt_cached_and_refreshed_once(fake: FakeNowPayments, client: NowPaymentsClient):
    await client.list_payments()
    await client.list_payments()
    assert fake.requests["auth"] == 1
    assert fake.requests["list_payments"] == 2

    fake.expire_tokens()  # the server forgets it while our cache still trusts it
    await client.list_payments()
    assert fake.requests["auth"] == 2
    assert fake.requests["list_payments"] == 4

    fake.token_ttl = -1.0  # every new token is already expired
    fake.expire_tokens()
    with pytest.raises(ProviderAuthError) as caught:
        await client.list_payments()
    assert caught.value.status == 401
    assert fake.requests["auth"] == 3  # exactly one refresh
    assert fake.requests["list_payments"] == 6


async def test_list_without_credentials(fake: FakeNowPayments, make_client: MakeClient):
    client = make_client(email=None, password=None)
    with pytest.raises(ProviderAuthError):
        await client.list_payments()
    assert fake.requests["list_payments"] == 0


async def test_get_payment_falls_back_to_jwt(make_client: MakeClient):
    async with FakeNowPayments(get_payment_requires_jwt=True) as strict:
        pid = strict.add_payment(Decimal("25"))
        anonymous = make_client(base_url=strict.base_url, email=None, password=None)
        with pytest.raises(ProviderAuthError) as caught:
            await anonymous.get_payment(pid)
        assert caught.value.code == "AUTH_REQUIRED"

        strict.requests.clear()
        client = make_client(base_url=strict.base_url)
        assert (await client.get_payment(pid)).payment_id == pid
        assert (await client.get_payment(pid)).payment_id == pid
        # First poll: 401 then retry with the JWT; later polls send it up front.
        assert strict.requests["get_payment"] == 3
        assert strict.requests["auth"] == 1


@pytest.mark.parametrize("bad_key_status", [403, 401])
async def test_wrong_api_key(make_client: MakeClient, bad_key_status: int):
    async with FakeNowPayments(bad_key_status=bad_key_status) as strict:
        client = make_client(base_url=strict.base_url, api_key="WRONGKY-0000000-0000000-0000000")
        with pytest.raises(ProviderAuthError) as caught:
            await client.list_payments()
        assert (caught.value.status, caught.value.code) == (bad_key_status, "INVALID_API_KEY")
        assert strict.requests["auth"] == 1  # a bad key is not "refresh the JWT"
        with pytest.raises(ProviderAuthError):
            await client.get_payment(1)
        assert strict.requests["get_payment"] == 1


async def test_unauthorized_fault(fake: FakeNowPayments, make_client: MakeClient):
    fake.inject("merchant_coins", Fault.UNAUTHORIZED, count=1)
    with pytest.raises(ProviderAuthError) as caught:
        await make_client().merchant_coins()
    assert caught.value.status == 401


# --- rate limiter ------------------------------------------------------------------------------


async def test_client_rate_limiter_spaces_requests(fake: FakeNowPayments, make_client: MakeClient):
    client = make_client(max_requests_per_second=20.0, burst=1)
    await asyncio.gather(*(client.status() for _ in range(8)))
    times = [moment for moment, name in fake.request_times if name == "status"]
    assert len(times) == 8
    # burst + the users' reserve (1 + 1) at once, then one per 50 ms: 8 requests cannot span
    # less than 6 intervals.
    assert times[-1] - times[0] >= 6 * 0.05 * 0.9


# --- secrets -----------------------------------------------------------------------------------


async def test_secrets_never_logged_nor_in_errors(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with FakeNowPayments(get_payment_requires_jwt=True) as strict:
        client = make_client(base_url=strict.base_url, timeout=0.2, max_retries=1)
        pid = strict.add_payment(Decimal("25"))
        await client.get_payment(pid)
        await client.list_payments()
        strict.expire_tokens()
        await client.list_payments()

        echo = f'{{"code":"INVALID_API_KEY","message":"bad key {strict.api_key}"}}'
        strict.reply_once("get_payment", 403, echo)
        strict.inject("list_payments", Fault.HANG, count=2)
        strict.inject("status", Fault.SERVER_ERROR, count=2)
        strict.inject("estimate", Fault.NAN_TOKEN, count=1)
        for call in (
            client.get_payment(pid),
            client.list_payments(),
            client.status(),
            client.estimate(Decimal(1), "usd", "btc"),
        ):
            with pytest.raises(ProviderError) as caught:
                await call
            errors.append(caught.value)
        strict.heal()

        wrong = make_client(base_url=strict.base_url, password="not-the-password")
        with pytest.raises(ProviderAuthError) as denied:
            await wrong.list_payments()
        errors.append(denied.value)

        secrets = [strict.api_key, strict.password, "not-the-password", *strict.issued_tokens]
    assert len(strict.issued_tokens) >= 2
    assert "GET /payment/" in caplog.text  # DEBUG logging did happen
    texts = [caplog.text, repr(client), *(f"{e!s} {e!r}" for e in errors)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "***" in str(errors[0])  # the provider's echo of the key was redacted


# --- construction ------------------------------------------------------------------------------


def test_base_url_for():
    assert base_url_for(sandbox=True, override=None) == "https://api-sandbox.nowpayments.io/v1"
    assert base_url_for(sandbox=False, override=None) == "https://api.nowpayments.io/v1"
    assert base_url_for(sandbox=True, override="http://127.0.0.1:1/v1/") == "http://127.0.0.1:1/v1"


@dataclass
class _Section:
    api_key: SecretStr | None
    sandbox: bool = True
    base_url: str | None = None
    email: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = 5.0
    max_requests_per_second: float = 5.0
    user_reserve_requests: int = 1
    catalog_requests_per_second: float = 1.0


async def test_from_settings(fake: FakeNowPayments):
    section = _Section(
        api_key=SecretStr(fake.api_key),
        base_url=fake.base_url,
        email=fake.email,
        password=SecretStr(fake.password),
    )
    async with NowPaymentsClient.from_settings(section) as client:
        assert client.base_url == fake.base_url
        assert client.has_credentials
        await client.list_payments()
    sandbox = NowPaymentsClient.from_settings(_Section(api_key=SecretStr("k")))
    assert sandbox.base_url == "https://api-sandbox.nowpayments.io/v1"
    await sandbox.aclose()
    with pytest.raises(ConfigError):
        NowPaymentsClient.from_settings(_Section(api_key=None))


def test_create_request_serialises_exact_decimals():
    request = CreatePaymentRequest(
        price_amount=Decimal("3999.50"),
        price_currency="USD",
        pay_currency="btc",
        order_id="RGDBP-21314",
        is_fixed_rate=True,
    )
    assert request.to_json() == (
        b'{"price_amount":3999.50,"price_currency":"usd","pay_currency":"btc",'
        b'"order_id":"RGDBP-21314","is_fixed_rate":true}'
    )
    for bad in (3999.5, "NaN", Decimal("Infinity"), Decimal(0), Decimal(-1), True):
        with pytest.raises(ValidationError):
            CreatePaymentRequest(price_amount=bad, price_currency="usd", pay_currency="btc")


async def test_estimate_refuses_floats(client: NowPaymentsClient):
    with pytest.raises(ValueError, match="Decimal"):
        await client.estimate(1.5, "usd", "btc")  # type: ignore[arg-type]
