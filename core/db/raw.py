"""Hot-path statements sent straight to asyncpg. SQLAlchemy's per-statement overhead was a third
of a ledger posting, and checking a Session's connection out of the pool cost more than the rest
of a /balance update; errors still surface as SQLAlchemy's, so callers know one family."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn


async def _fetchrow(driver: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> Any:
    try:
        return await driver.fetchrow(sql, *args)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(sql, args, exc) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(sql, args, exc) from exc


async def _begun(session: AsyncSession) -> asyncpg.Connection:
    """The session's driver connection, inside the session's transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the first statement it executes
    itself: a raw statement that came first would run, and commit, on its own, outside the
    transaction its caller opened. So begin it the adapter's own way (private API, pinned by
    the sqlalchemy version range; tests/integration/test_raw.py proves it)."""
    pooled = await (await session.connection()).get_raw_connection()
    adapter: Any = pooled.dbapi_connection
    if adapter._transaction is None:
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()  # nothing to begin on autocommit
    driver = pooled.driver_connection
    assert driver is not None
    return driver


async def fetchrow(session: AsyncSession, sql: str, *args: Any) -> Any:
    """One row (an asyncpg Record, read by column name) or None, on the session's own
    connection, in its transaction."""
    return await _fetchrow(await _begun(session), sql, args)


def _server_refused(exc: BaseException) -> bool:
    """PostgreSQL answered with an error: the connection itself is still good."""
    return isinstance(exc, asyncpg.PostgresError) or isinstance(
        getattr(exc, "orig", None), asyncpg.PostgresError
    )


@asynccontextmanager
async def pooled(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection borrowed from the engine's own pool, for single autocommit reads
    (never for writes that belong together: those need a Session's transaction). A connection
    that failed outside PostgreSQL (closed, cancelled mid-query) is discarded, not reused."""
    proxied = await engine.raw_connection()
    driver = proxied.driver_connection
    assert driver is not None
    try:
        yield driver
    except BaseException as exc:
        if _server_refused(exc) and not driver.is_closed():
            await greenlet_spawn(proxied.close)
        else:
            await greenlet_spawn(proxied.invalidate)
        raise
    await greenlet_spawn(proxied.close)


async def fetchrow_pooled(engine: AsyncEngine, sql: str, *args: Any) -> Any:
    """One row or None, read on a pooled connection outside any Session."""
    async with pooled(engine) as driver:
        return await _fetchrow(driver, sql, args)
