"""Real PostgreSQL for every test: the configured server (CI: 127.0.0.1:5432) or the embedded one.

A throw-away template database is migrated once per run (per xdist worker); the shared test
database and every `fresh_db` are clones of it, dropped at the end. A user's own databases are
never touched. Helpers to import live in tests/support/, never here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.config import ENV_FILE_ENV, DatabaseSettings, load_settings
from core.db.models import User
from core.db.session import create_engine, server_url
from core.migrate import run_alembic
from tests.support.db import RUN, Db, DbServer, clone, make_user

# The bot and the fakes (aiogram) are imported where used: pytest-xdist's controller loads this
# file too, and it would spend seconds on aiogram before it starts any worker.
if TYPE_CHECKING:
    from tests.support.process import ForkServer

ROOT = Path(__file__).resolve().parent.parent

# Tests see the environment (CI names its database server there) and the committed YAML, never
# a developer's .env: an empty name switches the .env source off (tests/unit/test_config.py
# proves it). Set before any Settings is built, and inherited by the bot processes tests spawn.
os.environ[ENV_FILE_ENV] = ""


# The modules that take longest, longest first (seconds summed over a run, -n 3, loaded 2-core
# machine). They are collected first so that xdist (--dist loadfile --no-loadscope-reorder, see
# the Makefile) starts them first: a long module handed out last keeps one worker busy while the
# others sit idle (the chaos test alone was last and ran 45-60 s after everything else).
# Unlisted modules follow in their usual order; a missing or renamed one only costs balance.
SLOW_FIRST = (
    "tests/chaos/test_crash.py",
    "tests/e2e/test_process.py",
    "tests/integration/test_poller.py",
    "tests/e2e/test_notifier.py",
    "tests/e2e/test_logs.py",
    "tests/e2e/test_admin.py",
    "tests/integration/test_invariants.py",
    "tests/e2e/test_deposit_flow.py",
    "tests/e2e/test_bot_basic.py",
    "tests/unit/test_nowpayments_client.py",
    "tests/e2e/test_observability.py",
    "tests/e2e/test_outbox_alerts.py",
    "tests/deploy/test_wheel.py",
    "tests/integration/test_state_machine.py",
    "tests/integration/test_deposit_money_rules.py",
    "tests/integration/test_withdrawals_concurrency.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: i for i, module in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


def pytest_collection_finish() -> None:
    """What collection imported (aiogram's models, SQLAlchemy's mappers, every test module)
    lives for the whole run: out of the cyclic collector's sight, as in ``python -m bot run``,
    each full collection walks only what the tests allocate (about a quarter less time in the
    collector)."""
    from bot.runtime import tune_gc  # not at the top: see the imports

    tune_gc()


def test_database_settings() -> DatabaseSettings:
    """The configured server, else the embedded one under .data/postgres (its data is kept,
    but tests only ever create and drop their own databases in it)."""
    settings = load_settings().database
    if settings.url is None:
        return settings.model_copy(update={"data_dir": ROOT / ".data" / "postgres"})
    return settings


@pytest.fixture(scope="session")
async def db_server() -> AsyncIterator[DbServer]:
    server = DbServer(server_url(test_database_settings()))
    try:
        yield server
    finally:
        await server.drop_all()


@pytest.fixture(scope="session")
async def template_db(db_server: DbServer) -> str:
    name = f"paybot_test_tmpl_{RUN}"
    url = await db_server.create(name)
    engine = create_engine(url, pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(run_alembic, "upgrade", "head")
    await engine.dispose()
    return name


@pytest.fixture(scope="session")
async def db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """The shared test database. Tests create their own users, so they don't collide."""
    database = await clone(db_server, template_db)
    yield database
    await database.engine.dispose()


@pytest.fixture
async def fresh_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    """An empty migrated database of this test's own, for whole-database assertions."""
    database = await clone(db_server, template_db)
    yield database
    await database.engine.dispose()


@pytest.fixture
async def empty_database(db_server: DbServer) -> str:
    """A database with no schema at all (migration tests)."""
    return await db_server.create(f"paybot_test_empty_{RUN}_{secrets.token_hex(3)}")


@pytest.fixture(scope="session")
def fork_server() -> Iterator[ForkServer]:
    """Bot processes forked from one that imported the bot once (started on first use)."""
    from tests.support.process import ForkServer  # not at the top: see the imports

    server = ForkServer()
    yield server
    server.close()


@pytest.fixture
async def user(db: Db) -> User:
    return await make_user(db.sessions)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PAYBOT_* variables and an empty working directory, for config tests."""
    for key in list(os.environ):
        if key.startswith("PAYBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path
