"""Fixtures for the whole bot wiring (bot.app.build_app) against FakeTelegram, FakeNowPayments
and a test DB: ``make_app(db, ...)`` builds and starts an App (stopped at teardown); ``app`` is
one on the shared e2e database. Helpers are in tests/support/e2e.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiogram import Router

from bot.app import App, build_app
from bot.middlewares.throttling import Clock
from bot.notifier import NotifierTuning, Renderer
from core.config import NotifierSettings
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram
from tests.support.db import Db, DbServer, clone
from tests.support.e2e import FAST, MakeApp, app_settings


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.max_poll_timeout = 2.0  # a cancelled long poll must not linger in the fake
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
async def np() -> AsyncIterator[FakeNowPayments]:
    async with FakeNowPayments() as fake:
        yield fake


@pytest.fixture(scope="session")
async def e2e_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """A database of the e2e tests' own: the apps here run a notifier, which must not send
    other test modules' outbox rows."""
    db = await clone(db_server, template_db, label="e2e_", pool_size=10)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def make_app(tg: FakeTelegram, np: FakeNowPayments) -> AsyncIterator[MakeApp]:
    apps: list[App] = []

    async def make(
        db: Db,
        *,
        notifier: NotifierSettings | None = None,
        tuning: NotifierTuning | None = FAST,
        routers: Sequence[Router] | None = None,
        renderers: dict[str, Renderer] | None = None,
        start: bool = True,
        throttle_clock: Clock = time.monotonic,
        **telegram: Any,
    ) -> App:
        settings = app_settings(tg, np, db.url, notifier=notifier, **telegram)
        app = build_app(
            settings,
            engine=db.engine,
            routers=routers,
            renderers=renderers,
            notifier_tuning=tuning,
            polling_timeout=1,
            throttle_clock=throttle_clock,
        )
        apps.append(app)
        if start:
            await app.start()
        return app

    yield make
    for app in apps:
        await app.stop()
    for app in apps:
        assert not app.failed


@pytest.fixture
async def app(make_app: MakeApp, e2e_db: Db) -> App:
    return await make_app(e2e_db)
