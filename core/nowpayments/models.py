"""Typed NOWPayments requests and replies.

Replies are parsed from the raw body with ``loads_json`` (floats become Decimal, NaN/Infinity
tokens become ``NonFinite`` markers that every field refuses) and then validated here: amounts
through ``core.money.to_decimal`` (numeric strings accepted; NaN, Infinity, booleans and
negatives refused), ids normalised to ``str(int(x))`` because the provider sends them as strings
in some replies and numbers in others, statuses lower-cased and kept even when unknown.

Lists are validated item by item (``_split_items``): one malformed item is logged with its id and
the field at fault and left out, so a NaN on somebody else's payment never hides the rest of a
page. What was left out is kept on the reply (``skipped``) for callers that must not conclude
"absent" from a page that had a broken item.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from core.db.models import FINAL_PAYMENT_STATUSES, PaymentStatus
from core.errors import InvalidAmount
from core.money import to_decimal

# --- JSON in and out ---------------------------------------------------------------------------


log = logging.getLogger(__name__)


class NonFinite:
    """A bare NaN/Infinity token, kept in place so that only the item holding it is refused (no
    field type accepts it) rather than the whole body."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"NonFinite({self.token})"


def loads_json(body: bytes | str) -> Any:
    """Parse a reply exactly: floats as Decimal (no binary artefacts), NaN/Infinity tokens as
    ``NonFinite`` (refused by validation)."""
    return json.loads(body, parse_float=Decimal, parse_int=int, parse_constant=NonFinite)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("refusing to send a non-finite amount")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("floats never go into money requests")
    return json.dumps(value)


def dumps_json(value: Any) -> bytes:
    """Serialise with Decimals written as exact JSON numbers (the stdlib would need floats)."""
    return _encode(value).encode()


# --- field types -------------------------------------------------------------------------------


def _amount(value: object) -> Decimal:
    try:
        result = to_decimal(value)
    except InvalidAmount as exc:
        raise ValueError("not a finite number") from exc
    if result < 0:
        raise ValueError("negative amount")
    return result


def _optional_amount(value: object) -> Decimal | None:
    return None if value is None or value == "" else _amount(value)


_ID_RE = re.compile(r"[0-9]{1,30}")


def normalize_id(value: object) -> str:
    """``str(int(x))`` for ids that arrive as numbers or numeric strings; anything else refused."""
    if isinstance(value, bool):
        raise ValueError("id must be a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ID_RE.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError("id must be a number")
    if number < 0:
        raise ValueError("id must not be negative")
    return str(number)


def _optional_id(value: object) -> str | None:
    return None if value is None or value == "" else normalize_id(value)


def _lower(value: str) -> str:
    return value.strip().lower()


def _empty_to_none(value: object) -> object:
    return None if value == "" else value


Amount = Annotated[Decimal, PlainValidator(_amount)]
OptionalAmount = Annotated[Decimal | None, PlainValidator(_optional_amount)]
ProviderId = Annotated[str, PlainValidator(normalize_id)]
OptionalId = Annotated[str | None, PlainValidator(_optional_id)]
Code = Annotated[str, AfterValidator(_lower)]
OptionalTimestamp = Annotated[datetime | None, BeforeValidator(_empty_to_none)]


class _Reply(BaseModel):
    # Unknown fields are ignored so new provider fields never break polling; numbers in text
    # fields (an order_id sent back as a number) are turned into strings rather than refused.
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


# --- lists, item by item ------------------------------------------------------------------------


class SkippedItem(_Reply):
    """A list item that failed validation: where it was, what it claimed to be, what was wrong
    (field path and message; never the offending value)."""

    index: int
    id: str | None = None  # payment_id or currency code, when readable
    order_id: str | None = None
    field: str
    reason: str


def _readable(value: object, limit: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip()[:limit] or None


def _item_id(item: object) -> str | None:
    if isinstance(item, str):
        return _readable(item, 32)
    if isinstance(item, Mapping):
        for key in ("payment_id", "code", "currency", "ticker"):
            if (found := _readable(item.get(key), 32)) is not None:
                return found
    return None


def _split_items(data: Any, key: str, adapter: TypeAdapter[Any], kind: str) -> Any:
    """``data`` with ``key`` holding only the items that validate and ``skipped`` describing the
    rest. A missing or non-list ``key`` is left for the field's own validation to refuse."""
    if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
        return data
    good: list[Any] = []
    skipped: list[SkippedItem] = []
    for index, item in enumerate(data[key]):
        try:
            good.append(adapter.validate_python(item))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            order = item.get("order_id") if isinstance(item, Mapping) else None
            bad = SkippedItem(
                index=index,
                id=_item_id(item),
                order_id=_readable(order, 64),
                field=".".join(str(part) for part in first["loc"]) or "item",
                reason=first["msg"],
            )
            log.warning(
                "nowpayments: skipped malformed %s item #%d (id %s): %s: %s",
                kind,
                index,
                bad.id or "unreadable",
                bad.field,
                bad.reason,
            )
            skipped.append(bad)
    return {**data, key: good, "skipped": tuple(skipped)}


# --- statuses ----------------------------------------------------------------------------------


# The provider's wire statuses (its API table, plus "cancelled", which a merchant sets by hand on
# a partially_paid payment) and what each means in our one vocabulary (core.db.models): the
# provider has no word for "creating" or "create_failed", ours has one for each of its words.
PROVIDER_STATUSES: Mapping[str, PaymentStatus] = MappingProxyType(
    {
        "waiting": PaymentStatus.WAITING,
        "confirming": PaymentStatus.CONFIRMING,
        "confirmed": PaymentStatus.CONFIRMED,
        "sending": PaymentStatus.SENDING,
        "partially_paid": PaymentStatus.PARTIALLY_PAID,
        "finished": PaymentStatus.FINISHED,
        "failed": PaymentStatus.FAILED,
        "refunded": PaymentStatus.REFUNDED,
        "expired": PaymentStatus.EXPIRED,
        "cancelled": PaymentStatus.CANCELLED,
    }
)

FINAL_STATUSES: frozenset[str] = frozenset(
    wire for wire, ours in PROVIDER_STATUSES.items() if ours in FINAL_PAYMENT_STATUSES
)

_STATUS_ALIASES = {"canceled": "cancelled"}


def normalize_status(raw: str) -> str:
    """Lower-case and trim; known spelling variants mapped; unknown values kept as they are."""
    status = raw.strip().lower()
    return _STATUS_ALIASES.get(status, status)


def known_status(status: str) -> PaymentStatus | None:
    """Our status for a provider status, None for one we have never heard of."""
    return PROVIDER_STATUSES.get(normalize_status(status))


def is_final(status: str) -> bool:
    """Final statuses never change again; an unknown status is treated as non-final."""
    return normalize_status(status) in FINAL_STATUSES


def _status(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("payment_status must be a non-empty string")
    return normalize_status(value)


StatusText = Annotated[str, PlainValidator(_status)]


# --- replies -----------------------------------------------------------------------------------


class ApiStatus(_Reply):
    message: str


class CurrencyInfo(_Reply):
    """One item of /currencies: a bare ticker, or (fixed_rate=true) an object with limits."""

    code: Code
    min_amount: OptionalAmount = None
    max_amount: OptionalAmount = None

    @model_validator(mode="before")
    @classmethod
    def _either_shape(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"code": data}
        if isinstance(data, Mapping) and "code" not in data:
            for key in ("currency", "ticker"):
                if key in data:
                    return {**data, "code": data[key]}
        return data


class Currencies(_Reply):
    currencies: list[CurrencyInfo]
    skipped: tuple[SkippedItem, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _item_by_item(cls, data: Any) -> Any:
        return _split_items(data, "currencies", _CURRENCY_INFO, "currency")

    @property
    def codes(self) -> list[str]:
        return [item.code for item in self.currencies]


class FullCurrency(_Reply):
    code: Code  # upper-case on the wire, lower-cased here to match the other endpoints
    name: str | None = None
    id: int | None = None
    enable: bool = True
    wallet_regex: str | None = None
    priority: int | None = None
    extra_id_exists: bool = False
    extra_id_regex: str | None = None
    logo_url: str | None = None
    track: bool | None = None
    cg_id: str | None = None
    is_maxlimit: bool | None = None
    network: str | None = None
    smart_contract: str | None = None
    network_precision: int | None = None


class FullCurrencies(_Reply):
    currencies: list[FullCurrency]
    skipped: tuple[SkippedItem, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _item_by_item(cls, data: Any) -> Any:
        return _split_items(data, "currencies", _FULL_CURRENCY, "full-currency")


class MerchantCoins(_Reply):
    selected_currencies: list[Code] = Field(alias="selectedCurrencies")
    skipped: tuple[SkippedItem, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _item_by_item(cls, data: Any) -> Any:
        return _split_items(data, "selectedCurrencies", _CODE, "merchant coin")


class MinAmount(_Reply):
    currency_from: Code
    currency_to: Code
    min_amount: Amount
    fiat_equivalent: OptionalAmount = None


class Estimate(_Reply):
    currency_from: Code
    amount_from: Amount
    currency_to: Code
    estimated_amount: Amount


class PaymentFee(_Reply):
    currency: str | None = None
    deposit_fee: OptionalAmount = Field(default=None, alias="depositFee")
    withdrawal_fee: OptionalAmount = Field(default=None, alias="withdrawalFee")
    service_fee: OptionalAmount = Field(default=None, alias="serviceFee")


class Payment(_Reply):
    """A payment as returned by create, get and list (create lacks actually_paid, list lacks
    created_at; everything but the id and the status is therefore optional)."""

    payment_id: ProviderId
    payment_status: StatusText
    pay_address: str | None = None
    payin_extra_id: str | None = None
    price_amount: OptionalAmount = None
    price_currency: Code | None = None
    pay_amount: OptionalAmount = None
    pay_currency: Code | None = None
    actually_paid: OptionalAmount = None
    actually_paid_at_fiat: OptionalAmount = None
    outcome_amount: OptionalAmount = None
    outcome_currency: Code | None = None
    amount_received: OptionalAmount = None
    order_id: str | None = None
    order_description: str | None = None
    purchase_id: OptionalId = None
    parent_payment_id: OptionalId = None
    invoice_id: OptionalId = None
    ipn_callback_url: str | None = None
    network: str | None = None
    network_precision: int | None = None
    type: str | None = None
    is_fixed_rate: bool | None = None
    is_fee_paid_by_user: bool | None = None
    payin_hash: str | None = None
    payout_hash: str | None = None
    fee: PaymentFee | None = None
    created_at: OptionalTimestamp = None
    updated_at: OptionalTimestamp = None
    valid_until: OptionalTimestamp = None
    expiration_estimate_date: OptionalTimestamp = None

    @property
    def known_status(self) -> PaymentStatus | None:
        return known_status(self.payment_status)

    @property
    def is_final(self) -> bool:
        return is_final(self.payment_status)


class PaymentList(_Reply):
    data: list[Payment]
    skipped: tuple[SkippedItem, ...] = ()
    limit: int | None = None
    page: int | None = None
    pages_count: int | None = Field(default=None, alias="pagesCount")
    total: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _item_by_item(cls, data: Any) -> Any:
        return _split_items(data, "data", _PAYMENT, "payment")

    @property
    def received(self) -> int:
        """Items on this page, the skipped ones included (for "was this the last page?")."""
        return len(self.data) + len(self.skipped)

    def skipped_order(self, order_id: str) -> bool:
        """Whether a skipped item claimed this order_id (so "not found" cannot be concluded)."""
        return any(item.order_id == order_id for item in self.skipped)


_CURRENCY_INFO: TypeAdapter[CurrencyInfo] = TypeAdapter(CurrencyInfo)
_FULL_CURRENCY: TypeAdapter[FullCurrency] = TypeAdapter(FullCurrency)
_CODE: TypeAdapter[str] = TypeAdapter(Code, config=ConfigDict(coerce_numbers_to_str=True))
_PAYMENT: TypeAdapter[Payment] = TypeAdapter(Payment)


class ErrorBody(_Reply):
    """``{"status":false,"statusCode":400,"code":"..","message":".."}``; some have only message or
    error."""

    status_code: int | None = Field(default=None, alias="statusCode")
    code: str | None = None
    message: str | None = None
    error: str | None = None


class AuthReply(_Reply):
    token: str = Field(repr=False, min_length=1)


# --- requests ----------------------------------------------------------------------------------


def _positive_amount(value: object) -> Decimal:
    result = _amount(value)
    if result == 0:
        raise ValueError("amount must be positive")
    return result


def _optional_positive_amount(value: object) -> Decimal | None:
    return None if value is None else _positive_amount(value)


PositiveAmount = Annotated[Decimal, PlainValidator(_positive_amount)]
OptionalPositiveAmount = Annotated[Decimal | None, PlainValidator(_optional_positive_amount)]
NonEmptyCode = Annotated[str, AfterValidator(_lower), Field(min_length=1)]


class CreatePaymentRequest(BaseModel):
    """Body of POST /v1/payment. ``order_id`` is what the caller reconciles by after a lost reply,
    so make it unique per attempt to pay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_amount: PositiveAmount
    price_currency: NonEmptyCode
    pay_currency: NonEmptyCode
    pay_amount: OptionalPositiveAmount = None
    ipn_callback_url: str | None = Field(default=None, pattern=r"^https?://")
    order_id: str | None = None
    order_description: str | None = None
    purchase_id: OptionalId = None
    payout_address: str | None = None
    payout_currency: str | None = None
    payout_extra_id: str | None = None
    is_fixed_rate: bool | None = None
    is_fee_paid_by_user: bool | None = None
    case: str | None = None  # sandbox only: success, partially_paid, a failure spelling...

    @model_validator(mode="after")
    def _payout_pair(self) -> CreatePaymentRequest:
        if self.payout_address is not None and self.payout_currency is None:
            raise ValueError("payout_currency is required with payout_address")
        return self

    def to_json(self) -> bytes:
        return dumps_json(self.model_dump(exclude_none=True))
