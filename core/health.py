"""/healthz and /metrics over HTTP (aiohttp.web), started by the app when
``observability.http_port`` is set.

/healthz is 200 when the database answers, Telegram polling is alive and the poller's and the
notifier's heartbeats are fresh; otherwise 503. Both bodies are JSON naming each check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Freshness:
    """The longest a loop may go without a heartbeat, in seconds."""

    poller: float
    notifier: float
    telegram: float

    @classmethod
    def from_settings(cls, settings: Settings, *, polling_timeout: float) -> Freshness:
        payments = settings.payments
        return cls(
            # A batch runs at most about one lease; then the loop sleeps at most an interval.
            poller=max(60.0, 2 * payments.poll_lease_seconds + payments.poll_interval_seconds),
            # The notifier's loop goes round every second when idle.
            notifier=60.0,
            # A long poll returns after polling_timeout even with no updates.
            telegram=max(60.0, 2 * polling_timeout + 30.0),
        )


class Health:
    """The checks behind /healthz. ``components``: the loops whose heartbeat must be fresh
    (a loop the process does not run is left out); ``running``: whether the polling task
    is still alive."""

    def __init__(
        self,
        metrics: Metrics,
        sessions: async_sessionmaker[AsyncSession],
        freshness: Freshness,
        *,
        components: tuple[str, ...] = ("telegram", "poller", "notifier"),
        polling_running: Callable[[], bool] = lambda: True,
    ) -> None:
        self.metrics = metrics
        self.sessions = sessions
        self.freshness = freshness
        self.components = components
        self.polling_running = polling_running
        self.clock: Callable[[], float] = time.monotonic  # the heartbeats' clock; tests shift it

    async def check(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {"database": await self._database()}
        for component in self.components:
            checks[component] = self._heartbeat(component)
        if "telegram" in checks and not self.polling_running():
            checks["telegram"] = {"ok": False, "error": "the polling task is not running"}
        problems = [f"{name}: {c['error']}" for name, c in checks.items() if not c["ok"]]
        healthy = not problems
        body = {"status": "ok" if healthy else "fail", "checks": checks, "problems": problems}
        return healthy, body

    async def _database(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(DB_TIMEOUT_SECONDS), self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not answering"; logged
            log.warning("healthz: the database did not answer: %s", type(exc).__name__)
            return {"ok": False, "error": f"not answering ({type(exc).__name__})"}
        return {"ok": True}

    def _heartbeat(self, component: str) -> dict[str, Any]:
        limit = getattr(self.freshness, component)
        at = self.metrics.heartbeats.get(component)
        if at is None:
            return {"ok": False, "error": "no heartbeat yet", "max_age_seconds": limit}
        age = max(0.0, self.clock() - at)
        result: dict[str, Any] = {
            "ok": age <= limit,
            "age_seconds": round(age, 3),
            "max_age_seconds": limit,
        }
        if age > limit:
            result["error"] = f"no heartbeat for {age:.0f} s (limit {limit:.0f} s)"
        return result


class HttpEndpoint:
    """The aiohttp server for /healthz and /metrics. ``port`` is the bound one after start."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        self.health = health
        self.host = host
        self.port = port
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("health and metrics on http://%s:%s/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        healthy, body = await self.health.check()
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        metrics = self.health.metrics
        try:
            async with asyncio.timeout(DB_TIMEOUT_SECONDS):
                await metrics.refresh(self.health.sessions)
            metrics.snapshot_fresh = True
        except Exception as exc:  # noqa: BLE001 - the in-process figures still serve
            metrics.snapshot_fresh = False
            log.warning("metrics: database figures not refreshed: %s", type(exc).__name__)
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})
