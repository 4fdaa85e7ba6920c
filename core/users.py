"""Users: registered on first contact, refreshed on every /start."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import raw
from core.db.models import User
from core.ledger import Balance

_USER_COLUMNS = (
    "id", "telegram_id", "username", "first_name", "language", "locale", "blocked_bot",
    "is_banned", "created_at",
)  # fmt: skip
_LOAD_WITH_BALANCE = (  # the user columns are _USER_COLUMNS
    "SELECT u.id, u.telegram_id, u.username, u.first_name, u.language, u.locale, u.blocked_bot,"
    " u.is_banned, u.created_at, b.balance_usd, b.total_deposited, b.total_withdrawn,"
    " b.last_transaction_at"
    " FROM users u LEFT JOIN user_balances b ON b.user_id = u.id WHERE u.telegram_id = $1"
)


async def upsert_user(
    session: AsyncSession,
    telegram_id: int,
    *,
    username: str | None = None,
    first_name: str | None = None,
    language: str | None = None,
) -> User:
    """Create the user or refresh their profile; a user who writes again has unblocked us."""
    values = {
        "telegram_id": telegram_id,
        "username": (username or None) and username[:64],
        "first_name": (first_name or None) and first_name[:128],
        "language": (language or None) and language[:16],
    }
    stmt = (
        insert(User)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[User.telegram_id],
            set_={
                "username": values["username"],
                "first_name": values["first_name"],
                "language": values["language"],
                "blocked_bot": False,
            },
        )
        .returning(User)
    )
    return (await session.execute(stmt)).scalar_one()


async def get_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    return (
        await session.execute(select(User).where(User.telegram_id == telegram_id))
    ).scalar_one_or_none()


async def load_with_balance(engine: AsyncEngine, telegram_id: int) -> tuple[User, Balance] | None:
    """The user and their balance, in one autocommit read on a pooled connection: every update
    pays for it, and most screens show the balance. The user is a detached snapshot: change
    users through the functions here, not the snapshot."""
    row = await raw.fetchrow_pooled(engine, _LOAD_WITH_BALANCE, telegram_id)
    if row is None:
        return None
    user = User(**{name: row[name] for name in _USER_COLUMNS})
    return user, Balance.from_row(user.id, row)


async def find_user(session: AsyncSession, query: str) -> User | None:
    """By Telegram id or @username (case-insensitive), for admin look-ups."""
    query = query.strip()
    if query.lstrip("-").isascii() and query.lstrip("-").isdigit():
        return await get_by_telegram_id(session, int(query))
    name = query.removeprefix("@").lower()
    if not name:
        return None
    return (
        await session.execute(select(User).where(func.lower(User.username) == name).limit(1))
    ).scalar_one_or_none()


async def set_blocked(session: AsyncSession, telegram_id: int, blocked: bool = True) -> None:
    user = await get_by_telegram_id(session, telegram_id)
    if user is not None:
        user.blocked_bot = blocked


async def set_locale(session: AsyncSession, telegram_id: int, locale: str | None) -> bool:
    """Store the user's chosen language (None: follow Telegram's again). False if there is no
    such user."""
    result = await session.execute(
        update(User)
        .where(User.telegram_id == telegram_id)
        .values(locale=(locale or None) and locale[:8])
        .returning(User.id)
    )
    return result.scalar_one_or_none() is not None


async def language_of(session: AsyncSession, telegram_id: int) -> str | None:
    """The language to write to a chat in: the user's choice, else Telegram's code; None for a
    chat that is not a known user."""
    return (
        await session.execute(
            select(func.coalesce(User.locale, User.language)).where(
                User.telegram_id == telegram_id
            )
        )
    ).scalar_one_or_none()
