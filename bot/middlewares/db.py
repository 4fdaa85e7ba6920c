"""One AsyncSession per update, and the current user (registered on first contact)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import User
from core.users import load_user, upsert_user


def _profile(tg: TelegramUser) -> tuple[str | None, str | None, str | None]:
    # The same truncation core.users.upsert_user applies, so an unchanged profile compares equal.
    return (
        (tg.username or None) and tg.username[:64],
        (tg.first_name or None) and tg.first_name[:128],
        (tg.language_code or None) and tg.language_code[:16],
    )


async def current_user(session: AsyncSession, tg: TelegramUser) -> User:
    """The user's row, created or refreshed by upsert_user when needed (committed at once, so
    nothing a handler sends can describe a user that is not stored). A returning user with an
    unchanged profile costs one read instead of a row rewrite and a commit on every update."""
    user = await load_user(session, tg.id)
    username, first_name, language = _profile(tg)
    if (
        user is None
        or user.blocked_bot
        or (user.username, user.first_name, user.language) != (username, first_name, language)
    ):
        user = await upsert_user(
            session, tg.id, username=username, first_name=first_name, language=language
        )
        await session.commit()
    return user


class DbSession(BaseMiddleware):
    """Handler args ``session`` and ``user``.

    ``session`` is a READ session on an autocommit connection (see bot.factory.read_sessions):
    every statement stands alone, so there is no BEGIN/ROLLBACK round trip per update and no
    transaction left open while a handler talks to Telegram. Never use it for writes that belong
    together: those go through a core service, which opens its own transaction from the
    ``sessions`` factory in the workflow data. The user upsert here is a single statement.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self._sessions() as session:
            data["session"] = session
            tg_user: TelegramUser | None = data.get("event_from_user")
            if tg_user is not None and not tg_user.is_bot:
                data["user"] = await current_user(session, tg_user)
            return await handler(event, data)
