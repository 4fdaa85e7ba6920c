"""Address and transaction-hash validation: published vectors, nasty inputs, a flip property.

Vector provenance: BIP-173 / BIP-350 test vectors, the EIP-55 vectors, well-known mainnet
addresses. Every one was checked against a reference algorithm (bech32 package + the BIP-350
constant, base58 package, keccak) when written; the ones derived here (LTC, testnet) are
re-derived in the tests themselves from the reference libraries.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import base58
import bech32
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.addresses import (
    MAX_ADDRESS_LENGTH,
    ValidatedAddress,
    _bech32_decode,
    _Encoding,
    _Refused,
    eip55,
    validate_address,
    validate_tx_hash,
)
from core.errors import InvalidAddress

B58 = base58.BITCOIN_ALPHABET.decode()
HEX = "0123456789abcdefABCDEF"

GENESIS_H160 = bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")  # 1A1zP1eP…
BIP173_H160 = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")  # pubkey G

USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH_MIXED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BTC_P2PKH = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
BTC_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BTC_BECH32 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
BTC_TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
LTC_P2PKH = "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9"
LTC_P2SH = "MQMcJhpWHYVeQArcZR3sBgyPZxxRtnH441"
LTC_BECH32 = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
XRP_GENESIS = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"


def refused(address: str, **kwargs: Any) -> InvalidAddress:
    with pytest.raises(InvalidAddress) as info:
        validate_address(address, **kwargs)
    return info.value


def bech32m_encode(hrp: str, version: int, program: bytes) -> str:
    """BIP-350 reference encoder: the bech32 package with the bech32m constant."""
    five_bit = bech32.convertbits(program, 8, 5)
    assert five_bit is not None
    data = [version, *five_bit]
    polymod = bech32.bech32_polymod([*bech32.bech32_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0])
    checksum = [((polymod ^ 0x2BC830A3) >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(bech32.CHARSET[d] for d in data + checksum)


# --- bech32 / bech32m strings (BIP-173, BIP-350) ------------------------------------------------

VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + "q" * 82 + "c8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11" + "l" * 82 + "ludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
INVALID_BECH32_STRINGS = [
    # BIP-173
    " 1nwldj5",
    "\x7f1axkwrx",
    "\x801eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",
    "1pzry9x0s0muk",
    "x1b4n0q5v",
    "li1dgmt3",
    "de1lg7wt\xff",
    "A1G7SGD8",
    "10a06t8",
    "1qzzfhee",
    # BIP-350
    " 1xj0phk",
    "\x7f1g6xzxy",
    "\x801vctc34",
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m",
    "1qyrz8wqd2c9m",
    "y1b0jsk6g",
    "lt1igcx5c0",
    "in1muywd",
    "mm1crxm3i",
    "au1s5cgom",
    "M1VUXWEZ",
    "16plkw9",
    "1p2gdwpf",
]


@pytest.mark.parametrize("text", VALID_BECH32)
def test_bech32_checksum_vectors(text: str) -> None:
    assert _bech32_decode(text)[2] is _Encoding.BECH32


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_bech32m_checksum_vectors(text: str) -> None:
    assert _bech32_decode(text)[2] is _Encoding.BECH32M


@pytest.mark.parametrize("text", INVALID_BECH32_STRINGS)
def test_invalid_bech32_strings(text: str) -> None:
    with pytest.raises(_Refused):
        _bech32_decode(text)


# --- BTC ----------------------------------------------------------------------------------------

BTC_VALID = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",  # BIP-173/350, upper case
    BTC_TAPROOT,
    BTC_BECH32,
    BTC_P2PKH,
    BTC_P2SH,
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "17VZNX1SN5NtKa8UQFxwQbFeFc3iqRYhem",
    "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
]


# Valid BIP-350 strings, but outputs nobody has defined yet: anyone could spend coins sent there.
BTC_UNSPENDABLE = [
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",  # v1, 40 bytes
    "BC1SW50QGDZ25J",  # v16
    "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",  # v2
]


@pytest.mark.parametrize("address", BTC_UNSPENDABLE)
def test_btc_future_witness_versions_refused(address: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        validate_address(address, network="btc")
    assert info.value.reason == "bad_format"
    assert info.value.params["detail"] == "unsupported_witness_version"


@pytest.mark.parametrize("address", BTC_VALID)
def test_btc_valid(address: str) -> None:
    result = validate_address(address, network="btc", currency="btc")
    expected = address.lower() if address.lower().startswith("bc1") else address
    assert result == ValidatedAddress(address=expected, network="btc", memo=None)


@pytest.mark.parametrize(
    ("address", "reason", "detail"),
    [
        # BIP-173 invalid addresses
        ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "bad_format", "charset"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad_checksum", None),
        ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "bad_format", "witness_version"),
        ("bc1rw5uspcuh", "bad_format", "program_length"),
        (
            "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
            "bad_format",
            "program_length",
        ),
        ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "bad_format", "program_length"),
        (
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",
            "bad_format",
            "mixed_case",
        ),
        ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "bad_format", "program_length"),
        (
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
            "bad_format",
            "program_length",
        ),
        ("bc1gmk9yu", "bad_format", "witness_version"),
        # BIP-350 invalid addresses
        (
            "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
            "bad_format",
            "charset",
        ),
        (
            "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
            "bad_format",
            "charset",
        ),
        (
            "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
            "bad_format",
            "witness_version",
        ),
        ("bc1pw5dgrnzv", "bad_format", "program_length"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
            "bad_format",
            "program_length",
        ),
        (
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
            "bad_format",
            "mixed_case",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
            "bad_format",
            "program_length",
        ),
        (
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
            "bad_format",
            "program_length",
        ),
        # mixed case on a mainnet address
        ("bc1qAr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bad_format", "mixed_case"),
    ],
)
def test_btc_bip_invalid_addresses(address: str, reason: str, detail: str | None) -> None:
    error = refused(address, network="btc")
    assert error.reason == reason
    assert error.params.get("detail") == detail


@pytest.mark.parametrize(
    "address",
    [
        # BIP-350: a checksum of the wrong variant for the witness version
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # v1 under bech32
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # v16 under bech32
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # v0 under bech32m
        # BIP-173's own v1+ vectors, valid before BIP-350 and refused since
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
        "BC1SW50QA3JX3S",
        "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
    ],
)
def test_bech32_variant_mismatch_is_a_checksum_error(address: str) -> None:
    error = refused(address, network="btc")
    assert (error.reason, error.params) == (
        "bad_checksum",
        {"network": "btc", "detail": "bech32_variant"},
    )


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "btc"),
        ("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "btc"),
        ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "btc"),
        ("bcrt1qqqqsyqcyq5rqwzqfpg9scrgwpugpzysnard0ew", "btc"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "btc"),
        ("n3GNqMveyvaPvUbH469vDRadqpJMPc84JA", "btc"),
        ("2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "btc"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "ltc"),
        ("tltc1qw508d6qejxtdg4y5r3zarvary0c5xw7klfsuq0", "ltc"),
        ("QVcyVJw6Fs9U6r7Emin9abs4r2rpPhBE1A", "ltc"),
    ],
)
def test_testnet_refused(address: str, network: str) -> None:
    assert refused(address, network=network).reason == "testnet"


def test_testnet_vectors_derived_by_reference() -> None:
    assert bech32.encode("tltc", 0, BIP173_H160) == "tltc1qw508d6qejxtdg4y5r3zarvary0c5xw7klfsuq0"
    assert base58.b58encode_check(b"\x3a" + GENESIS_H160) == b"QVcyVJw6Fs9U6r7Emin9abs4r2rpPhBE1A"


# --- ETH / EVM ----------------------------------------------------------------------------------

EIP55_MIXED = [
    ETH_MIXED,
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
EIP55_SINGLE_CASE = [  # from the EIP: addresses whose checksummed form is all caps / all lower
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
]
USDT_ERC20 = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


@pytest.mark.parametrize("address", [*EIP55_MIXED, *EIP55_SINGLE_CASE, USDT_ERC20])
def test_eip55_vectors(address: str) -> None:
    assert eip55(address.lower()) == address
    assert eip55(address.upper().replace("0X", "0x")) == address
    for form in (address, address.lower(), "0x" + address[2:].upper()):
        assert validate_address(form, network="eth", currency="usdterc20").address == address


@pytest.mark.parametrize(
    "network", ["eth", "bsc", "matic", "polygon", "arbitrum", "op", "optimism", "base", "avaxc"]
)
def test_evm_networks_share_the_eth_rule(network: str) -> None:
    result = validate_address(ETH_MIXED.lower(), network=network)
    assert result == ValidatedAddress(address=ETH_MIXED, network=network)
    assert refused(ETH_MIXED.swapcase().replace("0X", "0x"), network=network).reason == (
        "bad_checksum"
    )


def test_network_code_is_case_and_space_insensitive() -> None:
    assert validate_address(ETH_MIXED, network=" ETH ").network == "eth"
    assert validate_address(USDT_TRC20, network="TRX").network == "trx"


# --- TRON, LTC, XRP -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        USDT_TRC20,
        "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8",  # USDC (TRC-20)
        "TNUC9Qb1rRpS5CbWLmNMxXBjyFoydXjWFR",  # WTRX
        "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7",
        "TN3W4H6rK2ce4vX9YnFQHwKENnHjoxb3m9",
    ],
)
def test_tron_valid(address: str) -> None:
    assert validate_address(address, network="trx", currency="usdttrc20").address == address


@pytest.mark.parametrize(
    "address",
    [
        LTC_P2PKH,
        "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1",
        LTC_P2SH,
        "LUEweDxDA4WhvWiNXXSxjM9CYzHPJv4QQF",
        "MGv9cSYnaRSTZNzYaN7bhbgmozoGkKBvCn",
        BTC_P2SH,  # deprecated 0x05 P2SH, still used by some Litecoin wallets
        LTC_BECH32,
        "ltc1qar0srrr7xfkvy5l643lydnw9re59gtzz24wl4s",
        "ltc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqpj6zg2",
    ],
)
def test_ltc_valid(address: str) -> None:
    assert validate_address(address, network="ltc").address == address


def test_ltc_vectors_derived_by_reference() -> None:
    assert base58.b58encode_check(b"\x30" + GENESIS_H160) == b"LUEweDxDA4WhvWiNXXSxjM9CYzHPJv4QQF"
    assert base58.b58encode_check(b"\x32" + GENESIS_H160) == b"MGv9cSYnaRSTZNzYaN7bhbgmozoGkKBvCn"
    assert bech32.encode("ltc", 0, BIP173_H160) == LTC_BECH32
    program = bytes.fromhex("e8df018c7e326cc253faac7e46cdc51e68542c42")  # of BTC_BECH32
    assert bech32.encode("ltc", 0, program) == "ltc1qar0srrr7xfkvy5l643lydnw9re59gtzz24wl4s"
    taproot = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    assert bech32m_encode("bc", 1, taproot) == BTC_TAPROOT  # the encoder matches BIP-350
    assert bech32m_encode("ltc", 1, taproot) == (
        "ltc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqpj6zg2"
    )


@pytest.mark.parametrize(
    "address", [XRP_GENESIS, "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh", "rrrrrrrrrrrrrrrrrrrrBZbvji"]
)
def test_xrp_valid(address: str) -> None:
    result = validate_address(address, network="xrp", needs_memo=True, memo="12345")
    assert result == ValidatedAddress(address=address, network="xrp", memo="12345")


# --- burn addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("0x" + "0" * 40, "eth"),
        ("T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb", "trx"),
        ("1111111111111111111114oLvT2", "btc"),
        ("rrrrrrrrrrrrrrrrrrrrrhoLvTp", "xrp"),
    ],
)
def test_all_zero_addresses_are_refused(address: str, network: str) -> None:
    assert refused(address, network=network).reason == "burn_address"


# --- nasty inputs -------------------------------------------------------------------------------

ZWSP = "\u200b"
CYRILLIC_O = "\u043e"


@pytest.mark.parametrize(
    ("address", "network", "reason", "params"),
    [
        # one flipped character per address type
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "btc", "bad_checksum", {}),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz", "btc", "bad_checksum", {}),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp", "btc", "bad_checksum", {}),
        (BTC_TAPROOT[:-1] + "2", "btc", "bad_checksum", {}),
        (ETH_MIXED[:-1] + "D", "eth", "bad_checksum", {}),
        (ETH_MIXED[:-1] + "e", "eth", "bad_checksum", {}),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "trx", "bad_checksum", {}),
        ("LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH8", "ltc", "bad_checksum", {}),
        ("ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n8", "ltc", "bad_checksum", {}),
        ("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTi", "xrp", "bad_checksum", {}),
        # truncated: the checksum no longer matches
        (BTC_P2PKH[:-1], "btc", "bad_checksum", {}),
        (ETH_MIXED[:-1], "eth", "bad_format", {"detail": "format"}),
        # cross-network mistakes
        (USDT_TRC20, "eth", "wrong_network", {"expected": "eth", "looks_like": "trx"}),
        (USDT_TRC20, "bsc", "wrong_network", {"expected": "bsc", "looks_like": "trx"}),
        (ETH_MIXED, "trx", "wrong_network", {"expected": "trx", "looks_like": "eth"}),
        (BTC_P2PKH, "ltc", "wrong_network", {"expected": "ltc", "looks_like": "btc"}),
        (BTC_BECH32, "ltc", "wrong_network", {"expected": "ltc", "looks_like": "btc"}),
        (BTC_TAPROOT, "ltc", "wrong_network", {"expected": "ltc", "looks_like": "btc"}),
        (LTC_P2PKH, "btc", "wrong_network", {"expected": "btc", "looks_like": "ltc"}),
        (LTC_P2SH, "btc", "wrong_network", {"expected": "btc", "looks_like": "ltc"}),
        (LTC_BECH32, "btc", "wrong_network", {"expected": "btc", "looks_like": "ltc"}),
        (BTC_P2SH, "eth", "wrong_network", {"expected": "eth", "looks_like": "btc"}),
        (ETH_MIXED, "btc", "wrong_network", {"expected": "btc", "looks_like": "eth"}),
        (XRP_GENESIS, "btc", "wrong_network", {"expected": "btc", "looks_like": "xrp"}),
        (USDT_TRC20, "xrp", "wrong_network", {"expected": "xrp", "looks_like": "trx"}),
        # empty and over-long
        ("", "btc", "empty", {}),
        ("   \n\t", "eth", "empty", {}),
        ("1" * (MAX_ADDRESS_LENGTH + 1), "btc", "too_long", {"max_length": MAX_ADDRESS_LENGTH}),
        (ETH_MIXED + "a" * 100, "eth", "too_long", {"max_length": MAX_ADDRESS_LENGTH}),
        # characters no address has
        ("1BvBMSEYstWetqTF n5Au4m4GFg7xJaNVN2", "btc", "bad_format", {"detail": "whitespace"}),
        (ETH_MIXED[:20] + "\t" + ETH_MIXED[20:], "eth", "bad_format", {"detail": "whitespace"}),
        (
            USDT_TRC20[:10] + "\u00a0" + USDT_TRC20[10:],
            "trx",
            "bad_format",
            {"detail": "whitespace"},
        ),
        (USDT_TRC20[:10] + ZWSP + USDT_TRC20[10:], "trx", "bad_format", {"detail": "non_ascii"}),
        (USDT_TRC20 + ZWSP, "trx", "bad_format", {"detail": "non_ascii"}),
        (USDT_TRC20.replace("o", CYRILLIC_O), "trx", "bad_format", {"detail": "non_ascii"}),
        (
            "0x5\u0430Aeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "eth",
            "bad_format",
            {"detail": "non_ascii"},
        ),
        (
            "0x５aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "eth",
            "bad_format",
            {"detail": "non_ascii"},
        ),
        (BTC_P2PKH[:5] + "\x00" + BTC_P2PKH[5:], "btc", "bad_format", {"detail": "control_char"}),
        (BTC_P2PKH + "\x7f", "btc", "bad_format", {"detail": "control_char"}),
        # look-alike ASCII that base58 leaves out
        (BTC_P2PKH.replace("S", "0", 1), "btc", "bad_format", {"detail": "charset"}),
        ("0X" + ETH_MIXED[2:], "eth", "bad_format", {"detail": "format"}),
        # a BTC address with the right checksum but a foreign version byte (DOGE-style, 0x1e)
        (
            base58.b58encode_check(b"\x1e" + GENESIS_H160).decode(),
            "btc",
            "bad_format",
            {"detail": "version"},
        ),
    ],
)
def test_nasty_inputs(address: str, network: str, reason: str, params: dict[str, Any]) -> None:
    error = refused(address, network=network, currency="usdt")
    assert error.reason == reason
    assert error.params == {"network": network, **params}


def test_surrounding_whitespace_is_stripped() -> None:
    assert validate_address(f" \t{BTC_P2PKH}\n", network="btc").address == BTC_P2PKH
    assert validate_address(f"\u00a0{USDT_TRC20} ", network="trx").address == USDT_TRC20


def test_non_text_is_refused() -> None:
    error = refused(None, network="btc")  # type: ignore[arg-type]
    assert error.params == {"network": "btc", "detail": "not_text"}


def test_result_is_frozen() -> None:
    result = validate_address(BTC_P2PKH, network="btc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.address = BTC_P2SH  # type: ignore[misc]


# --- memo ---------------------------------------------------------------------------------------

XLM = "GCKFBEIYV2U22IO2BJ4KVJOIP7XPWQGQFKKWXR6DOSJBV7STMAQSMTGG"  # format-only fallback check


@pytest.mark.parametrize(
    ("memo", "network", "detail"),
    [
        ("m" * 65, "xlm", "too_long"),
        ("12\x0034", "xlm", "control_char"),
        ("12\t34", "xlm", "control_char"),
        ("12\u200b34", "xlm", "non_ascii"),
        ("١٢٣", "xlm", "non_ascii"),
        ("abc", "xrp", "xrp_tag"),
        ("4294967296", "xrp", "xrp_tag"),
        ("99999999999", "xrp", "xrp_tag"),
        ("-1", "xrp", "xrp_tag"),
        ("1.5", "xrp", "xrp_tag"),
        ("１２３", "xrp", "non_ascii"),
    ],
)
def test_memo_invalid(memo: str, network: str, detail: str) -> None:
    address = XRP_GENESIS if network == "xrp" else XLM
    error = refused(address, network=network, needs_memo=True, memo=memo)
    assert error.reason == "memo_invalid"
    assert error.params["detail"] == detail


@pytest.mark.parametrize("memo", [None, "", "   "])
def test_memo_required(memo: str | None) -> None:
    error = refused(XRP_GENESIS, network="xrp", needs_memo=True, memo=memo)
    assert (error.reason, error.params) == ("memo_required", {"network": "xrp"})


@pytest.mark.parametrize(
    ("memo", "expected"),
    [("0", "0"), ("4294967295", "4294967295"), (" 123 ", "123"), ("007", "7")],
)
def test_xrp_tags(memo: str, expected: str) -> None:
    result = validate_address(XRP_GENESIS, network="xrp", needs_memo=True, memo=memo)
    assert result.memo == expected


def test_xrp_tag_rule_follows_the_currency_too() -> None:
    error = refused(XRP_GENESIS, network="xrpl", currency="XRP", needs_memo=True, memo="abc")
    assert error.params["detail"] == "xrp_tag"


def test_text_memo_accepted_up_to_the_limit() -> None:
    result = validate_address(XLM, network="xlm", needs_memo=True, memo="m" * 64)
    assert result.memo == "m" * 64
    assert validate_address(XLM, network="xlm", needs_memo=True, memo="a b").memo == "a b"


def test_memo_ignored_when_not_needed() -> None:
    result = validate_address(BTC_P2PKH, network="btc", memo="12345")
    assert result.memo is None
    assert validate_address(BTC_P2PKH, network="btc", memo="\x00" * 100).memo is None


def test_address_is_checked_before_memo() -> None:
    error = refused("r" + "x" * 10, network="xrp", needs_memo=True, memo=None)
    assert error.reason == "bad_format"


# --- fallback networks --------------------------------------------------------------------------

SOL_REGEX = "^[1-9A-HJ-NP-Za-km-z]{32,44}$"
SOL = "So11111111111111111111111111111111111111112"


def test_fallback_uses_wallet_regex() -> None:
    assert validate_address(SOL, network="sol", wallet_regex=SOL_REGEX).address == SOL
    error = refused(SOL + "0", network="sol", wallet_regex=SOL_REGEX)
    assert error.params == {"network": "sol", "detail": "pattern"}


def test_wallet_regex_must_match_the_whole_address() -> None:
    error = refused(SOL + "!!", network="sol", wallet_regex="[1-9A-HJ-NP-Za-km-z]{32,44}")
    assert error.params["detail"] == "pattern"


def test_wallet_regex_may_allow_what_the_generic_rule_does_not() -> None:
    result = validate_address(
        "binancecleos", network="eos", needs_memo=True, memo="1", wallet_regex=r"^[a-z1-5.]{1,12}$"
    )
    assert result.address == "binancecleos"


def test_wallet_regex_never_lets_whitespace_or_unicode_through() -> None:
    assert refused("ab cd" * 5, network="x", wallet_regex=".*").params["detail"] == "whitespace"
    assert refused("abc" + ZWSP * 20, network="x", wallet_regex=".*").reason == "bad_format"


@pytest.mark.parametrize(
    "broken", ["([", "*", "a{99999999999999999999}", "(" * 10000 + ")" * 10000]
)
def test_broken_wallet_regex_falls_back_to_the_generic_rule(
    broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core.addresses"):
        assert validate_address(SOL, network="sol", wallet_regex=broken).address == SOL
        assert refused("abc-def-ghi-jkl-mno-pqr", network="sol", wallet_regex=broken).params == {
            "network": "sol",
            "detail": "charset",
        }


@pytest.mark.parametrize(
    ("address", "detail"),
    [
        ("short123", "length"),
        ("a" * 19, "length"),
        ("abc_defghijklmnopqrstuv", "charset"),
        ("bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", "charset"),
    ],
)
def test_generic_rule_is_strict(address: str, detail: str) -> None:
    error = refused(address, network="newcoin")
    assert error.params == {"network": "newcoin", "detail": detail}


@pytest.mark.parametrize("address", ["a" * 20, "A1" * 64, "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"])
def test_generic_rule_accepts_plain_alphanumerics(address: str) -> None:
    assert validate_address(address, network="newcoin").address == address


def test_fallback_failure_names_a_recognised_address() -> None:
    error = refused(USDT_TRC20, network="sol", wallet_regex="^[1-9A-HJ-NP-Za-km-z]{43,44}$")
    assert (error.reason, error.params["looks_like"]) == ("wrong_network", "trx")


# --- transaction hashes -------------------------------------------------------------------------

HASH = "a1075db55d416d3ca199f55b6084e2115b9345e16c5cf302fc80e9d5fbf5d48d"


@pytest.mark.parametrize(
    ("tx_hash", "network", "expected"),
    [
        (HASH, "btc", HASH),
        (HASH.upper(), "ltc", HASH),
        (f" {HASH}\n", "trx", HASH),
        ("0x" + HASH, "eth", "0x" + HASH),
        (HASH.upper(), "eth", "0x" + HASH),
        ("0x" + HASH.upper(), "bsc", "0x" + HASH),
        (HASH, "polygon", "0x" + HASH),
        (
            "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW",
            "sol",
            "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW",
        ),
        ("a" * 16, "newcoin", "a" * 16),
        ("A" * 128, "newcoin", "A" * 128),
        (HASH, "xrp", HASH),
    ],
)
def test_tx_hash_valid(tx_hash: str, network: str, expected: str) -> None:
    assert validate_tx_hash(tx_hash, network=network) == expected


@pytest.mark.parametrize(
    ("tx_hash", "network"),
    [
        ("", "btc"),
        ("0x" + HASH, "btc"),
        ("0x" + HASH, "trx"),
        (HASH[:-1], "ltc"),
        (HASH + "0", "btc"),
        (HASH[:-1] + "g", "btc"),
        (HASH[:10] + " " + HASH[10:], "btc"),
        (HASH[:-1] + "\u0430", "btc"),
        ("0X" + HASH, "eth"),
        ("0x" + HASH[:-1], "eth"),
        ("0x" + HASH + "00", "eth"),
        ("0x" + "a" * 40, "eth"),
        ("0x0x" + HASH, "eth"),
        ("a" * 15, "sol"),
        ("a" * 129, "sol"),
        ("abc-def-ghi-jkl-mno", "sol"),
        ("abcdefghijklmnop\u0430", "sol"),
        ("٠" * 64, "btc"),
    ],
)
def test_tx_hash_invalid(tx_hash: str, network: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        validate_tx_hash(tx_hash, network=network)
    assert (info.value.reason, info.value.params) == ("bad_tx_hash", {"network": network})


# --- single-character flips ---------------------------------------------------------------------

# (valid address, network, alphabet its characters come from). Single-case EVM addresses carry no
# checksum, so only EIP-55 mixed-case ones are here.
FLIP_VECTORS = [
    (BTC_P2PKH, "btc", B58),
    (BTC_P2SH, "btc", B58),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "btc", B58),
    (BTC_BECH32, "btc", bech32.CHARSET),
    (BTC_TAPROOT, "btc", bech32.CHARSET),
    (USDT_TRC20, "trx", B58),
    ("TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8", "trx", B58),
    (LTC_P2PKH, "ltc", B58),
    (LTC_P2SH, "ltc", B58),
    (LTC_BECH32, "ltc", bech32.CHARSET),
    (XRP_GENESIS, "xrp", base58.XRP_ALPHABET.decode()),
    *((address, "eth", HEX) for address in [*EIP55_MIXED, USDT_ERC20]),
]


def flip(address: str, index: int, char: str) -> str:
    return address[:index] + char + address[index + 1 :]


@settings(max_examples=400, deadline=None)
@given(vector=st.sampled_from(FLIP_VECTORS), data=st.data())
def test_any_single_flip_of_a_vector_is_refused(
    vector: tuple[str, str, str], data: st.DataObject
) -> None:
    address, network, alphabet = vector
    index = data.draw(st.integers(0, len(address) - 1))
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != address[index]))
    with pytest.raises(InvalidAddress):
        validate_address(flip(address, index, char), network=network)


@st.composite
def generated_addresses(draw: st.DrawFn) -> tuple[str, str, str]:
    """Fresh addresses built by the reference encoders (base58, bech32, BIP-350)."""
    kind = draw(st.sampled_from(["b58", "segwit0", "segwit1"]))
    if kind == "b58":
        version, network = draw(
            st.sampled_from(
                [(0x00, "btc"), (0x05, "btc"), (0x30, "ltc"), (0x32, "ltc"), (0x41, "trx")]
            )
        )
        payload = draw(st.binary(min_size=20, max_size=20).filter(any))
        return base58.b58encode_check(bytes([version]) + payload).decode(), network, B58
    hrp, network = draw(st.sampled_from([("bc", "btc"), ("ltc", "ltc")]))
    size = draw(st.sampled_from([20, 32])) if kind == "segwit0" else 32
    program = draw(st.binary(min_size=size, max_size=size).filter(any))
    address = (
        bech32.encode(hrp, 0, program) if kind == "segwit0" else bech32m_encode(hrp, 1, program)
    )
    assert address is not None
    return address, network, bech32.CHARSET


@settings(max_examples=300, deadline=None)
@given(generated=generated_addresses(), data=st.data())
def test_any_single_flip_of_a_generated_address_is_refused(
    generated: tuple[str, str, str], data: st.DataObject
) -> None:
    address, network, alphabet = generated
    assert validate_address(address, network=network).address == address
    index = data.draw(st.integers(0, len(address) - 1))
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != address[index]))
    with pytest.raises(InvalidAddress):
        validate_address(flip(address, index, char), network=network)


@pytest.mark.parametrize("address", [*EIP55_MIXED, USDT_ERC20])
def test_every_single_flip_of_an_eip55_vector_is_refused(address: str) -> None:
    # EIP-55 catches a flip only with high probability (not certainty, unlike bech32), so the
    # whole flip space of these vectors is checked instead of sampled.
    for index in range(len(address)):
        for char in HEX:
            if char != address[index]:
                with pytest.raises(InvalidAddress):
                    validate_address(flip(address, index, char), network="eth")
