"""Apply Alembic migrations programmatically (used by `python -m bot migrate` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from core.db.session import create_engine, ensure_database

_CORE = Path(__file__).resolve().parent
# An installed wheel carries migrations/ as core/_migrations (setup.py); a checkout has it at
# the top level, beside core/. Both are found from the imported `core`, never from the cwd.
_LOCATIONS = (_CORE / "_migrations", _CORE.parent / "migrations")


def script_location() -> Path:
    """Alembic's script directory for the `core` package that is running."""
    for location in _LOCATIONS:
        if (location / "env.py").is_file():
            return location
    raise RuntimeError(f"no Alembic migrations found in {' or '.join(map(str, _LOCATIONS))}")


def alembic_config() -> Config:
    """Built in code (no alembic.ini: a wheel has none); alembic.ini stays for the CLI."""
    cfg = Config()
    # set_main_option interpolates '%', so a path holding one must be escaped.
    cfg.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
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
