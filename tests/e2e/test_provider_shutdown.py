"""Shutdown does not wait for the currency sync: a sync of many coins is abandoned at once
(before, every app stop waited for the whole sync, up to the shutdown grace)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.app import build_app
from tests.fakes.nowpayments import FakeNowPayments, many_coins
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db
from tests.support.e2e import app_settings


async def test_stop_abandons_a_running_currency_sync(
    tg: FakeTelegram, e2e_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with FakeNowPayments(coins=many_coins(60)) as np:
        settings = app_settings(tg, np, e2e_db.url)
        # 60 minimums at 4/s: the sync alone would take 15 s, three times the grace.
        section = settings.nowpayments.model_copy(update={"catalog_requests_per_second": 4.0})
        settings = settings.model_copy(update={"nowpayments": section})
        app = build_app(settings, engine=e2e_db.engine, polling_timeout=1)
        await app.start()
        for _ in range(1000):
            if np.requests["min_amount"] >= 2:
                break
            await asyncio.sleep(0.005)
        sent = np.requests["min_amount"]
        assert sent < 60

        loop = asyncio.get_running_loop()
        began = loop.time()
        await app.stop()
        took = loop.time() - began

    assert not app.failed
    assert np.requests["min_amount"] <= sent + 1  # at most the one in flight
    assert "currencies: sync abandoned for shutdown" in caplog.text
    assert "shutdown grace ran out" not in caplog.text  # nothing had to be cut off
    # About 20 ms here; a stop that waited for the sync would take the whole grace (5 s).
    assert took < 1.0, took
