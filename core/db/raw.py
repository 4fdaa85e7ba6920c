"""Hot-path statements sent straight to asyncpg (or, before a transaction is open, to the
connection's DBAPI cursor), using SQLAlchemy's public API only. SQLAlchemy's per-statement
overhead was a third of a ledger posting, and checking a Session's connection out of the pool
cost more than the rest of a /balance update; errors still surface as SQLAlchemy's, so callers
know one family."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session


async def _fetchrow(driver: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> Any:
    try:
        return await driver.fetchrow(sql, *args)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(sql, args, exc) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(sql, args, exc) from exc


async def fetchrow(session: AsyncSession, sql: str, *args: Any) -> Any:
    """One row (an asyncpg Record, read by column name) or None, on the session's own
    connection, in its transaction. One hop into SQLAlchemy's greenlet for both the connection
    and the statement."""
    return await session.run_sync(_fetchrow_in_transaction, sql, args)


def _fetchrow_in_transaction(session: Session, sql: str, args: tuple[Any, ...]) -> Any:
    """SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the first statement it runs
    itself: a statement sent to the driver before that would run, and commit, on its own. So
    until the driver reports an open transaction, the statement goes through the connection's
    PEP 249 cursor, the DBAPI contract SQLAlchemy itself drives, which begins the transaction
    (or none, on an autocommit connection) exactly as SQLAlchemy would; once one is open,
    straight to the driver. tests/integration/test_raw.py proves both."""
    conn = session.connection()
    pooled = conn.connection
    adapted, driver = pooled.dbapi_connection, pooled.driver_connection
    if isinstance(adapted, AdaptedConnection) and driver.is_in_transaction():
        return adapted.run_async(lambda driver: _fetchrow(driver, sql, args))
    dbapi = conn.dialect.loaded_dbapi
    cursor = pooled.cursor()
    try:
        cursor.execute(sql, args)
        return cursor.fetchone()
    except dbapi.IntegrityError as exc:
        raise IntegrityError(sql, args, exc) from exc
    except dbapi.Error as exc:
        raise DBAPIError(sql, args, exc) from exc
    finally:
        cursor.close()


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
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            yield driver
        except BaseException as exc:
            if not (_server_refused(exc) and not driver.is_closed()):
                await conn.invalidate()
            raise


async def fetchrow_pooled(engine: AsyncEngine, sql: str, *args: Any) -> Any:
    """One row or None, read on a pooled connection outside any Session."""
    async with pooled(engine) as driver:
        return await _fetchrow(driver, sql, args)
