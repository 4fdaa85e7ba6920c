"""An embedded PostgreSQL (the pgserver package) for machines that have only Python."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the server under data_dir; return an asyncpg URL to its `postgres` db.

    The data directory is kept between runs. pgserver stops the server when the last process
    that uses it exits.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import pgserver  # imported late: it is only needed when no URL is configured

    path = data_dir.resolve()
    server = _servers.get(path)
    if server is None:
        path.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", path)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            server = pgserver.get_server(path)  # type: ignore[attr-defined]
        _servers[path] = server
    # Unix socket in the data directory: no TCP port to collide with another server.
    return f"postgresql+asyncpg://postgres@/postgres?host={path}"
