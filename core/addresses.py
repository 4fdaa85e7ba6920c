"""Withdrawal addresses and transaction hashes, checked per NOWPayments network.

A typo in a withdrawal address loses money, so every rule is a checksum or a strict format, never
"anything goes":

- Input is stripped of surrounding whitespace, then refused if it is empty, longer than
  ``MAX_ADDRESS_LENGTH`` or holds inner whitespace, control or non-ASCII characters (homoglyphs,
  zero-width spaces) — before any decoder sees it.
- btc / ltc: base58check and bech32 (witness v0, BIP-173) / bech32m (v1+, BIP-350); testnet is
  refused with reason ``testnet``. trx: base58check, version 0x41. xrp: base58check with the
  Ripple alphabet. eth and the EVM chains: ``0x`` + 40 hex, EIP-55 when mixed case, normalised to
  the EIP-55 form. Anything else: the provider's ``wallet_regex``, else a strict generic rule.
- When the address fails for the requested network but is valid for another family, the error is
  ``wrong_network`` with ``looks_like`` naming that family.
- An all-zero payload (0x000…0, T9yD14Nj…, 1111…4oLvT2) is refused as ``burn_address``.

Every error is ``InvalidAddress(reason, network=..., **details)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import base58
import bech32
from Crypto.Hash import keccak

from core.errors import InvalidAddress

log = logging.getLogger(__name__)

MAX_ADDRESS_LENGTH = 128
MAX_MEMO_LENGTH = 64
MAX_XRP_TAG = 2**32 - 1
MAX_WALLET_REGEX_LENGTH = 1024
GENERIC_MIN_LENGTH = 20

EVM_NETWORKS = frozenset(
    {"eth", "bsc", "matic", "polygon", "arbitrum", "op", "optimism", "base", "avaxc"}
)
# Families in the order ``looks_like`` prefers when an address fits several (``3…`` is both a
# BTC and a deprecated LTC P2SH address). "eth" stands for every EVM chain.
FAMILIES = ("btc", "eth", "trx", "ltc", "xrp")

_BECH32_MAX_LENGTH = 90  # BIP-173; the bech32 package has this check commented out
_EVM_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_GENERIC_RE = re.compile(r"[A-Za-z0-9]+")
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")
_GENERIC_TX_RE = re.compile(r"[A-Za-z0-9]{16,128}")
_XRP_TAG_RE = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class ValidatedAddress:
    """A destination that passed validation.

    ``address`` is normalised (bech32 lower-case, EVM in EIP-55 form); ``network`` is the code as
    given, lower-cased (aliases such as "polygon" are kept); ``memo`` is None unless needed.
    """

    address: str
    network: str
    memo: str | None = None


class _Refused(Exception):
    """Internal: a rule said no. Turned into InvalidAddress (with the network) at the edge."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


@dataclass(frozen=True, slots=True)
class _Decoded:
    address: str  # normalised form
    payload: bytes  # hash or witness program, for the burn-address check


# --- bech32 / bech32m ---------------------------------------------------------------------------


class _Encoding(Enum):
    BECH32 = 1
    BECH32M = 0x2BC830A3  # BIP-350: the only difference from bech32 is this constant


def _bech32_decode(text: str) -> tuple[str, list[int], _Encoding]:
    """HRP, data part without checksum and the checksum variant of a bech32(m) string."""
    if len(text) > _BECH32_MAX_LENGTH:
        raise _Refused("bad_format", detail="length")
    if any(not 33 <= ord(char) <= 126 for char in text):
        raise _Refused("bad_format", detail="charset")
    if text.lower() != text and text.upper() != text:
        raise _Refused("bad_format", detail="mixed_case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        raise _Refused("bad_format", detail="separator")
    hrp, rest = text[:sep], text[sep + 1 :]
    if any(char not in bech32.CHARSET for char in rest):
        raise _Refused("bad_format", detail="charset")
    data = [bech32.CHARSET.find(char) for char in rest]
    polymod = bech32.bech32_polymod(bech32.bech32_hrp_expand(hrp) + data)
    try:
        encoding = _Encoding(polymod)
    except ValueError:
        raise _Refused("bad_checksum") from None
    return hrp, data[:-6], encoding


def _decode_segwit(text: str, hrp: str) -> _Decoded:
    """A segwit address for ``hrp``, with the BIP-350 rule tying witness version to variant."""
    got_hrp, data, encoding = _bech32_decode(text)
    if got_hrp != hrp:
        raise _Refused("bad_format", detail="prefix")
    if not data or data[0] > 16:
        raise _Refused("bad_format", detail="witness_version")
    program = bech32.convertbits(data[1:], 5, 8, False)
    if program is None or not 2 <= len(program) <= 40:
        raise _Refused("bad_format", detail="program_length")
    if data[0] == 0 and len(program) not in (20, 32):
        raise _Refused("bad_format", detail="program_length")
    # A v0 program under bech32m (or v1+ under bech32) is a checksum for another string.
    if encoding is not (_Encoding.BECH32 if data[0] == 0 else _Encoding.BECH32M):
        raise _Refused("bad_checksum", detail="bech32_variant")
    # Valid by BIP-350, but v2+ (and v1 other than 32-byte taproot) outputs are not yet
    # defined: coins sent there can be taken by anyone. Refuse them for withdrawals.
    if data[0] > 1 or (data[0] == 1 and len(program) != 32):
        raise _Refused("bad_format", detail="unsupported_witness_version")
    return _Decoded(text.lower(), bytes(program))


# --- base58check chains -------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _charset_re(alphabet: bytes) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(alphabet.decode('ascii'))}]+")


def _b58check(text: str, alphabet: bytes = base58.BITCOIN_ALPHABET) -> bytes:
    """The 21-byte version + payload; separates bad characters from a failed checksum."""
    if _charset_re(alphabet).fullmatch(text) is None:
        raise _Refused("bad_format", detail="charset")
    try:
        raw = base58.b58decode_check(text, alphabet=alphabet)
    except ValueError:
        raise _Refused("bad_checksum") from None
    if len(raw) != 21:
        raise _Refused("bad_format", detail="length")
    return raw


@dataclass(frozen=True, slots=True)
class _UtxoChain:
    hrp: str
    versions: frozenset[int]
    testnet_hrps: tuple[str, ...]
    testnet_versions: frozenset[int]


_BTC = _UtxoChain("bc", frozenset({0x00, 0x05}), ("tb", "bcrt"), frozenset({0x6F, 0xC4}))
# 0x05 (``3…``) is Litecoin's deprecated P2SH version, still handed out by some wallets.
_LTC = _UtxoChain(
    "ltc", frozenset({0x30, 0x32, 0x05}), ("tltc", "rltc"), frozenset({0x6F, 0xC4, 0x3A})
)


def _check_utxo(text: str, chain: _UtxoChain) -> _Decoded:
    lower = text.lower()
    if lower.startswith(chain.hrp + "1"):
        return _decode_segwit(text, chain.hrp)
    for hrp in chain.testnet_hrps:
        if lower.startswith(hrp + "1"):
            _decode_segwit(text, hrp)  # a broken testnet string gets its real reason
            raise _Refused("testnet")
    raw = _b58check(text)
    if raw[0] in chain.testnet_versions:
        raise _Refused("testnet")
    if raw[0] not in chain.versions:
        raise _Refused("bad_format", detail="version")
    return _Decoded(text, raw[1:])


def _check_btc(text: str) -> _Decoded:
    return _check_utxo(text, _BTC)


def _check_ltc(text: str) -> _Decoded:
    return _check_utxo(text, _LTC)


def _check_trx(text: str) -> _Decoded:
    if not text.startswith("T") or len(text) != 34:
        raise _Refused("bad_format", detail="prefix")
    raw = _b58check(text)
    if raw[0] != 0x41:
        raise _Refused("bad_format", detail="version")
    return _Decoded(text, raw[1:])


def _check_xrp(text: str) -> _Decoded:
    """Classic XRP Ledger address (``r…``); X-addresses are refused, the tag goes in the memo."""
    if not text.startswith("r") or not 25 <= len(text) <= 35:
        raise _Refused("bad_format", detail="prefix")
    raw = _b58check(text, base58.XRP_ALPHABET)
    if raw[0] != 0x00:
        raise _Refused("bad_format", detail="version")
    return _Decoded(text, raw[1:])


# --- EVM ----------------------------------------------------------------------------------------


def eip55(address: str) -> str:
    """The EIP-55 checksummed form of a ``0x`` + 40 hex address (any case)."""
    body = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=body.encode("ascii")).hexdigest()
    return "0x" + "".join(
        char.upper() if int(nibble, 16) >= 8 else char
        for char, nibble in zip(body, digest, strict=False)
    )


def _check_evm(text: str) -> _Decoded:
    if _EVM_RE.fullmatch(text) is None:
        raise _Refused("bad_format", detail="format")
    body = text[2:]
    checksummed = eip55(text)
    # Single-case input carries no checksum; mixed case must be exactly the EIP-55 form.
    if body not in (body.lower(), body.upper()) and text != checksummed:
        raise _Refused("bad_checksum")
    return _Decoded(checksummed, bytes.fromhex(body))


# --- fallback -----------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _compile_wallet_regex(source: str) -> re.Pattern[str] | None:
    """The provider's pattern, or None when it is unusable (then the generic rule applies)."""
    if len(source) > MAX_WALLET_REGEX_LENGTH:
        log.warning("wallet_regex ignored: %d characters", len(source))
        return None
    try:
        return re.compile(source)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        log.warning("wallet_regex ignored, does not compile: %r (%s)", source, exc)
        return None


def _check_generic(text: str, wallet_regex: str | None) -> str:
    pattern = _compile_wallet_regex(wallet_regex) if wallet_regex else None
    if pattern is not None:
        # fullmatch: a provider pattern without anchors must not accept a mere substring.
        if pattern.fullmatch(text) is None:
            raise _Refused("bad_format", detail="pattern")
        return text
    if _GENERIC_RE.fullmatch(text) is None:
        raise _Refused("bad_format", detail="charset")
    if len(text) < GENERIC_MIN_LENGTH:
        raise _Refused("bad_format", detail="length")
    return text


# --- dispatch -----------------------------------------------------------------------------------

_RULES: dict[str, Callable[[str], _Decoded]] = {
    "btc": _check_btc,
    "eth": _check_evm,
    "trx": _check_trx,
    "ltc": _check_ltc,
    "xrp": _check_xrp,
}


def _normalise_network(network: str) -> str:
    return network.strip().lower()


def _family(network: str) -> str | None:
    """The rule family of a network code, or None for the fallback."""
    if network in EVM_NETWORKS:
        return "eth"
    return network if network in _RULES else None


def _clean(address: str) -> str:
    """Surrounding whitespace stripped; anything a decoder should never see refused."""
    if not isinstance(address, str):
        raise _Refused("bad_format", detail="not_text")
    text = address.strip()
    if not text:
        raise _Refused("empty")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise _Refused("too_long", max_length=MAX_ADDRESS_LENGTH)
    for char in text:
        if char.isspace():
            raise _Refused("bad_format", detail="whitespace")
        if not char.isascii():  # Cyrillic look-alikes, zero-width spaces, full-width digits
            raise _Refused("bad_format", detail="non_ascii")
        if not char.isprintable():
            raise _Refused("bad_format", detail="control_char")
    return text


def _families_of(text: str) -> list[str]:
    found = []
    for family in FAMILIES:
        try:
            _RULES[family](text)
        except _Refused:
            continue
        found.append(family)
    return found


def _check_address(text: str, network: str, wallet_regex: str | None) -> str:
    family = _family(network)
    try:
        if family is None:
            return _check_generic(text, wallet_regex)
        decoded = _RULES[family](text)
    except _Refused as exc:
        others = [found for found in _families_of(text) if found != family]
        if others:
            raise _Refused("wrong_network", expected=network, looks_like=others[0]) from exc
        raise
    if not any(decoded.payload):
        raise _Refused("burn_address")
    return decoded.address


def _check_memo(memo: str | None, *, xrp: bool) -> str:
    text = memo.strip() if isinstance(memo, str) else ""
    if not text:
        raise _Refused("memo_required")
    if len(text) > MAX_MEMO_LENGTH:
        raise _Refused("memo_invalid", detail="too_long", max_length=MAX_MEMO_LENGTH)
    if any(not char.isascii() for char in text):
        raise _Refused("memo_invalid", detail="non_ascii")
    if any(not char.isprintable() for char in text):
        raise _Refused("memo_invalid", detail="control_char")
    if xrp:
        # ASCII digits only (str.isdigit would take other scripts), within uint32.
        if _XRP_TAG_RE.fullmatch(text) is None or int(text) > MAX_XRP_TAG:
            raise _Refused("memo_invalid", detail="xrp_tag", maximum=MAX_XRP_TAG)
        return str(int(text))
    return text


def validate_address(
    address: str,
    *,
    network: str,
    currency: str = "",
    needs_memo: bool = False,
    memo: str | None = None,
    wallet_regex: str | None = None,
) -> ValidatedAddress:
    """Check a destination typed by a user for ``network`` (a NOWPayments network code).

    ``currency`` only selects the XRP destination-tag rule (network or currency ``xrp``).
    ``wallet_regex`` (the provider's pattern) is used for networks without a built-in rule; one
    that does not compile is logged and ignored. When ``needs_memo`` is false a supplied memo is
    ignored and the result's memo is None, so a stray memo is never sent to a chain that has none.
    Raises InvalidAddress(reason, network=..., ...).
    """
    net = _normalise_network(network)
    try:
        text = _clean(address)
        normalised = _check_address(text, net, wallet_regex)
        is_xrp = "xrp" in (net, currency.strip().lower())
        final_memo = _check_memo(memo, xrp=is_xrp) if needs_memo else None
    except _Refused as exc:
        raise InvalidAddress(exc.reason, network=net, **exc.params) from None
    return ValidatedAddress(address=normalised, network=net, memo=final_memo)


def validate_tx_hash(tx_hash: str, *, network: str) -> str:
    """A transaction hash for ``network``, normalised (lower-case hex; ``0x`` on EVM chains).

    btc/ltc/trx: 64 hex. EVM: ``0x`` + 64 hex (accepted without ``0x``). Others: 16-128 ASCII
    alphanumerics. Raises InvalidAddress("bad_tx_hash", network=...).
    """
    net = _normalise_network(network)
    text = tx_hash.strip() if isinstance(tx_hash, str) else ""
    family = _family(net)
    if family == "eth":
        body = text.removeprefix("0x")
        if _HEX64_RE.fullmatch(body):
            return "0x" + body.lower()
    elif family in ("btc", "ltc", "trx"):
        if _HEX64_RE.fullmatch(text):
            return text.lower()
    elif _GENERIC_TX_RE.fullmatch(text):
        return text
    raise InvalidAddress("bad_tx_hash", network=net)
