"""The provider's HTTP clients share one TLS context that still verifies certificates: a new
client or transport loads no CA bundle of its own."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from core.metrics import CountingTransport
from core.nowpayments import NowPaymentsClient
from core.tls import client_context


def test_one_verifying_context_per_process() -> None:
    context = client_context()
    assert context is client_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded


async def test_new_clients_and_transports_build_no_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_context()
    built: list[Any] = []
    default = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(args or kwargs)
        return default(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    clients = [
        NowPaymentsClient("key", "https://api.example.invalid/v1"),
        NowPaymentsClient(
            "key", "https://api.example.invalid/v1", transport=CountingTransport(connections=2)
        ),
    ]
    for client in clients:
        await client.aclose()
    assert built == []
    # The check is live: httpx on its own builds one per client.
    async with httpx.AsyncClient():
        pass
    assert len(built) == 1
