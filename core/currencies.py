"""The coins users may deposit: synced from NOWPayments, seeded when it cannot be reached.

- The offer is the merchant's dashboard coins (/merchant/coins) ∩ /full-currencies (enabled);
  when the merchant selected none, /currencies (what the payout set-up allows) stands in.
- A sync never deletes a row (payments reference them): coins the provider stopped offering get
  ``is_active = false``; a coin an admin switched off (``disabled_by_admin``) stays off.
- An empty or unreachable provider never deactivates anything: a glitch must not switch
  deposits off. On first start (empty table) the built-in seed is used instead.
- Provider lists are cached in memory (``CurrencyCatalog``, TTL minutes): the provider 429s on
  bursts and the lists change rarely.
- A malformed item in a provider list is skipped (and logged) by the client; a coin whose item
  was skipped is not deactivated for it.
- Every catalogue request goes through the provider budget's CATALOG lane (its own small rate,
  behind users; core.nowpayments.budget), and a sync gives up its provider phase as soon as
  ``stop`` is set, so a shutdown never waits for ~200 min-amount requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import Currency
from core.errors import CurrencyUnavailable, InvalidAmount, NotFound
from core.money import round_fee
from core.nowpayments import FullCurrency, NowPaymentsClient, ProviderError
from core.nowpayments.budget import Lane, lane
from core.nowpayments.models import FullCurrencies, MerchantCoins

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 300.0
DEFAULT_SORT_ORDER = 100
MAX_PLACES = 18
# Serialises syncs of several processes (an arbitrary constant: "paybot currencies").
_SYNC_LOCK_KEY = 0x7061_7962_6375_72
_T = TypeVar("_T")

# Suffixes that name the network of a token ticker (USDTTRC20 = USDT on Tron), longest first.
_NETWORK_SUFFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(
        {
            "TRC20": "trx",
            "ERC20": "eth",
            "BEP20": "bsc",
            "BEP2": "bnb",
            "BSC": "bsc",
            "MAINNET": "",
            "MATIC": "matic",
            "POLYGON": "matic",
            "ARB": "arbitrum",
            "ARBITRUM": "arbitrum",
            "OP": "op",
            "BASE": "base",
            "SOL": "sol",
            "TON": "ton",
            "AVAXC": "avaxc",
            "ALGO": "algo",
            "CELO": "celo",
            "ZKSYNC": "zksync",
        }.items(),
        key=lambda item: -len(item[0]),
    )
)
_KNOWN_PLACES = {"BTC": 8, "LTC": 8, "ETH": 18, "TRX": 6, "USDT": 6, "USDC": 6, "XRP": 6}


@dataclass(frozen=True, slots=True)
class SeedCoin:
    code: str
    name: str
    token: str
    network: str
    decimal_places: int
    sort_order: int


SEED: tuple[SeedCoin, ...] = (
    SeedCoin("BTC", "Bitcoin", "BTC", "btc", 8, 10),
    SeedCoin("ETH", "Ethereum", "ETH", "eth", 18, 20),
    SeedCoin("USDTTRC20", "Tether USD (TRC20)", "USDT", "trx", 6, 30),
    SeedCoin("USDTERC20", "Tether USD (ERC20)", "USDT", "eth", 6, 40),
    SeedCoin("LTC", "Litecoin", "LTC", "ltc", 8, 50),
    SeedCoin("TRX", "Tron", "TRX", "trx", 6, 60),
)
_SEED_ORDER = {coin.code: coin.sort_order for coin in SEED}


@dataclass(frozen=True, slots=True)
class SyncResult:
    source: str  # "provider" | "seed" | "none" (nothing changed)
    added: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    active: int = 0
    error: str | None = None


# --- the provider side ----------------------------------------------------------------------


class CurrencyCatalog:
    """The provider's currency lists, cached for ``ttl`` seconds. One per process; failures are
    not cached, concurrent callers of one list share one request."""

    def __init__(
        self,
        client: NowPaymentsClient,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._values: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def clear(self) -> None:
        self._values.clear()

    def forget_lists(self) -> None:
        """An admin's sync asks for the offer as it is now, but keeps the cached minimums: those
        cost one request each, at the catalogue's own small budget (~200 s for 200 coins)."""
        for key in [k for k in self._values if not k.startswith("min:")]:
            del self._values[key]

    async def _cached(self, key: str, fetch: Callable[[], Awaitable[_T]]) -> _T:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._values.get(key)
            if hit is not None and self._clock() < hit[0]:
                value: _T = hit[1]
                return value
            with lane(Lane.CATALOG):
                value = await fetch()
            self._values[key] = (self._clock() + self._ttl, value)
            return value

    async def currencies(self) -> list[str]:
        async def fetch() -> list[str]:
            return (await self._client.currencies()).codes

        return await self._cached("currencies", fetch)

    async def full_currencies(self) -> list[FullCurrency]:
        return (await self._full()).currencies

    async def merchant_coins(self) -> list[str]:
        return (await self._merchant()).selected_currencies

    async def unreadable_codes(self) -> set[str]:
        """Upper-case codes of coins whose items in the offer lists were skipped as malformed."""
        skipped = [*(await self._merchant()).skipped, *(await self._full()).skipped]
        return {item.id.upper() for item in skipped if item.id}

    async def _full(self) -> FullCurrencies:
        return await self._cached("full_currencies", self._client.full_currencies_reply)

    async def _merchant(self) -> MerchantCoins:
        return await self._cached("merchant_coins", self._client.merchant_coins_reply)

    async def min_usd(self, code: str, outcome_currency: str | None = None) -> Decimal | None:
        """The provider's minimum for ``code`` in USD, rounded up to the cent (None: not given).
        ``outcome_currency`` is the payout wallet's coin; by default the coin itself."""
        code = code.lower()
        target = (outcome_currency or code).lower()

        async def fetch() -> Decimal | None:
            reply = await self._client.min_amount(code, target, fiat_equivalent="usd")
            if reply.fiat_equivalent is None:
                return None
            return round_fee(reply.fiat_equivalent)

        return await self._cached(f"min:{code}:{target}", fetch)


def split_code(code: str, network: str | None) -> tuple[str, str]:
    """(token, network) of a provider ticker: USDTTRC20 → (USDT, trx), BTC → (BTC, btc)."""
    code = code.upper()
    net = (network or "").strip().lower()
    if net and code.lower() == net:
        return code, net
    for suffix, suffix_network in _NETWORK_SUFFIXES:
        if code.endswith(suffix) and len(code) > len(suffix):
            return code[: -len(suffix)], net or suffix_network or code.lower()
    return code, net or code.lower()


def _places(token: str, code: str, precision: int | None) -> int:
    if precision is not None and 0 <= precision <= MAX_PLACES:
        return precision
    return _KNOWN_PLACES.get(code, _KNOWN_PLACES.get(token, 8))


def _row(coin: FullCurrency, min_usd: Decimal | None) -> dict[str, Any]:
    code = coin.code.upper()
    token, network = split_code(code, coin.network)
    return {
        "code": code,
        "name": (coin.name or code)[:64],
        "token": token[:32],
        "network": network[:32],
        "decimal_places": _places(token, code, coin.network_precision),
        "needs_memo": coin.extra_id_exists,
        "wallet_regex": coin.wallet_regex or None,
        "min_amount_usd": min_usd,
        "sort_order": _SEED_ORDER.get(code, DEFAULT_SORT_ORDER),
    }


async def _offer(catalog: CurrencyCatalog) -> list[FullCurrency]:
    selected = set(await catalog.merchant_coins())
    if not selected:  # no dashboard selection: whatever the payout set-up allows
        selected = set(await catalog.currencies())
    full = await catalog.full_currencies()
    return [c for c in full if c.enable and c.code in selected and 0 < len(c.code) <= 32]


async def _minimums(
    catalog: CurrencyCatalog, codes: Iterable[str], outcome_currency: str | None
) -> dict[str, Decimal | None]:
    async def one(code: str) -> Decimal | None:
        try:
            return await catalog.min_usd(code, outcome_currency)
        except (ProviderError, InvalidAmount) as exc:  # keep the last known minimum
            log.warning("currencies: no minimum for %s: %r", code, exc)
            return None

    codes = list(codes)
    found = await asyncio.gather(*(one(code) for code in codes))
    return dict(zip(codes, found, strict=True))


# --- the database side ----------------------------------------------------------------------


class _Stopped(Exception):
    pass


async def _unless_stopped(work: Awaitable[_T], stop: asyncio.Event | None) -> _T:
    """``work``, cancelled as soon as ``stop`` is set (then _Stopped)."""
    if stop is None:
        return await work
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise _Stopped
    return task.result()


async def _fetch_offer(
    catalog: CurrencyCatalog, fetch_minimums: bool, outcome_currency: str | None
) -> tuple[list[FullCurrency], dict[str, Decimal | None], set[str]]:
    offered = await _offer(catalog)
    if not offered:
        raise ProviderError("the provider offers no coins")
    minimums = (
        await _minimums(catalog, (c.code for c in offered), outcome_currency)
        if fetch_minimums
        else {}
    )
    return offered, minimums, await catalog.unreadable_codes()


async def sync(
    sessions: async_sessionmaker[AsyncSession],
    catalog: CurrencyCatalog,
    *,
    fetch_minimums: bool = True,
    outcome_currency: str | None = None,
    stop: asyncio.Event | None = None,
) -> SyncResult:
    """Bring `currencies` in line with the provider's offer (see the module doc). Never raises
    for provider trouble: the result says what happened. Once ``stop`` is set the provider
    requests are abandoned and nothing is written."""
    try:
        offered, minimums, unreadable = await _unless_stopped(
            _fetch_offer(catalog, fetch_minimums, outcome_currency), stop
        )
    except _Stopped:
        log.info("currencies: sync abandoned for shutdown")
        return SyncResult("none", error="stopped")
    except ProviderError as exc:
        log.warning("currencies: provider sync failed: %r", exc)
        async with sessions.begin() as session:
            await _lock(session)
            if await _count(session) == 0:
                added = await _seed(session)
                log.warning("currencies: seeded %s (provider unreachable)", ", ".join(added))
                return SyncResult("seed", added=added, active=len(added), error=repr(exc))
        return SyncResult("none", error=repr(exc))
    rows = [_row(coin, minimums.get(coin.code)) for coin in offered]
    async with sessions.begin() as session:
        await _lock(session)
        return await _apply(session, rows, keep=unreadable)


async def keep_synced(
    sessions: async_sessionmaker[AsyncSession],
    catalog: CurrencyCatalog,
    stop: asyncio.Event,
    *,
    every_seconds: float = 600.0,
) -> None:
    """Sync now (seeding an empty table if the provider is down), then every ``every_seconds``
    until ``stop`` is set. For the process wiring; never raises for provider trouble."""
    while not stop.is_set():
        try:
            await sync(sessions, catalog, stop=stop)
        except Exception:  # the database is down: try again next time
            log.exception("currencies: sync failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


async def _lock(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYNC_LOCK_KEY})


async def _count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Currency))).scalar_one())


async def _seed(session: AsyncSession) -> list[str]:
    values = [
        {
            "code": c.code,
            "name": c.name,
            "token": c.token,
            "network": c.network,
            "decimal_places": c.decimal_places,
            "sort_order": c.sort_order,
        }
        for c in SEED
    ]
    await session.execute(insert(Currency).values(values).on_conflict_do_nothing())
    return [c.code for c in SEED]


async def _apply(
    session: AsyncSession, rows: list[dict[str, Any]], *, keep: set[str] | None = None
) -> SyncResult:
    """``keep``: codes not to deactivate although missing (their list items were unreadable)."""
    existing = {c.code: c for c in (await session.execute(select(Currency))).scalars()}
    offered = {row["code"] for row in rows}
    keep = keep or set()
    added = [row["code"] for row in rows if row["code"] not in existing]
    reactivated = [
        code
        for code in offered & existing.keys()
        if not existing[code].is_active and not existing[code].disabled_by_admin
    ]
    deactivated = [
        code
        for code, c in existing.items()
        if code not in offered and code not in keep and c.is_active
    ]
    for row in rows:
        stmt = insert(Currency).values(**row, is_active=True)
        changes: dict[str, Any] = {
            k: stmt.excluded[k] for k in row if k not in ("code", "sort_order")
        }
        if row["min_amount_usd"] is None:  # minimum unknown this time: keep the last one
            del changes["min_amount_usd"]
        changes["is_active"] = ~Currency.disabled_by_admin
        changes["updated_at"] = func.now()
        await session.execute(stmt.on_conflict_do_update(index_elements=["code"], set_=changes))
    if deactivated:
        await session.execute(
            update(Currency)
            .where(Currency.code.in_(deactivated))
            .values(is_active=False, updated_at=func.now())
        )
    active = len(await list_active(session))
    if added or reactivated or deactivated:
        log.info(
            "currencies: added %s, reactivated %s, deactivated %s", added, reactivated, deactivated
        )
    return SyncResult(
        "provider",
        added=sorted(added),
        reactivated=sorted(reactivated),
        deactivated=sorted(deactivated),
        active=active,
    )


async def list_active(session: AsyncSession) -> list[Currency]:
    """What the deposit menu offers, in display order."""
    stmt = (
        select(Currency)
        .where(Currency.is_active, ~Currency.disabled_by_admin)
        .order_by(Currency.sort_order, Currency.code)
    )
    return list((await session.execute(stmt)).scalars())


async def list_all(session: AsyncSession) -> list[Currency]:
    """Every known coin (admin view), in display order."""
    stmt = select(Currency).order_by(Currency.sort_order, Currency.code)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, code: str) -> Currency | None:
    return await session.get(Currency, code.strip().upper())


async def get_active(session: AsyncSession, code: str) -> Currency:
    """Raises CurrencyUnavailable: unknown, inactive."""
    found = await get(session, code)
    if found is None:
        raise CurrencyUnavailable("unknown", currency=code.strip().upper()[:32])
    if not found.is_active or found.disabled_by_admin:
        raise CurrencyUnavailable("inactive", currency=found.code)
    return found


async def set_active(session: AsyncSession, code: str, active: bool, admin_id: int) -> Currency:
    """The admin toggle. Switching off sets disabled_by_admin, so syncs keep it off; switching
    on clears it (a coin the provider no longer offers is then refused by the provider).
    Raises NotFound."""
    stmt = (
        update(Currency)
        .where(Currency.code == code.strip().upper())
        .values(is_active=active, disabled_by_admin=not active, updated_at=func.now())
        .returning(Currency)
        .execution_options(populate_existing=True)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("currency", currency=code.strip().upper()[:32])
    log.info("currencies: admin %s set %s active=%s", admin_id, found.code, active)
    return found


__all__ = [
    "SEED",
    "CurrencyCatalog",
    "SeedCoin",
    "SyncResult",
    "get",
    "get_active",
    "keep_synced",
    "list_active",
    "list_all",
    "set_active",
    "split_code",
    "sync",
]
