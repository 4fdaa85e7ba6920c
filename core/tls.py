"""One TLS client context per process for the provider's HTTP clients.

httpx builds a fresh context for every client and transport, and loading the CA bundle into it
costs about 13 ms of CPU each time; an ``ssl.SSLContext`` is made to be shared by many
connections, so the process builds it once, with httpx's own defaults (certifi's bundle, or
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set)."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


__all__ = ["client_context"]
