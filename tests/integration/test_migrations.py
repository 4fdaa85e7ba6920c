"""Migrations go up, down and up again, and the models match the migrated schema exactly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.db.base import Base
from core.db.session import create_engine
from core.migrate import migrate, run_alembic


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_upgrade_and_no_drift(empty_database: str) -> None:
    engine = create_engine(empty_database, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_alembic, "upgrade", "head")
        async with engine.begin() as conn:
            await conn.run_sync(run_alembic, "downgrade", "base")
        async with engine.connect() as conn:
            tables = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            functions = await conn.scalar(
                text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'paybot_%'")
            )
        assert tables == 1  # only alembic_version is left
        assert functions == 0
        await migrate(empty_database)  # the same path `python -m bot migrate` takes
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            triggers = await conn.scalar(
                text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'transactions_%'")
            )
        assert triggers == 4
    finally:
        await engine.dispose()
