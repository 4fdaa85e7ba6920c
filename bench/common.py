"""What the benchmarks share: a migrated throw-away database on the configured (or embedded)
server, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from core.config import load_settings
from core.db.session import server_url, with_database
from core.migrate import migrate


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """Yields the SQLAlchemy URL of a fresh, migrated database."""
    base = server_url(load_settings().database)
    name = f"paybot_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(with_database(base, "postgres").replace("+asyncpg", ""))
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        url = with_database(base, name)
        await migrate(url)
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
