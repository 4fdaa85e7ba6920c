"""A local NOWPayments: a real HTTP server on 127.0.0.1 that plays the documented API.

Usable from fixtures and benchmark scripts::

    async with FakeNowPayments() as fake:
        client = NowPaymentsClient(fake.api_key, fake.base_url, email=fake.email, ...)
        pid = fake.add_payment(Decimal("25"), "btc", order_id="dep-1")
        fake.play(pid, "finished")        # each GET /payment/{id} advances one step
        fake.inject("get_payment", Fault.SERVER_ERROR, count=2)
        fake.heal()

Shapes follow /work/shared/nowpayments-api.md: 201 on create, payment_id a string in the create
reply and a number in status/list replies, the ``{"status":false,"statusCode",...}`` error body.
Where the doc has open questions the fake can play both readings (``bad_key_status``,
``get_payment_requires_jwt``, ``currencies_as_objects``, ``purchase_id_as_number``).
Every request is O(1) except list_payments with date filters or an unusual sortBy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from enum import StrEnum
from itertools import islice
from types import TracebackType
from typing import Any, Self

from aiohttp import web

DEFAULT_API_KEY = "FAKEKEY-0000001-0000002-0000003"
DEFAULT_EMAIL = "merchant@example.com"
DEFAULT_PASSWORD = "fake-dashboard-password"

ENDPOINTS = (
    "status",
    "currencies",
    "full_currencies",
    "merchant_coins",
    "min_amount",
    "estimate",
    "create_payment",
    "get_payment",
    "list_payments",
    "auth",
)
ANY_ENDPOINT = "*"

FIAT_USD: dict[str, Decimal] = {
    "usd": Decimal("1"),
    "eur": Decimal("1.08"),
    "gbp": Decimal("1.27"),
    "cad": Decimal("0.73"),
    "aud": Decimal("0.66"),
}


@dataclass(frozen=True)
class Coin:
    code: str
    name: str
    usd_rate: Decimal  # USD per coin
    precision: int
    min_usd: Decimal
    network: str
    address_prefix: str
    extra_id: bool = False
    enabled: bool = True
    selected: bool = True  # shown by /merchant/coins


DEFAULT_COINS: tuple[Coin, ...] = (
    Coin("btc", "Bitcoin", Decimal("23430.5"), 8, Decimal("2"), "btc", "bc1q"),
    Coin("eth", "Ethereum", Decimal("1650.25"), 8, Decimal("5"), "eth", "0x"),
    Coin("ltc", "Litecoin", Decimal("92.4"), 8, Decimal("0.5"), "ltc", "ltc1q"),
    Coin("trx", "Tron", Decimal("0.0302"), 6, Decimal("1"), "trx", "T"),
    Coin("usdttrc20", "Tether USD (Tron)", Decimal("1"), 6, Decimal("1"), "trx", "T"),
    Coin("xrp", "Ripple", Decimal("0.52"), 6, Decimal("1"), "xrp", "r", extra_id=True),
    Coin("doge", "Dogecoin", Decimal("0.0841"), 8, Decimal("1"), "doge", "D", selected=False),
)
# Fixed-rate and fee-paid-by-user flows have higher minimums.
FIXED_RATE_MIN_FACTOR = Decimal("1.5")
OUTCOME_FEE = Decimal("0.005")


class Fault(StrEnum):
    HANG = "hang"  # no answer until heal()/stop (the client times out)
    SERVER_ERROR = "server_error"  # 500 JSON body; 502/503/504 an HTML page
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After
    UNAUTHORIZED = "unauthorized"  # 401 (code AUTH_REQUIRED unless given)
    NOT_JSON = "not_json"  # 200 with an HTML body
    TRUNCATED = "truncated"  # the normal reply cut in half
    NAN_STRING = "nan_string"  # amounts as the string "NaN"
    NAN_TOKEN = "nan_token"  # amounts as a bare NaN token
    RAW = "raw"  # the given status and body


# These corrupt the normal reply, so the request is processed first (a payment gets created).
_CORRUPTING = frozenset({Fault.TRUNCATED, Fault.NAN_STRING, Fault.NAN_TOKEN})
_AMOUNT_KEYS = frozenset(
    {
        "price_amount",
        "pay_amount",
        "actually_paid",
        "actually_paid_at_fiat",
        "outcome_amount",
        "amount_received",
        "min_amount",
        "fiat_equivalent",
        "amount_from",
        "estimated_amount",
    }
)
SANDBOX_CASES = {
    "success": "finished",
    "partially_paid": "partially_paid",
    "fail": "failed",
    "failed": "failed",
    "failure": "failed",
}


@dataclass
class _FaultRule:
    fault: Fault
    rate: float
    remaining: int | None
    status: int | None
    retry_after: str | None
    body: bytes | None
    code: str | None
    after: bool
    hang_seconds: float


@dataclass(frozen=True)
class Step:
    """One scripted poll result. ``None`` leaves a field unchanged; ``fields`` are extra or
    overriding keys put into status/list replies as they are."""

    status: str
    actually_paid: Decimal | None = None
    outcome_amount: Decimal | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FakePayment:
    payment_id: int
    status: str
    coin: Coin
    pay_address: str
    payin_extra_id: str | None
    price_amount: Decimal
    price_currency: str
    pay_amount: Decimal
    order_id: str | None
    order_description: str | None
    purchase_id: int
    ipn_callback_url: str | None
    is_fixed_rate: bool
    is_fee_paid_by_user: bool
    created_at: datetime
    updated_at: datetime
    valid_until: datetime
    expiration_estimate_date: datetime
    actually_paid: Decimal = Decimal(0)
    outcome_amount: Decimal | None = None
    parent_payment_id: int | None = None
    invoice_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    script: deque[Step] = field(default_factory=deque)


class _Raw:
    """A bare JSON token written as is (to emit NaN)."""

    def __init__(self, token: str) -> None:
        self.token = token


# A bare NaN token, for FakeNowPayments.garble(pid, price_amount=NAN_TOKEN).
NAN_TOKEN: Any = _Raw("NaN")


def many_coins(count: int) -> tuple[Coin, ...]:
    """``count`` made-up selected coins (``c000``, ``c001``…), for catalogue syncs at scale."""
    return tuple(
        Coin(f"c{i:03d}", f"Coin {i}", Decimal("1.5"), 8, Decimal("2"), f"c{i:03d}", "x")
        for i in range(count)
    )


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def dumps(value: Any) -> bytes:
    """JSON with Decimals as exact numbers (as the provider writes them)."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, _Raw):
        return value.token
    if isinstance(value, Decimal):
        return format(value.normalize() if value == value.to_integral() else value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _q(value: Decimal, places: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=rounding)


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _ApiError(400, "INVALID_REQUEST_PARAMS", f'"{name}" must be a number')
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise _ApiError(400, "INVALID_REQUEST_PARAMS", f'"{name}" must be a number') from None
    if not result.is_finite() or result <= 0:
        raise _ApiError(400, "INVALID_REQUEST_PARAMS", f'"{name}" must be positive')
    return result


def scenario_steps(name: str, pay_amount: Decimal, precision: int = 8) -> list[Step]:
    """Built-in poll sequences. Names: finished, partially_paid, overpaid, expired, failed,
    refunded, unknown (a status the client does not know: "spending"), paid_late (expired, then
    paid in full), overpaid_1000x, finished_unpaid (finished with actually_paid 0)."""

    def outcome(paid: Decimal) -> Decimal:
        return _q(paid * (1 - OUTCOME_FEE), precision, ROUND_DOWN)

    full = pay_amount
    half = _q(pay_amount / 2, precision, ROUND_DOWN)
    over = _q(pay_amount * Decimal("1.2"), precision, ROUND_DOWN)
    tiny = _q(pay_amount / 100, precision, ROUND_DOWN)
    scenarios: dict[str, list[Step]] = {
        "finished": [
            Step("waiting"),
            Step("confirming", actually_paid=full),
            Step("confirmed"),
            Step("sending"),
            Step("finished", actually_paid=full, outcome_amount=outcome(full)),
        ],
        "partially_paid": [
            Step("waiting"),
            Step("confirming", actually_paid=half),
            Step("partially_paid", actually_paid=half, outcome_amount=outcome(half)),
        ],
        "overpaid": [
            Step("waiting"),
            Step("confirming", actually_paid=over),
            Step("confirmed"),
            Step("sending"),
            Step("finished", actually_paid=over, outcome_amount=outcome(over)),
        ],
        "expired": [Step("waiting"), Step("expired")],
        # Money that comes after the payment expired (the provider's window is 7 days).
        "paid_late": [
            Step("waiting"),
            Step("expired"),
            Step("confirming", actually_paid=full),
            Step("finished", actually_paid=full, outcome_amount=outcome(full)),
        ],
        "overpaid_1000x": [
            Step("waiting"),
            Step("finished", actually_paid=full * 1000, outcome_amount=outcome(full * 1000)),
        ],
        "finished_unpaid": [Step("waiting"), Step("finished", actually_paid=Decimal(0))],
        "failed": [Step("waiting"), Step("confirming", actually_paid=tiny), Step("failed")],
        "refunded": [
            Step("waiting"),
            Step("confirming", actually_paid=full),
            Step("refunded"),
        ],
        "unknown": [Step("waiting"), Step("spending", actually_paid=full)],
    }
    if name not in scenarios:
        raise ValueError(f"unknown scenario {name!r}; known: {sorted(scenarios)}")
    return scenarios[name]


Handler = Callable[[web.Request], Awaitable[tuple[int, Any]]]


class FakeNowPayments:
    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        email: str = DEFAULT_EMAIL,
        password: str = DEFAULT_PASSWORD,
        token_ttl: float = 300.0,
        bad_key_status: int = 403,
        get_payment_requires_jwt: bool = False,
        currencies_as_objects: bool = False,
        purchase_id_as_number: bool = False,
        coins: Iterable[Coin] = DEFAULT_COINS,
        seed: int | None = 0,
        latency: float = 0.0,
        first_payment_id: int = 5_000_000_001,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.email = email
        self.password = password
        self.token_ttl = token_ttl
        self.bad_key_status = bad_key_status
        self.get_payment_requires_jwt = get_payment_requires_jwt
        self.currencies_as_objects = currencies_as_objects
        self.purchase_id_as_number = purchase_id_as_number
        self.latency = latency
        self.coins: dict[str, Coin] = {coin.code: coin for coin in coins}
        # Per-endpoint request counts and (loop time, endpoint) of recent requests.
        self.requests: Counter[str] = Counter()
        self.request_times: deque[tuple[float, str]] = deque(maxlen=100_000)
        self.issued_tokens: list[str] = []
        self._host = host
        self._rng = random.Random(seed)
        self._faults: dict[str, list[_FaultRule]] = {}
        self._tokens: dict[str, float] = {}
        self._payments: dict[int, FakePayment] = {}
        self._by_order: dict[str, list[int]] = {}
        self._by_purchase: dict[int, list[int]] = {}
        self._by_invoice: dict[int, list[int]] = {}
        self._next_id = first_payment_id
        self._next_purchase = first_payment_id + 1_000_000_000
        self._unhang = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application()
        routes: list[tuple[str, str, str, Handler, bool, bool]] = [
            ("GET", "/v1/status", "status", self._status, False, False),
            ("GET", "/v1/currencies", "currencies", self._currencies, True, False),
            ("GET", "/v1/full-currencies", "full_currencies", self._full_currencies, True, False),
            ("GET", "/v1/merchant/coins", "merchant_coins", self._merchant_coins, True, False),
            ("GET", "/v1/min-amount", "min_amount", self._min_amount, True, False),
            ("GET", "/v1/estimate", "estimate", self._estimate, True, False),
            ("POST", "/v1/payment", "create_payment", self._create_payment, True, False),
            ("GET", "/v1/payment/", "list_payments", self._list_payments, True, True),
            ("GET", "/v1/payment", "list_payments", self._list_payments, True, True),
            ("GET", "/v1/payment/{payment_id}", "get_payment", self._get_payment, True, False),
            ("POST", "/v1/auth", "auth", self._auth, False, False),
        ]
        for method, path, name, handler, key, jwt in routes:
            app.router.add_route(method, path, self._endpoint(name, handler, key=key, jwt=jwt))
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        self._port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock, backlog=2048).start()

    async def stop(self) -> None:
        self._unhang.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeNowPayments is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/v1"

    # --- scripting -----------------------------------------------------------------------------

    def inject(
        self,
        endpoint: str,
        fault: Fault,
        *,
        rate: float = 1.0,
        count: int | None = None,
        status: int | None = None,
        retry_after: float | str | None = None,
        body: bytes | str | None = None,
        code: str | None = None,
        after: bool = False,
        hang_seconds: float = 3600.0,
    ) -> None:
        """Fail requests to ``endpoint`` (a name from ENDPOINTS, or "*"): each with probability
        ``rate`` (seeded), at most ``count`` times. ``after``: process the request first (a
        payment is created, a script step consumed), then fail the reply."""
        if endpoint != ANY_ENDPOINT and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self._faults.setdefault(endpoint, []).append(
            _FaultRule(
                fault=fault,
                rate=rate,
                remaining=count,
                status=status,
                retry_after=None if retry_after is None else str(retry_after),
                body=body.encode() if isinstance(body, str) else body,
                code=code,
                after=after,
                hang_seconds=hang_seconds,
            )
        )
        self._unhang.clear()

    def reply_once(self, endpoint: str, status: int, body: bytes | str) -> None:
        """Answer the next request to ``endpoint`` with exactly this status and body."""
        self.inject(endpoint, Fault.RAW, count=1, status=status, body=body)

    def heal(self) -> None:
        """Clear every fault and release hanging requests."""
        self._faults.clear()
        self._unhang.set()

    def expire_tokens(self) -> None:
        """Forget every issued JWT (the next use answers 401)."""
        self._tokens.clear()

    def set_rate(self, code: str, usd_rate: Decimal) -> None:
        self.coins[code] = replace(self.coins[code], usd_rate=usd_rate)

    def set_min_usd(self, code: str, min_usd: Decimal) -> None:
        self.coins[code] = replace(self.coins[code], min_usd=min_usd)

    def set_enabled(self, code: str, enabled: bool) -> None:
        self.coins[code] = replace(self.coins[code], enabled=enabled)

    def add_payment(
        self,
        price_amount: Decimal,
        pay_currency: str = "btc",
        *,
        price_currency: str = "usd",
        order_id: str | None = None,
        order_description: str | None = None,
        status: str = "waiting",
        parent_payment_id: str | int | None = None,
        invoice_id: int | None = None,
        is_fixed_rate: bool = False,
    ) -> str:
        """Create a payment in memory without HTTP (fast set-up for benchmarks)."""
        coin = self.coins[pay_currency.lower()]
        pay_amount = _q(
            price_amount * FIAT_USD[price_currency.lower()] / coin.usd_rate, coin.precision
        )
        payment = self._store(
            coin=coin,
            price_amount=price_amount,
            price_currency=price_currency.lower(),
            pay_amount=pay_amount,
            order_id=order_id,
            order_description=order_description,
            purchase_id=None,
            ipn_callback_url=None,
            is_fixed_rate=is_fixed_rate,
            is_fee_paid_by_user=False,
        )
        payment.status = status
        payment.parent_payment_id = None if parent_payment_id is None else int(parent_payment_id)
        if invoice_id is not None:
            payment.invoice_id = invoice_id
            self._by_invoice.setdefault(invoice_id, []).append(payment.payment_id)
        return str(payment.payment_id)

    def add_child_payment(
        self, parent_id: str | int, actually_paid: Decimal, *, status: str = "partially_paid"
    ) -> str:
        """A repeated deposit to a parent's address: a new payment with parent_payment_id,
        converted at the current rate, same address and order_id as the parent."""
        parent = self.payment(parent_id)
        coin = self.coins[parent.coin.code]
        usd = actually_paid * coin.usd_rate / FIAT_USD.get(parent.price_currency, Decimal(1))
        child = self._store(
            coin=coin,
            price_amount=_q(usd, 2),
            price_currency=parent.price_currency,
            pay_amount=actually_paid,
            order_id=parent.order_id,
            order_description=parent.order_description,
            purchase_id=parent.purchase_id,
            ipn_callback_url=parent.ipn_callback_url,
            is_fixed_rate=False,
            is_fee_paid_by_user=False,
        )
        child.pay_address = parent.pay_address
        child.payin_extra_id = parent.payin_extra_id
        child.parent_payment_id = parent.payment_id
        child.status = status
        child.actually_paid = actually_paid
        child.outcome_amount = _q(actually_paid * (1 - OUTCOME_FEE), coin.precision, ROUND_DOWN)
        return str(child.payment_id)

    def garble(self, payment_id: str | int, **fields: Any) -> None:
        """Reply with these raw field values for this payment (get and list): NAN_TOKEN, "NaN",
        a wrong type, None for a required field…"""
        self.payment(payment_id).extra.update(fields)

    def payment(self, payment_id: str | int) -> FakePayment:
        return self._payments[int(payment_id)]

    def forget(self, payment_id: str | int) -> None:
        """The provider no longer knows this payment: GET answers 404."""
        del self._payments[int(payment_id)]

    def find_by_order_id(self, order_id: str) -> list[FakePayment]:
        return [self._payments[pid] for pid in self._by_order.get(order_id, [])]

    def __len__(self) -> int:
        return len(self._payments)

    def script(self, payment_id: str | int, steps: Iterable[Step | str]) -> None:
        """Queue poll results: each GET /payment/{id} applies the next step, then answers."""
        self.payment(payment_id).script.extend(
            Step(step) if isinstance(step, str) else step for step in steps
        )

    def play(self, payment_id: str | int, scenario: str) -> None:
        """Script a built-in scenario (see ``scenario_steps``)."""
        payment = self.payment(payment_id)
        self.script(
            payment_id, scenario_steps(scenario, payment.pay_amount, payment.coin.precision)
        )

    def set_status(
        self,
        payment_id: str | int,
        status: str,
        *,
        actually_paid: Decimal | None = None,
        outcome_amount: Decimal | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the state now (drops any pending script). ``fields`` go into replies as they are
        (e.g. ``{"payment_id": "00123"}`` to send the id as a string, ``{"payin_hash": ..}``)."""
        payment = self.payment(payment_id)
        payment.script.clear()
        self._apply(payment, Step(status, actually_paid, outcome_amount, dict(fields or {})))

    # --- request plumbing ----------------------------------------------------------------------

    def _endpoint(
        self, name: str, handler: Handler, *, key: bool, jwt: bool
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            self.requests[name] += 1
            self.request_times.append((time.monotonic(), name))
            if self.latency:
                await asyncio.sleep(self.latency)
            rule = self._pick_fault(name)
            if rule is not None and not rule.after and rule.fault not in _CORRUPTING:
                return await self._fault_reply(rule, 200, None)
            try:
                self._check_auth(request, name, key=key, jwt=jwt)
                status, payload = await handler(request)
            except _ApiError as exc:
                return _error(exc.status, exc.code, exc.message)
            if rule is not None:
                return await self._fault_reply(rule, status, payload)
            return _json(status, payload)

        return endpoint

    def _pick_fault(self, name: str) -> _FaultRule | None:
        for endpoint in (name, ANY_ENDPOINT):
            rules = self._faults.get(endpoint)
            if not rules:
                continue
            for rule in rules:
                if rule.remaining == 0:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None

    async def _fault_reply(
        self, rule: _FaultRule, status: int, payload: Any
    ) -> web.StreamResponse:
        fault = rule.fault
        if fault is Fault.HANG:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._unhang.wait(), rule.hang_seconds)
            return _error(504, "GATEWAY_TIMEOUT", "Gateway timeout")
        if fault is Fault.SERVER_ERROR:
            code = rule.status or 500
            if code == 500:
                return _error(500, rule.code or "INTERNAL_ERROR", "Internal server error")
            html = f"<html><body><h1>{code} Bad Gateway</h1></body></html>"
            return web.Response(status=code, text=html, content_type="text/html")
        if fault is Fault.RATE_LIMIT:
            response = _error(429, rule.code or "TOO_MANY_REQUESTS", "Too many requests")
            if rule.retry_after is not None:
                response.headers["Retry-After"] = rule.retry_after
            return response
        if fault is Fault.UNAUTHORIZED:
            return _error(
                rule.status or 401,
                rule.code or "AUTH_REQUIRED",
                "Authorization header is empty (Bearer JWTtoken is required)",
            )
        if fault is Fault.NOT_JSON:
            return web.Response(
                status=rule.status or 200,
                text="<html>maintenance</html>",
                content_type="text/html",
            )
        if fault is Fault.RAW:
            return web.Response(
                status=rule.status or 200, body=rule.body or b"", content_type="application/json"
            )
        if fault is Fault.TRUNCATED:
            body = dumps(payload)
            return _raw_json(status, body[: max(1, len(body) // 2)])
        nan: Any = "NaN" if fault is Fault.NAN_STRING else _Raw("NaN")
        return _raw_json(status, dumps(_replace_amounts(payload, nan)))

    def _check_auth(self, request: web.Request, name: str, *, key: bool, jwt: bool) -> None:
        if key and request.headers.get("x-api-key") != self.api_key:
            raise _ApiError(self.bad_key_status, "INVALID_API_KEY", "Invalid api key")
        if jwt or (name == "get_payment" and self.get_payment_requires_jwt):
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                raise _ApiError(
                    401,
                    "AUTH_REQUIRED",
                    "Authorization header is empty (Bearer JWTtoken is required)",
                )
            expires = self._tokens.get(header.removeprefix("Bearer ").strip())
            if expires is None or expires < time.monotonic():
                raise _ApiError(401, "INVALID_TOKEN", "jwt expired")

    # --- endpoints -----------------------------------------------------------------------------

    async def _status(self, request: web.Request) -> tuple[int, Any]:
        return 200, {"message": "OK"}

    async def _auth(self, request: web.Request) -> tuple[int, Any]:
        body = await _body(request)
        if body.get("email") != self.email or body.get("password") != self.password:
            raise _ApiError(401, "INVALID_CREDENTIALS", "Invalid email or password")
        token = "eyJ" + secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + self.token_ttl
        self.issued_tokens.append(token)
        return 200, {"token": token}

    async def _currencies(self, request: web.Request) -> tuple[int, Any]:
        enabled = [coin for coin in self.coins.values() if coin.enabled]
        if request.query.get("fixed_rate") == "true" and self.currencies_as_objects:
            items: list[Any] = [
                {
                    "currency": coin.code,
                    "min_amount": self._min_in_coin(coin, fixed=True),
                    "max_amount": _q(Decimal(50_000) / coin.usd_rate, coin.precision),
                }
                for coin in enabled
            ]
            return 200, {"currencies": items}
        return 200, {"currencies": [coin.code for coin in enabled]}

    async def _full_currencies(self, request: web.Request) -> tuple[int, Any]:
        items = [
            {
                "id": index,
                "code": coin.code.upper(),
                "name": coin.name,
                "enable": coin.enabled,
                "wallet_regex": None,
                "priority": index,
                "extra_id_exists": coin.extra_id,
                "extra_id_regex": "^[0-9]{1,10}$" if coin.extra_id else None,
                "logo_url": f"/images/coins/{coin.code}.svg",
                "track": True,
                "cg_id": coin.name.lower(),
                "is_maxlimit": False,
                "network": coin.network,
                "smart_contract": None,
                "network_precision": coin.precision,
            }
            for index, coin in enumerate(self.coins.values(), start=1)
        ]
        return 200, {"currencies": items}

    async def _merchant_coins(self, request: web.Request) -> tuple[int, Any]:
        codes = [c.code.upper() for c in self.coins.values() if c.enabled and c.selected]
        return 200, {"selectedCurrencies": codes}

    async def _min_amount(self, request: web.Request) -> tuple[int, Any]:
        query = request.query
        if not query.get("currency_from"):
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", "currency_from is required")
        if not query.get("currency_to"):
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", "currency_to is required")
        coin = self._coin(query["currency_from"])
        self._coin(query["currency_to"])
        fixed = "true" in (query.get("is_fixed_rate"), query.get("is_fee_paid_by_user"))
        reply: dict[str, Any] = {
            "currency_from": coin.code,
            "currency_to": query["currency_to"].lower(),
            "min_amount": self._min_in_coin(coin, fixed=fixed),
        }
        fiat = query.get("fiat_equivalent", "").lower()
        if fiat:
            rate = FIAT_USD.get(fiat)
            if rate is None:
                raise _ApiError(400, "INVALID_REQUEST_PARAMS", f"unknown fiat {fiat}")
            reply["fiat_equivalent"] = _q(self._min_usd(coin, fixed=fixed) / rate, 8)
        return 200, reply

    async def _estimate(self, request: web.Request) -> tuple[int, Any]:
        query = request.query
        amount = _decimal(query.get("amount"), "amount")
        source, target = query.get("currency_from", ""), query.get("currency_to", "")
        usd = amount * self._usd_price(source)
        places = 2 if target.lower() in FIAT_USD else self._coin(target).precision
        return 200, {
            "currency_from": source.lower(),
            "amount_from": amount,
            "currency_to": target.lower(),
            "estimated_amount": _q(usd / self._usd_price(target), places),
        }

    async def _create_payment(self, request: web.Request) -> tuple[int, Any]:
        body = await _body(request)
        price_amount = _decimal(body.get("price_amount"), "price_amount")
        price_currency = str(body.get("price_currency") or "").lower()
        if not price_currency:
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", '"price_currency" is required')
        if not body.get("pay_currency"):
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", '"pay_currency" is required')
        coin = self._coin(str(body["pay_currency"]))
        url = body.get("ipn_callback_url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", '"ipn_callback_url" must be a uri')
        fixed = bool(body.get("is_fixed_rate") or body.get("fixed_rate"))
        fee_by_user = bool(body.get("is_fee_paid_by_user"))
        case = body.get("case")
        if case is not None and case not in SANDBOX_CASES:
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", f"unknown case {case}")
        usd = price_amount * self._usd_price(price_currency)
        if usd < self._min_usd(coin, fixed=fixed or fee_by_user):
            raise _ApiError(400, "AMOUNT_MINIMAL_ERROR", "amountTo is too small")
        pay_amount = (
            _decimal(body["pay_amount"], "pay_amount")
            if body.get("pay_amount") is not None
            else _q(usd / coin.usd_rate, coin.precision)
        )
        purchase_id = self._purchase_for(body.get("purchase_id"))
        payment = self._store(
            coin=coin,
            price_amount=price_amount,
            price_currency=price_currency,
            pay_amount=pay_amount,
            order_id=_opt_str(body.get("order_id")),
            order_description=_opt_str(body.get("order_description")),
            purchase_id=purchase_id,
            ipn_callback_url=_opt_str(url),
            is_fixed_rate=fixed or fee_by_user,
            is_fee_paid_by_user=fee_by_user,
        )
        if case is not None:
            self.play(payment.payment_id, SANDBOX_CASES[case])
        return 201, self._created_json(payment)

    async def _get_payment(self, request: web.Request) -> tuple[int, Any]:
        raw = request.match_info["payment_id"]
        if not raw.isascii() or not raw.isdigit():
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", "Payment id must be a number")
        payment = self._payments.get(int(raw))
        if payment is None:
            raise _ApiError(404, "PAYMENT_NOT_FOUND", "Payment not found")
        if payment.script:
            self._apply(payment, payment.script.popleft())
        return 200, self._status_json(payment)

    async def _list_payments(self, request: web.Request) -> tuple[int, Any]:
        query = request.query
        try:
            limit = int(query.get("limit", "10"))
            page = int(query.get("page", "0"))
        except ValueError:
            raise _ApiError(
                400, "INVALID_REQUEST_PARAMS", "limit and page must be numbers"
            ) from None
        if not 1 <= limit <= 500 or page < 0:
            raise _ApiError(400, "INVALID_REQUEST_PARAMS", "limit 1..500, page >= 0")
        sort_by = query.get("sortBy", "created_at")
        descending = query.get("orderBy", "asc") == "desc"
        selected, total = self._select(query, sort_by, descending, page * limit, limit)
        return 200, {
            "data": [self._status_json(p, with_created=False) for p in selected],
            "limit": limit,
            "page": page,
            "pagesCount": math.ceil(total / limit),
            "total": total,
        }

    # --- helpers -------------------------------------------------------------------------------

    def _select(
        self, query: Mapping[str, str], sort_by: str, descending: bool, start: int, limit: int
    ) -> tuple[list[FakePayment], int]:
        invoice = query.get("invoiceId")
        date_from, date_to = query.get("dateFrom"), query.get("dateTo")
        default_order = sort_by in ("created_at", "payment_id")
        if not (invoice or date_from or date_to or not default_order):
            # The common case stays O(page): ids are increasing in insertion order.
            values = self._payments.values()
            ordered = reversed(values) if descending else iter(values)
            return list(islice(ordered, start, start + limit)), len(self._payments)
        if invoice:
            ids = self._by_invoice.get(int(invoice), []) if invoice.isdigit() else []
            items = [self._payments[pid] for pid in ids]
        else:
            items = list(self._payments.values())
        low = _parse_day(date_from) if date_from else None
        high = _parse_day(date_to) if date_to else None
        items = [
            p
            for p in items
            if (low is None or p.created_at >= low) and (high is None or p.created_at < high)
        ]
        if not default_order:
            items.sort(key=lambda p: _sort_key(self._status_json(p).get(sort_by)))
        if descending:
            items.reverse()
        return items[start : start + limit], len(items)

    def _coin(self, code: str) -> Coin:
        coin = self.coins.get(code.lower())
        if coin is None or not coin.enabled:
            raise _ApiError(400, "CURRENCY_UNAVAILABLE", f"Currency {code} is not available")
        return coin

    def _usd_price(self, code: str) -> Decimal:
        fiat = FIAT_USD.get(code.lower())
        return fiat if fiat is not None else self._coin(code).usd_rate

    def _min_usd(self, coin: Coin, *, fixed: bool) -> Decimal:
        return coin.min_usd * (FIXED_RATE_MIN_FACTOR if fixed else 1)

    def _min_in_coin(self, coin: Coin, *, fixed: bool = False) -> Decimal:
        return _q(self._min_usd(coin, fixed=fixed) / coin.usd_rate, coin.precision, ROUND_UP)

    def _purchase_for(self, raw: Any) -> int | None:
        if raw is None:
            return None
        text = str(raw)
        ids = self._by_purchase.get(int(text), []) if text.isdigit() else []
        if not any(self._payments[pid].status == "partially_paid" for pid in ids):
            raise _ApiError(
                400, "INVALID_REQUEST_PARAMS", "purchase_id works only for partially_paid payments"
            )
        return int(text)

    def _store(
        self,
        *,
        coin: Coin,
        price_amount: Decimal,
        price_currency: str,
        pay_amount: Decimal,
        order_id: str | None,
        order_description: str | None,
        purchase_id: int | None,
        ipn_callback_url: str | None,
        is_fixed_rate: bool,
        is_fee_paid_by_user: bool,
    ) -> FakePayment:
        pid = self._next_id
        self._next_id += 1
        if purchase_id is None:
            purchase_id = self._next_purchase
            self._next_purchase += 1
        now = datetime.now(UTC)
        life = timedelta(minutes=20) if is_fixed_rate else timedelta(days=7)
        payment = FakePayment(
            payment_id=pid,
            status="waiting",
            coin=coin,
            pay_address=_address(coin, pid),
            payin_extra_id=str(pid % 1_000_000_000) if coin.extra_id else None,
            price_amount=price_amount,
            price_currency=price_currency,
            pay_amount=pay_amount,
            order_id=order_id,
            order_description=order_description,
            purchase_id=purchase_id,
            ipn_callback_url=ipn_callback_url,
            is_fixed_rate=is_fixed_rate,
            is_fee_paid_by_user=is_fee_paid_by_user,
            created_at=now,
            updated_at=now,
            valid_until=now + life,
            expiration_estimate_date=now + timedelta(days=1),
        )
        self._payments[pid] = payment
        if order_id is not None:
            self._by_order.setdefault(order_id, []).append(pid)
        self._by_purchase.setdefault(purchase_id, []).append(pid)
        return payment

    def _apply(self, payment: FakePayment, step: Step) -> None:
        payment.status = step.status
        if step.actually_paid is not None:
            payment.actually_paid = step.actually_paid
        if step.outcome_amount is not None:
            payment.outcome_amount = step.outcome_amount
        payment.extra.update(step.fields)
        payment.updated_at = datetime.now(UTC)

    def _common_json(self, p: FakePayment) -> dict[str, Any]:
        return {
            "payment_status": p.status,
            "pay_address": p.pay_address,
            "price_amount": p.price_amount,
            "price_currency": p.price_currency,
            "pay_amount": p.pay_amount,
            "pay_currency": p.coin.code,
            "order_id": p.order_id,
            "order_description": p.order_description,
        }

    def _created_json(self, p: FakePayment) -> dict[str, Any]:
        return {
            "payment_id": str(p.payment_id),
            **self._common_json(p),
            "ipn_callback_url": p.ipn_callback_url,
            "created_at": _iso(p.created_at),
            "updated_at": _iso(p.updated_at),
            "purchase_id": str(p.purchase_id),
            "amount_received": _q(p.pay_amount * (1 - OUTCOME_FEE), p.coin.precision),
            "payin_extra_id": p.payin_extra_id,
            "smart_contract": "",
            "network": p.coin.network,
            "network_precision": p.coin.precision,
            "time_limit": None,
            "burning_percent": None,
            "expiration_estimate_date": _iso(p.expiration_estimate_date),
            "valid_until": _iso(p.valid_until),
            "type": "crypto2crypto",
            "is_fixed_rate": p.is_fixed_rate,
            "is_fee_paid_by_user": p.is_fee_paid_by_user,
        }

    def _status_json(self, p: FakePayment, *, with_created: bool = True) -> dict[str, Any]:
        fiat_rate = FIAT_USD.get(p.price_currency, Decimal(1))
        reply: dict[str, Any] = {
            "payment_id": p.payment_id,
            "invoice_id": p.invoice_id,
            **self._common_json(p),
            "actually_paid": p.actually_paid,
            "actually_paid_at_fiat": _q(p.actually_paid * p.coin.usd_rate / fiat_rate, 8),
            "purchase_id": p.purchase_id if self.purchase_id_as_number else str(p.purchase_id),
            "parent_payment_id": p.parent_payment_id,
            "payin_extra_id": p.payin_extra_id,
            "outcome_amount": p.outcome_amount,
            "outcome_currency": p.coin.code,
            "updated_at": _iso(p.updated_at),
            "valid_until": _iso(p.valid_until),
            "network": p.coin.network,
        }
        if with_created:
            reply["created_at"] = _iso(p.created_at)
        reply.update(p.extra)
        return reply


# --- module helpers ----------------------------------------------------------------------------


def _json(status: int, payload: Any) -> web.Response:
    return _raw_json(status, dumps(payload))


def _raw_json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(status, {"status": False, "statusCode": status, "code": code, "message": message})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.read(), parse_float=Decimal)
    except ValueError:
        raise _ApiError(400, "INVALID_REQUEST_PARAMS", "Body must be JSON") from None
    if not isinstance(data, dict):
        raise _ApiError(400, "INVALID_REQUEST_PARAMS", "Body must be a JSON object")
    return data


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _address(coin: Coin, pid: int) -> str:
    if coin.address_prefix == "0x":
        return f"0x{pid:040x}"
    return f"{coin.address_prefix}{pid:0>33}"[:34]


def _parse_day(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sort_key(value: Any) -> tuple[bool, Any]:
    # Nones last; a column is otherwise homogeneous (all numbers or all strings).
    return (value is None, "" if value is None else value)


def _replace_amounts(payload: Any, nan: Any) -> Any:
    if isinstance(payload, dict):
        return {
            k: nan if k in _AMOUNT_KEYS and v is not None else _replace_amounts(v, nan)
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [_replace_amounts(v, nan) for v in payload]
    return payload
