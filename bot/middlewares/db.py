"""The current user with their balance (registered on first contact), and a read session for
the handlers that ask for one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.aiogram_compat import handler_accepts
from core.db.models import User
from core.ledger import Balance
from core.users import load_with_balance, upsert_user


def _profile(tg: TelegramUser) -> tuple[str | None, str | None, str | None]:
    # The same truncation core.users.upsert_user applies, so an unchanged profile compares equal.
    return (
        (tg.username or None) and tg.username[:64],
        (tg.first_name or None) and tg.first_name[:128],
        (tg.language_code or None) and tg.language_code[:16],
    )


async def current_user(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], tg: TelegramUser
) -> tuple[User, Balance]:
    """The user's row, created or refreshed by upsert_user when needed (committed at once, so
    nothing a handler sends can describe a user that is not stored), and their balance. A
    returning user with an unchanged profile costs one read and no Session at all."""
    found = await load_with_balance(engine, tg.id)
    profile = _profile(tg)
    if found is not None:
        user = found[0]
        if not user.blocked_bot and (user.username, user.first_name, user.language) == profile:
            return found
    username, first_name, language = profile
    async with sessions.begin() as session:
        user = await upsert_user(
            session, tg.id, username=username, first_name=first_name, language=language
        )
    return user, found[1] if found is not None else Balance.from_row(user.id, None)


class CurrentUser(BaseMiddleware):
    """Outer (update) middleware: handler args ``user`` and ``balance`` (as it stood when the
    update arrived; a handler that moves money shows what its service returns instead)."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine = engine
        self._sessions = sessions

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            data["user"], data["balance"] = await current_user(
                self._engine, self._sessions, tg_user
            )
        return await handler(event, data)


class ReadSession(BaseMiddleware):
    """Inner middleware: handler arg ``session``, opened only for a handler that takes it.

    It is a READ session on an autocommit connection (see bot.factory.read_sessions): every
    statement stands alone, so there is no BEGIN/ROLLBACK round trip per update and no
    transaction left open while a handler talks to Telegram. Never use it for writes that belong
    together: those go through a core service, which opens its own transaction from the
    ``sessions`` factory in the workflow data.
    """

    def __init__(self, readers: async_sessionmaker[AsyncSession]) -> None:
        self._readers = readers

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not handler_accepts(data, "session"):
            return await handler(event, data)
        async with self._readers() as session:
            data["session"] = session
            return await handler(event, data)
