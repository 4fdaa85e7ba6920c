"""Fixtures of the deposit, poller and currency tests: a fake provider, a client bound to it,
and a module's own database with the fake's coins (helpers: tests/support/deposits.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.nowpayments import NowPaymentsClient
from tests.fakes.nowpayments import FakeNowPayments
from tests.support.db import Db, DbServer, clone
from tests.support.deposits import add_coins, make_client, new_fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeNowPayments]:
    async with new_fake() as provider:
        yield provider


@pytest.fixture
async def client(fake: FakeNowPayments) -> AsyncIterator[NowPaymentsClient]:
    async with make_client(fake) as c:
        yield c


@pytest.fixture(scope="module")
async def deposit_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """A database for one test module: currency rows of our own, nobody else's payments."""
    database = await clone(db_server, template_db)
    await add_coins(database)
    yield database
    await database.engine.dispose()
