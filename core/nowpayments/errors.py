"""Typed failures of the NOWPayments client.

Messages are built by the client from the method, the path and the provider's own code/message
(with known secrets redacted), so ``str()`` and ``repr()`` of these errors are safe to log.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every failure talking to NOWPayments.

    ``outcome_unknown`` is True only for a non-idempotent request (create payment) that may have
    been processed although no usable reply came back: the caller must reconcile (by order_id)
    before trying again, never blindly repeat it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.outcome_unknown = outcome_unknown

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, outcome_unknown={self.outcome_unknown!r})"
        )


class ProviderAuthError(ProviderError):
    """401/403: bad API key, missing or expired JWT, bad dashboard credentials."""


class ProviderBadRequest(ProviderError):
    """The provider refused the request (4xx other than 401/403/429), with its code and message."""

    def __init__(self, code: str | None, message: str, status: int | None) -> None:
        super().__init__(message, status=status, code=code)


class MinimumAmountError(ProviderBadRequest):
    """AMOUNT_MINIMAL_ERROR: the price is under the coin's minimum (often: the rate moved)."""


class ProviderRateLimited(ProviderError):
    """429. ``retry_after`` is the server's Retry-After in seconds when it sent a usable one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
    ) -> None:
        super().__init__(message, status=status, code="RATE_LIMITED")
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """5xx, timeouts and connection errors: transient, worth retrying for reads."""


class MalformedReply(ProviderError):
    """A reply we cannot trust: not JSON, truncated, wrong shape, NaN or negative amounts."""
