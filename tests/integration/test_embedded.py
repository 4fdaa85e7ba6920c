"""The embedded PostgreSQL path that a machine with only Python takes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.config import DatabaseSettings
from core.db.session import create_engine, database_url
from core.migrate import migrate


async def test_embedded_server_starts_migrates_and_keeps_data(tmp_path: Path) -> None:
    settings = DatabaseSettings(url=None, data_dir=tmp_path / "pg")
    url = database_url(settings)
    parsed = make_url(url)
    assert parsed.database == "paybot"
    assert parsed.query["host"] == str((tmp_path / "pg").resolve())
    await migrate(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO users (telegram_id) VALUES (42)"))
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM users")) == 1
    finally:
        await engine.dispose()
    assert (tmp_path / "pg" / "PG_VERSION").is_file()
