"""Async NOWPayments client: one pooled httpx client, polite rate limit, retries for reads only.

Every request takes a token from one ``ProviderBudget`` (see core.nowpayments.budget): users
first, the poller and the currency sync in the background lanes.

Secrets (API key, JWT, password) live only in request headers/bodies: they are never logged,
never put into exception messages (provider messages are redacted before use) and hidden from
``repr``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from core.errors import ConfigError
from core.nowpayments.budget import ProviderBudget
from core.nowpayments.errors import (
    MalformedReply,
    MinimumAmountError,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from core.nowpayments.models import (
    ApiStatus,
    AuthReply,
    CreatePaymentRequest,
    Currencies,
    ErrorBody,
    Estimate,
    FullCurrencies,
    FullCurrency,
    MerchantCoins,
    MinAmount,
    Payment,
    PaymentList,
    dumps_json,
    loads_json,
    normalize_id,
)
from core.tls import client_context

logger = logging.getLogger(__name__)

PRODUCTION_URL = "https://api.nowpayments.io/v1"
SANDBOX_URL = "https://api-sandbox.nowpayments.io/v1"

AMOUNT_MINIMAL_ERROR = "AMOUNT_MINIMAL_ERROR"
AUTH_REQUIRED = "AUTH_REQUIRED"
INVALID_API_KEY = "INVALID_API_KEY"

_MAX_MESSAGE = 300
# Failures that happen before the request leaves this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_ModelT = TypeVar("_ModelT", bound=BaseModel)
_T = TypeVar("_T")
# get_payment: "never" send the JWT; "fallback": only after a 401 AUTH_REQUIRED (open question 2);
# list: "always".
JwtMode = Literal["never", "fallback", "always"]


def base_url_for(sandbox: bool, override: str | None = None) -> str:
    """The API root: an explicit override wins, else the sandbox or production host."""
    if override:
        return override.rstrip("/")
    return SANDBOX_URL if sandbox else PRODUCTION_URL


class NowPaymentsSettings(Protocol):
    """The slice of the config section this client needs (core.config provides it)."""

    @property
    def api_key(self) -> SecretStr | None: ...
    @property
    def sandbox(self) -> bool: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def max_requests_per_second(self) -> float: ...
    @property
    def user_reserve_requests(self) -> int: ...
    @property
    def catalog_requests_per_second(self) -> float: ...


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as delta-seconds (fractions tolerated) or an HTTP date; None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


class NowPaymentsClient:
    """Build one per process (from ``main()`` or a fixture) and share it; close it on shutdown."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        email: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        max_requests_per_second: float = 5.0,
        burst: int = 1,
        user_reserve: int = 1,
        catalog_requests_per_second: float = 1.0,
        max_retries: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        retry_after_max: float = 5.0,
        retry_after_cap: float = 600.0,
        rate_limit_pause: float = 1.0,
        jwt_ttl: float = 240.0,
        max_connections: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: monotonic seconds for the quiet time after a 429 and the JWT's age
        (tests move it instead of sleeping)."""
        if not api_key:
            raise ConfigError("missing_setting", setting="nowpayments.api_key")
        if max_requests_per_second <= 0 or burst < 1 or max_retries < 0 or user_reserve < 0:
            raise ValueError("rate, burst and retries must be positive")
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._email = email
        self._password = password
        self._max_retries = max_retries
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        # A read waits out a Retry-After up to this long itself; a longer one is the caller's to
        # honour (the poller pauses, a user is told when to come back), not a hung call.
        self._retry_after_max = retry_after_max
        self._rate_limit_pause = rate_limit_pause  # quiet time after a 429 without Retry-After
        self._retry_after_cap = retry_after_cap  # the longest any 429 can silence the client
        self._clock = clock
        self._quiet_until = 0.0  # clock(); after a 429 nobody sends before this
        self._jwt_ttl = jwt_ttl
        self._jwt: str | None = None
        self._jwt_expires = 0.0
        self._jwt_lock = asyncio.Lock()
        # Set once get-payment has answered AUTH_REQUIRED, so later polls send the JWT up front.
        self._payment_needs_jwt = False
        # burst (+ the users' reserve) requests at once, then one every 1/rate seconds: the
        # provider 429s on bursts.
        self.budget = ProviderBudget(
            max_requests_per_second,
            burst=burst,
            user_reserve=user_reserve,
            catalog_requests_per_second=catalog_requests_per_second,
        )
        # Queue here rather than in httpcore's pool, whose hand-over is slow with many waiters.
        self._slots = asyncio.Semaphore(max_connections)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport,
            verify=client_context(),
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept": "application/json", "User-Agent": "paybot"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls,
        section: NowPaymentsSettings,
        *,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> NowPaymentsClient:
        if section.api_key is None or not section.api_key.get_secret_value():
            raise ConfigError("missing_setting", setting="nowpayments.api_key")
        return cls(
            section.api_key.get_secret_value(),
            base_url_for(section.sandbox, section.base_url),
            email=section.email,
            password=section.password.get_secret_value() if section.password else None,
            timeout=section.timeout_seconds,
            max_requests_per_second=section.max_requests_per_second,
            user_reserve=section.user_reserve_requests,
            catalog_requests_per_second=section.catalog_requests_per_second,
            max_retries=max_retries,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"NowPaymentsClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def has_credentials(self) -> bool:
        return bool(self._email and self._password)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # --- endpoints -----------------------------------------------------------------------------

    async def status(self) -> ApiStatus:
        data = await self._read("/status", send_key=False)
        return self._model(ApiStatus, data, "GET /status")

    async def currencies(self, *, fixed_rate: bool = False) -> Currencies:
        params = {"fixed_rate": "true"} if fixed_rate else None
        return self._model(Currencies, await self._read("/currencies", params), "GET /currencies")

    async def full_currencies(self) -> list[FullCurrency]:
        return (await self.full_currencies_reply()).currencies

    async def full_currencies_reply(self) -> FullCurrencies:
        """The list with what was skipped as malformed (``skipped``)."""
        data = await self._read("/full-currencies")
        return self._model(FullCurrencies, data, "GET /full-currencies")

    async def merchant_coins(self, *, fixed_rate: bool = False) -> list[str]:
        """Coins enabled in the dashboard, lower-cased (the wire often has them upper-case)."""
        return (await self.merchant_coins_reply(fixed_rate=fixed_rate)).selected_currencies

    async def merchant_coins_reply(self, *, fixed_rate: bool = False) -> MerchantCoins:
        """The list with what was skipped as malformed (``skipped``)."""
        params = {"fixed_rate": "true"} if fixed_rate else None
        data = await self._read("/merchant/coins", params)
        return self._model(MerchantCoins, data, "GET /merchant/coins")

    async def min_amount(
        self,
        currency_from: str,
        currency_to: str,
        *,
        fiat_equivalent: str | None = None,
        is_fixed_rate: bool | None = None,
        is_fee_paid_by_user: bool | None = None,
    ) -> MinAmount:
        # currency_to is documented as optional but observed to be required: always send it.
        params = {"currency_from": currency_from.lower(), "currency_to": currency_to.lower()}
        if fiat_equivalent:
            params["fiat_equivalent"] = fiat_equivalent.lower()
        if is_fixed_rate is not None:
            params["is_fixed_rate"] = _flag(is_fixed_rate)
        if is_fee_paid_by_user is not None:
            params["is_fee_paid_by_user"] = _flag(is_fee_paid_by_user)
        return self._model(MinAmount, await self._read("/min-amount", params), "GET /min-amount")

    async def estimate(self, amount: Decimal, currency_from: str, currency_to: str) -> Estimate:
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise ValueError("amount must be a positive finite Decimal")
        params = {
            "amount": format(amount, "f"),
            "currency_from": currency_from.lower(),
            "currency_to": currency_to.lower(),
        }
        return self._model(Estimate, await self._read("/estimate", params), "GET /estimate")

    async def create_payment(self, request: CreatePaymentRequest) -> Payment:
        """POST /payment, exactly once. On ``outcome_unknown`` errors the payment may exist:
        look for it by order_id (list_payments) before creating another."""
        data = await self._exchange("POST", "/payment", content=request.to_json(), unsafe=True)
        try:
            return Payment.model_validate(data)
        except ValidationError as exc:
            raise _malformed("POST /payment", exc, outcome_unknown=True) from None

    async def get_payment(self, payment_id: str | int) -> Payment:
        try:
            pid = normalize_id(payment_id)
        except ValueError:
            raise ProviderBadRequest(
                "INVALID_REQUEST_PARAMS", "Payment id must be a number", None
            ) from None
        data = await self._read(f"/payment/{pid}", jwt="fallback")
        payment = self._model(Payment, data, "GET /payment/{id}")
        self._note_unknown(payment)
        return payment

    async def list_payments(
        self,
        *,
        limit: int = 10,
        page: int = 0,
        sort_by: str | None = None,
        order_by: Literal["asc", "desc"] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        invoice_id: str | int | None = None,
    ) -> PaymentList:
        params: dict[str, str] = {"limit": str(limit), "page": str(page)}
        optional = {
            "sortBy": sort_by,
            "orderBy": order_by,
            "dateFrom": date_from,
            "dateTo": date_to,
            "invoiceId": None if invoice_id is None else str(invoice_id),
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        data = await self._read("/payment/", params, jwt="always")
        result = self._model(PaymentList, data, "GET /payment/")
        for payment in result.data:
            self._note_unknown(payment)
        return result

    # --- plumbing ------------------------------------------------------------------------------

    async def _read(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        send_key: bool = True,
        jwt: JwtMode = "never",
    ) -> Any:
        """An idempotent GET: retried on 5xx/timeouts/429, with the JWT dance when asked."""
        refreshed = False

        async def attempt() -> Any:
            nonlocal refreshed
            use_jwt = jwt == "always" or (jwt == "fallback" and self._payment_needs_jwt)
            token = await self._token() if use_jwt else None
            try:
                return await self._exchange("GET", path, params, send_key=send_key, jwt=token)
            except ProviderAuthError as exc:
                if not self._may_retry_with_jwt(exc, jwt, token, refreshed):
                    raise
            refreshed = True
            if token is None:
                logger.info("nowpayments %s asked for a JWT; sending it from now on", path)
                self._payment_needs_jwt = True
            token = await self._token(stale=token)
            return await self._exchange("GET", path, params, send_key=send_key, jwt=token)

        return await self._retrying(attempt, f"GET {path}")

    def _may_retry_with_jwt(
        self, exc: ProviderAuthError, jwt: JwtMode, sent: str | None, refreshed: bool
    ) -> bool:
        if exc.status != 401 or exc.code == INVALID_API_KEY or refreshed:
            return False
        if jwt == "never" or not self.has_credentials:
            return False
        # A 401 without our JWT only means "JWT needed" if the provider says so.
        return sent is not None or exc.code == AUTH_REQUIRED

    async def _retrying(self, fn: Callable[[], Awaitable[_T]], what: str) -> _T:
        # A fresh AsyncRetrying per call: tenacity keeps per-run state on the instance.
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_retries + 1),
            retry=retry_if_exception(self._worth_retrying),
            wait=self._wait,
            before_sleep=lambda state: _log_retry(state, what),
            reraise=True,
        )
        return await retrying(fn)

    def _worth_retrying(self, exc: BaseException) -> bool:
        if isinstance(exc, ProviderRateLimited):
            return exc.retry_after is None or exc.retry_after <= self._retry_after_max
        return isinstance(exc, ProviderUnavailable)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderRateLimited):
            return max(exc.retry_after or 0.0, self._quiet_remaining())
        # Full jitter: uniform in [0, min(cap, initial * 2**n)).
        ceiling = min(self._backoff_max, self._backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    def _quiet_remaining(self) -> float:
        return self._quiet_until - self._clock()

    async def _token(self, stale: str | None = None) -> str:
        """A cached JWT; ``stale`` is the token the server just refused (refresh unless another
        task already did)."""
        async with self._jwt_lock:
            fresh = self._jwt is not None and self._clock() < self._jwt_expires
            if self._jwt is not None and fresh and self._jwt != stale:
                return self._jwt
            if not self.has_credentials:
                raise ProviderAuthError("a JWT is needed but no email/password is configured")
            body = dumps_json({"email": self._email, "password": self._password})
            data = await self._exchange("POST", "/auth", content=body)
            reply = self._model(AuthReply, data, "POST /auth")
            self._jwt = reply.token
            self._jwt_expires = self._clock() + self._jwt_ttl
            return reply.token

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        content: bytes | None = None,
        send_key: bool = True,
        jwt: str | None = None,
        unsafe: bool = False,
    ) -> Any:
        """One request → parsed JSON, or a typed ProviderError. ``unsafe``: not idempotent, so
        any failure after the request may have reached the provider is ``outcome_unknown``."""
        headers: dict[str, str] = {}
        if send_key:
            headers["x-api-key"] = self._api_key
        if jwt is not None:
            headers["Authorization"] = f"Bearer {jwt}"
        if content is not None:
            headers["Content-Type"] = "application/json"
        if (quiet := self._quiet_remaining()) > 0:
            # Every caller shares the provider's 429: refused here, nothing sent (so the outcome
            # of a create is known), and the caller decides whether to wait.
            raise ProviderRateLimited(
                f"holding off {method} {path} for {quiet:.1f} s after a 429",
                retry_after=quiet,
                status=None,
            )
        await self.budget.acquire()
        async with self._slots:
            started = time.perf_counter()
            try:
                response = await self._http.request(
                    method, self._base_url + path, params=params, content=content, headers=headers
                )
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, method, path, started, unsafe) from None
        logger.debug(
            "nowpayments %s %s -> %s in %.1f ms",
            method,
            path,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return self._decode(response, f"{method} {path}", unsafe)

    def _transport_error(
        self, exc: httpx.HTTPError, method: str, path: str, started: float, unsafe: bool
    ) -> ProviderError:
        elapsed = (time.perf_counter() - started) * 1000
        logger.debug(
            "nowpayments %s %s -> %s after %.1f ms", method, path, type(exc).__name__, elapsed
        )
        if isinstance(exc, httpx.DecodingError):
            return MalformedReply(f"undecodable reply to {method} {path}", outcome_unknown=unsafe)
        # Connect errors mean nothing was sent; anything later may have been processed.
        unknown = unsafe and not isinstance(exc, _NOT_SENT)
        return ProviderUnavailable(
            f"{type(exc).__name__} on {method} {path}" + ("; outcome unknown" if unknown else ""),
            outcome_unknown=unknown,
        )

    def _decode(self, response: httpx.Response, what: str, unsafe: bool) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return loads_json(response.content)
            except (ValueError, RecursionError) as exc:
                raise MalformedReply(
                    f"unreadable JSON in reply to {what}: {type(exc).__name__}"
                    + ("; outcome unknown" if unsafe else ""),
                    status=status,
                    outcome_unknown=unsafe,
                ) from None
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:  # a bogus "wait a year" must not silence us for good
                retry_after = min(retry_after, self._retry_after_cap)
            pause = self._rate_limit_pause if retry_after is None else retry_after
            self._quiet_until = max(self._quiet_until, self._clock() + pause)
            raise ProviderRateLimited(f"rate limited on {what}", retry_after=retry_after)
        if status >= 500:
            raise ProviderUnavailable(
                f"HTTP {status} on {what}" + ("; outcome unknown" if unsafe else ""),
                status=status,
                outcome_unknown=unsafe,
            )
        code, message = self._error_details(response.content)
        text = f"HTTP {status} on {what}: {code or '-'}: {message}"
        if status in (401, 403):
            raise ProviderAuthError(text, status=status, code=code)
        if 400 <= status < 500:
            cls = MinimumAmountError if code == AMOUNT_MINIMAL_ERROR else ProviderBadRequest
            raise cls(code, text, status)
        raise MalformedReply(f"unexpected HTTP {status} on {what}", status=status)

    def _error_details(self, body: bytes) -> tuple[str | None, str]:
        try:
            parsed = ErrorBody.model_validate(loads_json(body))
            code, message = parsed.code, parsed.message or parsed.error or ""
        except (ValueError, RecursionError):  # ValidationError is a ValueError
            code, message = None, body[:_MAX_MESSAGE].decode("utf-8", "replace")
        return code, self._redact(message)[:_MAX_MESSAGE]

    def _redact(self, text: str) -> str:
        for secret in (self._api_key, self._jwt, self._password):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _model(self, model: type[_ModelT], data: Any, what: str) -> _ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _malformed(what, exc) from None

    def _note_unknown(self, payment: Payment) -> None:
        if payment.known_status is None:
            logger.warning(
                "nowpayments payment %s has unknown status %r (treated as non-final)",
                payment.payment_id,
                payment.payment_status,
            )


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _malformed(
    what: str, exc: ValidationError, *, outcome_unknown: bool = False
) -> MalformedReply:
    # Only locations and messages: the offending values stay out of logs.
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return MalformedReply(
        f"unexpected reply to {what}: {exc.error_count()} problem(s), first at {where}: "
        f"{first['msg']}" + ("; outcome unknown" if outcome_unknown else ""),
        outcome_unknown=outcome_unknown,
    )


def _log_retry(state: RetryCallState, what: str) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning(
        "nowpayments %s failed (%s), retry %d in %.2f s",
        what,
        type(exc).__name__,
        state.attempt_number,
        state.upcoming_sleep,
    )
