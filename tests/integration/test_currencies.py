"""Currencies: sync from the fake provider, the admin switch, the seed, the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from core import currencies
from core.db.models import Currency
from core.errors import CurrencyUnavailable, NotFound
from core.nowpayments import CreatePaymentRequest, NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments, Fault, many_coins
from tests.support.clock import FakeClock
from tests.support.db import Db
from tests.support.deposits import make_client
from tests.support.settings import ADMIN

D = Decimal
OFFERED = ["BTC", "ETH", "USDTTRC20", "LTC", "TRX", "XRP"]  # the fake's DOGE is not selected


async def active(db: Db) -> list[str]:
    async with db.sessions() as session:
        return [c.code for c in await currencies.list_active(session)]


async def row(db: Db, code: str) -> Currency:
    async with db.sessions() as session:
        found = await currencies.get(session, code)
    assert found is not None
    return found


async def toggle(db: Db, code: str, on: bool) -> Currency:
    async with db.sessions.begin() as session:
        return await currencies.set_active(session, code, on, ADMIN)


async def test_sync_takes_merchant_coins_that_the_provider_lists(
    fresh_db: Db, client: NowPaymentsClient
) -> None:
    result = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert result.source == "provider" and sorted(result.added) == sorted(OFFERED)
    assert result.active == len(OFFERED)
    assert await active(fresh_db) == OFFERED  # seed order first, then by code
    usdt = await row(fresh_db, "usdttrc20")
    assert (usdt.token, usdt.network, usdt.decimal_places) == ("USDT", "trx", 6)
    assert usdt.display_name == "USDT (TRC20)" and usdt.name == "Tether USD (Tron)"
    btc = await row(fresh_db, "BTC")
    assert (btc.token, btc.network, btc.min_amount_usd, btc.needs_memo) == (
        "BTC",
        "btc",
        D("2.00"),
        False,
    )
    xrp = await row(fresh_db, "XRP")
    assert xrp.needs_memo and xrp.min_amount_usd == D("1.00")
    async with fresh_db.sessions() as session:
        assert await currencies.get(session, "DOGE") is None


async def test_admin_switch_survives_syncs_and_missing_coins_go_inactive(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    off = await toggle(fresh_db, "btc", False)
    assert not off.is_active and off.disabled_by_admin
    fake.set_enabled("ltc", False)  # the provider stops offering LTC
    result = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert result.deactivated == ["LTC"] and result.reactivated == []
    assert await active(fresh_db) == ["ETH", "USDTTRC20", "TRX", "XRP"]
    assert (await row(fresh_db, "BTC")).disabled_by_admin
    async with fresh_db.sessions() as session:
        with pytest.raises(CurrencyUnavailable) as info:
            await currencies.get_active(session, "btc")
        assert info.value.reason == "inactive"
        with pytest.raises(CurrencyUnavailable) as unknown:
            await currencies.get_active(session, "nope")
        assert unknown.value.reason == "unknown"

    fake.set_enabled("ltc", True)
    result = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert result.reactivated == ["LTC"] and "BTC" not in await active(fresh_db)
    on = await toggle(fresh_db, "BTC", True)
    assert on.is_active and not on.disabled_by_admin
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert await active(fresh_db) == OFFERED
    async with fresh_db.sessions.begin() as session:
        with pytest.raises(NotFound):
            await currencies.set_active(session, "NOPE", False, ADMIN)


async def test_seed_when_the_provider_is_unreachable_on_first_start(
    fresh_db: Db, fake: FakeNowPayments
) -> None:
    async with make_client(fake, timeout=0.5) as dead:
        await fake.stop()
        result = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(dead))
        assert result.source == "seed" and result.error
        assert await active(fresh_db) == ["BTC", "ETH", "USDTTRC20", "USDTERC20", "LTC", "TRX"]
        eth = await row(fresh_db, "ETH")
        assert (eth.decimal_places, eth.network, eth.min_amount_usd) == (18, "eth", None)
        assert (await row(fresh_db, "USDTERC20")).display_name == "USDT (ERC20)"
        # Not empty any more: a later failure changes nothing.
        await toggle(fresh_db, "TRX", False)
        again = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(dead))
        assert again.source == "none" and again.added == []
        assert await active(fresh_db) == ["BTC", "ETH", "USDTTRC20", "USDTERC20", "LTC"]


async def test_provider_errors_and_empty_offers_deactivate_nothing(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    fake.inject("full_currencies", Fault.SERVER_ERROR, count=1)
    failed = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert failed.source == "none" and "ProviderUnavailable" in (failed.error or "")
    for code in list(fake.coins):
        fake.set_enabled(code, False)
    empty = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert empty.source == "none" and empty.deactivated == []
    assert await active(fresh_db) == OFFERED


async def test_minimum_failure_keeps_the_last_known_minimum(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    before = {c: (await row(fresh_db, c)).min_amount_usd for c in OFFERED}
    for code, coin in list(fake.coins.items()):
        fake.set_min_usd(code, coin.min_usd + D("1.111"))
    fake.inject("min_amount", Fault.NAN_STRING, count=1)
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    after = {c: (await row(fresh_db, c)).min_amount_usd for c in OFFERED}
    kept = [c for c in OFFERED if after[c] == before[c]]
    assert len(kept) == 1  # the coin whose minimum came back NaN kept its old one
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert (await row(fresh_db, "BTC")).min_amount_usd == D("3.12")  # 3.111 rounded up


async def test_catalog_caches_provider_lists(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    clock = FakeClock()
    catalog = currencies.CurrencyCatalog(client, ttl=300, clock=clock)
    await currencies.sync(fresh_db.sessions, catalog)
    first = dict(fake.requests)
    assert first["full_currencies"] == first["merchant_coins"] == 1
    assert first["min_amount"] == len(OFFERED)
    await currencies.sync(fresh_db.sessions, catalog)
    assert dict(fake.requests) == first  # all from the cache
    clock.now += 301
    await currencies.sync(fresh_db.sessions, catalog)
    assert fake.requests["full_currencies"] == 2 and fake.requests["min_amount"] == 2 * len(
        OFFERED
    )
    catalog.clear()
    fake.inject("merchant_coins", Fault.SERVER_ERROR, count=1)
    with pytest.raises(Exception, match="500"):
        await catalog.merchant_coins()
    assert await catalog.merchant_coins()  # failures are not cached
    assert "doge" in await catalog.currencies()  # enabled coins, selected or not


async def test_an_admin_sync_asks_for_the_offer_again_but_keeps_cached_minimums(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    catalog = currencies.CurrencyCatalog(client, ttl=300, clock=FakeClock())
    await currencies.sync(fresh_db.sessions, catalog)
    first = dict(fake.requests)
    fake.coins["doge"] = replace(fake.coins["doge"], selected=True)  # chosen in the dashboard
    catalog.forget_lists()
    result = await currencies.sync(fresh_db.sessions, catalog)
    assert fake.requests["full_currencies"] == first["full_currencies"] + 1
    assert fake.requests["merchant_coins"] == first["merchant_coins"] + 1
    # One new minimum (the new coin's); the others come from the cache.
    assert fake.requests["min_amount"] == first["min_amount"] + 1
    assert result.added == ["DOGE"]


async def test_no_merchant_selection_falls_back_to_available_currencies(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    for code, coin in list(fake.coins.items()):
        fake.coins[code] = replace(coin, selected=False)
    result = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert sorted(result.added) == sorted([*OFFERED, "DOGE"])


@pytest.mark.parametrize(
    ("code", "network", "expected"),
    [
        ("BTC", "btc", ("BTC", "btc")),
        ("USDTTRC20", "trx", ("USDT", "trx")),
        ("USDTERC20", "eth", ("USDT", "eth")),
        ("USDCBSC", "bsc", ("USDC", "bsc")),
        ("BNBMAINNET", "bsc", ("BNB", "bsc")),
        ("USDTSOL", None, ("USDT", "sol")),
        ("SOL", "sol", ("SOL", "sol")),
        ("MATIC", "matic", ("MATIC", "matic")),
        ("XRP", None, ("XRP", "xrp")),
    ],
)
def test_split_code(code: str, network: str | None, expected: tuple[str, str]) -> None:
    assert currencies.split_code(code, network) == expected


async def test_keep_synced_runs_until_stopped(fresh_db: Db, client: NowPaymentsClient) -> None:
    stop = asyncio.Event()
    catalog = currencies.CurrencyCatalog(client)
    task = asyncio.create_task(
        currencies.keep_synced(fresh_db.sessions, catalog, stop, every_seconds=0.01)
    )
    for _ in range(200):
        if await active(fresh_db):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert await active(fresh_db) == OFFERED


# --- the provider budget and shutdown ----------------------------------------------------------


async def _until(check: Callable[[], bool]) -> None:
    """Wait for a condition the test itself causes (bounded: a hang fails, not blocks)."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never came true")


async def test_a_user_call_is_not_queued_behind_a_running_sync(fresh_db: Db) -> None:
    async with FakeNowPayments(coins=many_coins(40)) as fake:
        # The whole provider rate is open to the sync: only the budget's lanes protect users.
        client = make_client(
            fake, max_requests_per_second=20.0, burst=1, catalog_requests_per_second=20.0
        )
        async with client:
            stop = asyncio.Event()
            catalog = currencies.CurrencyCatalog(client)
            task = asyncio.create_task(currencies.sync(fresh_db.sessions, catalog, stop=stop))
            await _until(lambda: fake.requests["min_amount"] >= 3)
            seen = len(fake.request_times)

            request = CreatePaymentRequest(
                price_amount=D("25"), price_currency="usd", pay_currency="c001", order_id="u-1"
            )
            await client.create_payment(request)

            after = [name for _, name in list(fake.request_times)[seen:]]
            # At most the one sync request already granted went first; then the user's.
            assert after.index("create_payment") <= 1
            assert not task.done() and fake.requests["min_amount"] < 40  # the sync went on
            stop.set()
            assert (await task).error == "stopped"


async def test_sync_stops_within_a_second_of_shutdown(fresh_db: Db) -> None:
    async with FakeNowPayments(coins=many_coins(40)) as fake:
        # 40 minimums at 4/s: a full sync would take ~10 s.
        client = make_client(fake, catalog_requests_per_second=4.0)
        async with client:
            stop = asyncio.Event()
            catalog = currencies.CurrencyCatalog(client)
            task = asyncio.create_task(currencies.keep_synced(fresh_db.sessions, catalog, stop))
            await _until(lambda: fake.requests["min_amount"] >= 2)
            stop.set()
            sent = fake.requests["min_amount"]
            await asyncio.wait_for(task, 1.0)
            assert fake.requests["min_amount"] <= sent + 1  # at most one was in flight
            assert await active(fresh_db) == []  # an abandoned sync writes nothing
            assert client.budget.waiting() == 0  # and leaves no waiter behind


async def test_a_coin_with_an_unreadable_item_is_not_switched_off(
    fresh_db: Db, client: NowPaymentsClient, fake: FakeNowPayments
) -> None:
    await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    full = (
        '{"currencies":[{"code":"BTC","enable":true,"network":"btc"},'
        '{"code":"ETH","network_precision":NaN}]}'
    )
    fake.reply_once("full_currencies", 200, full)
    fake.reply_once("merchant_coins", 200, '{"selectedCurrencies":["BTC","ETH",{"no":1}]}')
    result = await currencies.sync(fresh_db.sessions, currencies.CurrencyCatalog(client))
    assert result.source == "provider"
    # ETH's item was broken: kept as it was; the others were really left out: switched off.
    assert sorted(result.deactivated) == sorted(set(OFFERED) - {"BTC", "ETH"})
    assert await active(fresh_db) == ["BTC", "ETH"]
