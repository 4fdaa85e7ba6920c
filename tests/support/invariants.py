"""Assert the money invariants (core.invariants) over a whole test database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.invariants import Violation, check_database, describe


async def violations(
    sessions: async_sessionmaker[AsyncSession], *, admin_chat: bool = True
) -> list[Violation]:
    return await check_database(sessions, admin_chat=admin_chat)


async def assert_invariants(
    sessions: async_sessionmaker[AsyncSession], *, admin_chat: bool = True
) -> None:
    found = await violations(sessions, admin_chat=admin_chat)
    assert not found, describe(found)
