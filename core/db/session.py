"""Engine and session factories. Nothing is created at import time."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.config import DatabaseSettings
from core.db.embedded import start_embedded

APP_DATABASE = "paybot"


def asyncpg_url(url: str) -> str:
    """Accept postgres://, postgresql:// and postgresql+asyncpg:// alike."""
    return re.sub(r"^postgres(ql)?(\+[a-z0-9]+)?://", "postgresql+asyncpg://", url)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def server_url(settings: DatabaseSettings) -> str:
    """The configured server, or the embedded one when no URL is set."""
    if settings.url is not None and settings.url.get_secret_value().strip():
        return asyncpg_url(settings.url.get_secret_value().strip())
    return start_embedded(settings.data_dir)


async def ensure_database(url: str) -> None:
    """Create the URL's database if it does not exist (the embedded server starts with none)."""
    target = make_url(url)
    name = target.database
    if not name or name == "postgres":
        return
    admin = create_async_engine(with_database(url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = $1", (name,)
            )
            if exists.scalar() is None:
                quoted = '"' + name.replace('"', '""') + '"'
                await conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    finally:
        await admin.dispose()


def database_url(settings: DatabaseSettings) -> str:
    """The application database: the configured URL as given, or `paybot` on the embedded
    server."""
    url = server_url(settings)
    if settings.url is None or not settings.url.get_secret_value().strip():
        return with_database(url, APP_DATABASE)
    return url


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        echo=echo,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
