"""Prometheus metrics (``paybot_`` prefix) on a registry of the process's own, and heartbeats.

The app builds one ``Metrics`` and ``install()``s it; the loops call the module-level hooks
(``beat``, ``timed``), which do nothing while none is installed (unit tests, tools). What the
database knows (payments by status, credits, withdrawals, USD held, outbox, poller lag) is read
by one query when /metrics is scraped (``refresh``), never counted twice in memory.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.tls import client_context

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_P = ParamSpec("_P")
_T = TypeVar("_T")

# One round trip; every figure is a snapshot of committed state.
# poll_lag: the statuses the poller checks (core/deposits/poller.py's claim).
_SNAPSHOT = text(
    """
    SELECT
      (SELECT coalesce(json_object_agg(status, n), '{}')
         FROM (SELECT status, count(*) AS n FROM payments GROUP BY status) p) AS payments,
      (SELECT coalesce(json_object_agg(status, json_build_array(n, usd)), '{}')
         FROM (SELECT status, count(*) AS n, sum(amount_usd)::text AS usd
                 FROM withdrawal_requests GROUP BY status) w) AS withdrawals,
      (SELECT count(*) FROM transactions WHERE type = 'deposit') AS credits,
      (SELECT coalesce(sum(amount_usd), 0)::text FROM transactions WHERE type = 'deposit')
        AS credited_usd,
      (SELECT coalesce(sum(balance_usd), 0)::text FROM user_balances) AS held_usd,
      (SELECT coalesce(json_object_agg(state, n), '{}')
         FROM (SELECT state, count(*) AS n FROM notifications GROUP BY state) o) AS outbox,
      (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
         FROM notifications WHERE state = 'pending') AS outbox_oldest,
      (SELECT coalesce(extract(epoch FROM now() - min(next_check_at)), 0)::float8
         FROM payments
        WHERE status IN ('waiting', 'confirming', 'confirmed', 'sending', 'creating')
          AND next_check_at <= now()
          AND (lease_until IS NULL OR lease_until <= now())) AS poll_lag
    """
)


@dataclass(slots=True)
class Snapshot:
    """Figures for the scrape only. USD sums are floats because Prometheus samples are floats;
    they are read from NUMERIC as text at the last moment and never flow back into money."""

    payments: dict[str, int] = field(default_factory=dict)
    withdrawals: dict[str, tuple[int, float]] = field(default_factory=dict)
    credits: int = 0
    credited_usd: float = 0.0
    held_usd: float = 0.0
    outbox: dict[str, int] = field(default_factory=dict)
    outbox_oldest_seconds: float = 0.0
    poll_lag_seconds: float = 0.0


class _DatabaseCollector(Collector):
    """Yields the last snapshot; ``Metrics.refresh`` replaces it before each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self._metrics.snapshot
        payments = GaugeMetricFamily("paybot_payments", "Deposits by status", labels=["status"])
        for status, n in sorted(snap.payments.items()):
            payments.add_metric([status], n)
        yield payments
        w_count = GaugeMetricFamily(
            "paybot_withdrawals", "Withdrawal requests by status", labels=["status"]
        )
        w_usd = GaugeMetricFamily(
            "paybot_withdrawals_usd", "USD requested, by withdrawal status", labels=["status"]
        )
        for status, (n, usd) in sorted(snap.withdrawals.items()):
            w_count.add_metric([status], n)
            w_usd.add_metric([status], usd)
        yield w_count
        yield w_usd
        yield CounterMetricFamily(
            "paybot_deposit_credits", "Deposit credits in the ledger", value=snap.credits
        )
        yield CounterMetricFamily(
            "paybot_deposit_credited_usd", "USD credited for deposits", value=snap.credited_usd
        )
        yield GaugeMetricFamily(
            "paybot_balances_usd", "USD held for users (sum of balances)", value=snap.held_usd
        )
        outbox = GaugeMetricFamily(
            "paybot_outbox_messages", "Outbox rows by state", labels=["state"]
        )
        for state, n in sorted(snap.outbox.items()):
            outbox.add_metric([state], n)
        yield outbox
        yield GaugeMetricFamily(
            "paybot_outbox_oldest_pending_seconds",
            "Age of the oldest unsent outbox row",
            value=snap.outbox_oldest_seconds,
        )
        yield GaugeMetricFamily(
            "paybot_poller_lag_seconds",
            "How long the most overdue payment check has been waiting",
            value=snap.poll_lag_seconds,
        )
        yield GaugeMetricFamily(
            "paybot_database_figures_fresh",
            "1 if the figures read from the database above were read at this scrape, 0 if the"
            " database did not answer (they are the last ones read)",
            value=1 if self._metrics.snapshot_fresh else 0,
        )
        ages = GaugeMetricFamily(
            "paybot_heartbeat_age_seconds",
            "Seconds since a loop last went round",
            labels=["component"],
        )
        now = self._metrics.clock()
        for component, at in sorted(self._metrics.heartbeats.items()):
            ages.add_metric([component], max(0.0, now - at))
        yield ages


class Metrics:
    """One per process. ``clock`` is monotonic seconds (heartbeats and their ages)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.heartbeats: dict[str, float] = {}
        self.snapshot = Snapshot()
        self.snapshot_fresh = False
        self.registry = CollectorRegistry()
        r = self.registry
        self.durations = Histogram(
            "paybot_loop_seconds",
            "Duration of one round of a loop (poller: one batch of checks)",
            ["loop"],
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.provider_requests = Counter(
            "paybot_provider_requests",
            "NOWPayments HTTP requests by endpoint and outcome (2xx, 4xx, 429, 5xx, timeout,"
            " connect, error)",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.telegram_requests = Counter(
            "paybot_telegram_requests",
            "Bot API requests by bot (updates: handlers and polling; notifier: pushes), method"
            " and outcome (ok, retry_after, forbidden, bad_request, error)",
            ["bot", "method", "outcome"],
            registry=r,
        )
        self.reconcile_mismatches = Gauge(
            "paybot_reconcile_mismatches",
            "Ledger mismatches found by the last reconcile (hourly); anything above 0 is a bug",
            registry=r,
        )
        self.reconcile_runs = Counter("paybot_reconcile_runs", "Ledger reconciles run", registry=r)
        r.register(_DatabaseCollector(self))

    def beat(self, component: str) -> None:
        self.heartbeats[component] = self.clock()

    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            row = (await session.execute(_SNAPSHOT)).one()
        payments, withdrawals, outbox = (
            json.loads(v) if isinstance(v, str) else v
            for v in (row.payments, row.withdrawals, row.outbox)
        )
        self.snapshot = Snapshot(
            payments={k: int(v) for k, v in payments.items()},
            withdrawals={k: (int(v[0]), float(v[1])) for k, v in withdrawals.items()},
            credits=int(row.credits),
            credited_usd=float(row.credited_usd),
            held_usd=float(row.held_usd),
            outbox={k: int(v) for k, v in outbox.items()},
            outbox_oldest_seconds=float(row.outbox_oldest),
            poll_lag_seconds=float(row.poll_lag),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


_ENDPOINT_ID = re.compile(r"/[0-9]+(?=/|$)")


def endpoint_label(path: str) -> str:
    """/v1/payment/5077125051 -> /v1/payment/{id}: one series per endpoint, not per payment."""
    return _ENDPOINT_ID.sub("/{id}", path)


# --- the installed instance and the hooks the loops call ----------------------------------------

_installed: Metrics | None = None


def install(metrics: Metrics | None) -> None:
    """Make ``metrics`` the one the hooks feed (None: hooks do nothing)."""
    global _installed
    _installed = metrics


def installed() -> Metrics | None:
    return _installed


def beat(component: str) -> None:
    """A loop went round (poller, notifier, telegram)."""
    if _installed is not None:
        _installed.beat(component)


def timed(
    loop: str,
) -> Callable[[Callable[_P, Coroutine[Any, Any, _T]]], Callable[_P, Coroutine[Any, Any, _T]]]:
    """Decorate a coroutine function: its duration goes to paybot_loop_seconds{loop}."""

    def decorate(
        fn: Callable[_P, Coroutine[Any, Any, _T]],
    ) -> Callable[_P, Coroutine[Any, Any, _T]]:
        @functools.wraps(fn)
        async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                if _installed is not None:
                    _installed.durations.labels(loop).observe(time.perf_counter() - started)

        return wrapper

    return decorate


__all__ = ["CONTENT_TYPE", "Metrics", "beat", "endpoint_label", "install", "installed", "timed"]


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the provider client's transport: every request counted by endpoint and outcome,
    whichever code path sent it (the client itself stays untouched)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None, connections: int = 10):
        # httpx ignores a client's `limits` once a transport is given: they are set here.
        self._inner = inner or httpx.AsyncHTTPTransport(
            verify=client_context(),
            limits=httpx.Limits(
                max_connections=connections, max_keepalive_connections=connections
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = endpoint_label(request.url.path)
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TimeoutException:
            _count_provider(endpoint, "timeout")
            raise
        except httpx.ConnectError:
            _count_provider(endpoint, "connect")
            raise
        except Exception:
            _count_provider(endpoint, "error")
            raise
        code = response.status_code
        _count_provider(endpoint, "429" if code == 429 else f"{code // 100}xx")
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _count_provider(endpoint: str, outcome: str) -> None:
    if _installed is not None:
        _installed.provider_requests.labels(endpoint, outcome).inc()
