"""Apply Alembic migrations programmatically (used by `python -m bot migrate` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from core.db.session import create_engine, ensure_database

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["configure_logging"] = False
    return cfg


def run_alembic(connection: Connection, action: str, revision: str) -> None:
    """Run an Alembic command on an open connection (the caller owns the transaction)."""
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    getattr(command, action)(cfg, revision)


async def migrate(url: str, action: str = "upgrade", revision: str = "head") -> None:
    await ensure_database(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_alembic, action, revision)
    finally:
        await engine.dispose()
