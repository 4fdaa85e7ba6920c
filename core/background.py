"""The money loops that run beside the bot: the payment poller, the currency sync and the hourly
ledger reconcile. No aiogram here: the bot's App starts it and stops it through ``stop_event``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import currencies, metrics
from core.admin import reconcile_and_alert
from core.config import Settings
from core.currencies import CurrencyCatalog
from core.deposits.poller import Poller
from core.deposits.settlement import SettlePolicy
from core.nowpayments import NowPaymentsClient
from core.nowpayments.budget import Lane, run_in_lane

log = logging.getLogger(__name__)

RECONCILE_EVERY_SECONDS = 3600.0


class BackgroundService(Protocol):
    async def run_forever(self, stop_event: asyncio.Event) -> None: ...


class PaymentBackground:
    """The money loops: the payment poller, the currency sync (which also seeds the common coins
    on a first start while the provider is unreachable) and an hourly ledger reconcile that
    alerts the admin chat on a mismatch."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: NowPaymentsClient,
        settings: Settings,
        catalog: CurrencyCatalog,
        *,
        policy: SettlePolicy,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self.poller = Poller(sessions, client, settings, policy=policy)
        self._catalog = catalog

    async def _reconcile(self, stop_event: asyncio.Event) -> None:
        while not stop_event.is_set():
            try:
                found = await reconcile_and_alert(self._sessions, self._settings)
            except Exception:  # the database is down: try again next time
                log.exception("reconcile failed")
            else:
                if (current := metrics.installed()) is not None:
                    current.reconcile_runs.inc()
                    current.reconcile_mismatches.set(len(found))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), RECONCILE_EVERY_SECONDS)

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        # A TaskGroup: if one loop dies, the other is cancelled and the app sees the failure.
        async with asyncio.TaskGroup() as group:
            # Background lane: users' provider calls are served first (core.nowpayments.budget).
            poll = self.poller.run_forever(stop_event)
            group.create_task(run_in_lane(Lane.BACKGROUND, poll))
            group.create_task(currencies.keep_synced(self._sessions, self._catalog, stop_event))
            group.create_task(self._reconcile(stop_event))


__all__ = ["RECONCILE_EVERY_SECONDS", "BackgroundService", "PaymentBackground"]
