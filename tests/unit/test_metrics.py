"""The provider request counter (a transport wrapper) and the hooks the loops call."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core import metrics
from core.metrics import CountingTransport, Metrics, endpoint_label


@pytest.fixture
def installed() -> Iterator[Metrics]:
    registry = Metrics(clock=lambda: 100.0)
    metrics.install(registry)
    yield registry
    metrics.install(None)


def count(registry: Metrics, endpoint: str, outcome: str) -> float:
    value = registry.registry.get_sample_value(
        "paybot_provider_requests_total", {"endpoint": endpoint, "outcome": outcome}
    )
    return value or 0.0


def test_endpoint_label_hides_ids() -> None:
    assert endpoint_label("/v1/payment/5077125051") == "/v1/payment/{id}"
    assert endpoint_label("/v1/payment/") == "/v1/payment/"
    assert endpoint_label("/v1/min-amount") == "/v1/min-amount"


async def test_every_outcome_is_counted_by_endpoint(installed: Metrics) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/connect"):
            raise httpx.ConnectError("refused", request=request)
        if path.endswith("/slow"):
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(int(path.rsplit("/", 1)[1]))

    transport = CountingTransport(httpx.MockTransport(reply))
    async with httpx.AsyncClient(transport=transport, base_url="http://np") as client:
        for code in (200, 201, 404, 429, 503):
            await client.get(f"/v1/payment/123/{code}")
        for path in ("/v1/connect", "/v1/slow"):
            with pytest.raises(httpx.HTTPError):
                await client.get(path)
    label = "/v1/payment/{id}/{id}"  # both numbers are path segments
    assert count(installed, label, "2xx") == 2
    assert count(installed, label, "4xx") == 1
    assert count(installed, label, "429") == 1
    assert count(installed, label, "5xx") == 1
    assert count(installed, "/v1/connect", "connect") == 1
    assert count(installed, "/v1/slow", "timeout") == 1


async def test_hooks_feed_the_installed_registry_only(installed: Metrics) -> None:
    @metrics.timed("demo")
    async def work() -> int:
        return 7

    assert await work() == 7
    metrics.beat("poller")
    assert installed.heartbeats == {"poller": 100.0}
    assert installed.registry.get_sample_value("paybot_loop_seconds_count", {"loop": "demo"}) == 1
    metrics.install(None)
    assert await work() == 7  # nothing installed: the hooks do nothing
    metrics.beat("notifier")
    assert "notifier" not in installed.heartbeats
