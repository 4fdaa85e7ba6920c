"""Hot-path statements sent straight to asyncpg on a session's own connection (same
transaction). SQLAlchemy's per-statement overhead was a third of a ledger posting and most of a
/balance round trip; errors still surface as SQLAlchemy's, so callers know one family."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def fetchrow(session: AsyncSession, sql: str, *args: Any) -> Any:
    """One row (an asyncpg Record, read by column name) or None."""
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        return await driver.fetchrow(sql, *args)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(sql, args, exc) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(sql, args, exc) from exc
