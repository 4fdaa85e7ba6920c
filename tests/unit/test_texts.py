"""Wording that must stay within Telegram's limits and say what the user can do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot import texts
from core.currencies import SEED, split_code
from core.db.models import Currency, WithdrawalStatus
from core.errors import InvalidAddress, PaybotError, ProviderRefused, ProviderUnavailable
from core.withdrawals import UserRef, WithdrawalView

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rejected(n: int, reason: str) -> WithdrawalView:
    fields: dict[str, Any] = dict.fromkeys(WithdrawalView.__dataclass_fields__)
    fields.update(
        id=n,
        internal_id=f"WD_20261128120000_{n:08x}",
        user=UserRef(1, 2, "u", "U"),
        status=WithdrawalStatus.REJECTED,
        currency_code="USDTTRC20",
        amount=Decimal("100.00"),
        network_fee=Decimal("1.00"),
        service_fee=Decimal("1.00"),
        total_fee=Decimal("2.00"),
        final_amount=Decimal("98.00"),
        wallet_address="T" + "x" * 33,
        reject_reason=reason,
        created_at=NOW,
        updated_at=NOW,
    )
    return WithdrawalView(**fields)


def test_a_list_of_long_rejections_fits_one_message() -> None:
    views = [rejected(n, "<b>why</b> " * 60) for n in range(10)]  # 600+ characters each
    text = texts.withdrawals_list(views)
    assert len(text) < 4096
    assert "&lt;b&gt;why" in text and "<b>why" not in text  # escaped, never markup
    assert views[0].internal_id in text


def test_provider_refusals_say_what_to_do() -> None:
    minimum = texts.error_text("provider_refused", "below_minimum", {"currency": "BTC"})
    assert "BTC" in minimum and "larger amount" in minimum
    gone = texts.error_text("provider_refused", "currency_unavailable", {"currency": "XMR"})
    assert "XMR" in gone and "another coin" in gone


def test_a_reviewed_deposit_tells_the_user_how_it_ended() -> None:
    base = {"status": "partially_paid", "internal_id": "PAY_1", "amount_usd": "50.00"}
    credited = texts.deposit_status({**base, "reason": "review_credit", "credited_usd": "20.00"})
    assert credited.startswith("<b>✅ Deposit credited after review</b>")
    assert "Credited: $20.00" in credited
    closed = texts.deposit_status({**base, "reason": "review_close"})
    assert "nothing is credited" in closed and "contact support" in closed
    held = texts.deposit_status({**base, "reason": "partial_hold"})
    assert "an admin will review it" in held


def test_a_money_review_shows_what_arrived_at_both_rates() -> None:
    base = {
        "reason": "overpaid",
        "internal_id": "PAY_1",
        "amount_usd": "10.00",
        "pay_amount": "0.0004268",
        "actually_paid": "0.4268",
        "currency": "BTC",
        "user_telegram_id": 42,
        "invoice_value_usd": "10000.00",
    }
    shown = texts.admin_deposit_review(
        {**base, "current_value_usd": "5000.00", "current_rate_unavailable": False}
    )
    assert "Paid: 0.4268 BTC" in shown
    assert "Worth at the invoice's rate: $10,000.00" in shown
    assert "Worth at the current rate: $5,000.00" in shown
    assert "nothing credited" in shown
    failed = texts.admin_deposit_review(
        {**base, "current_value_usd": None, "current_rate_unavailable": True}
    )
    assert "Worth at the current rate: unavailable" in failed


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("overpaid", "more than the invoice"),
        ("finished_underpaid", "less than the invoice"),
        ("finished_nothing_paid", "no amount arrived"),
        ("paid_after_final", "arrived after the deposit had ended"),
        ("ended_with_payment", "some money arrived"),
    ],
)
def test_the_user_is_told_what_happens_next(reason: str, words: str) -> None:
    told = texts.deposit_status(
        {"status": "finished", "reason": reason, "internal_id": "PAY_1", "amount_usd": "10.00"}
    )
    assert words in told and "an admin will review it" in told
    assert "credited" not in told.split("\n")[0].lower()  # the title never says credited


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_a_returned_withdrawal_never_says_money_is_coming(status: str) -> None:
    told = texts.withdrawal_status(
        {
            "status": status,
            "internal_id": "WD_1",
            "amount_usd": "15.00",
            "final_amount_usd": "13.85",
            "currency": "USDTTRC20",
            "reason": "address is an exchange",
        }
    )
    assert "Returned to your balance: $15.00" in told
    assert "$13.85" not in told and "receive" not in told.lower()
    listed = texts.withdrawals_list([replace(rejected(1, "no"), status=WithdrawalStatus(status))])
    assert "$100.00</b> in USDT (TRC20)" in listed and "$98.00" not in listed


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("pending", "You receive: $13.85"),
        ("approved", "You receive: $13.85"),
        ("processing", "You receive: $13.85"),
        ("completed", "Sent to you: $13.85"),
    ],
)
def test_a_withdrawal_on_its_way_says_what_arrives(status: str, line: str) -> None:
    told = texts.withdrawal_status(
        {"status": status, "amount_usd": "15.00", "final_amount_usd": "13.85"}
    )
    assert "Amount: $15.00" in told and line in told and "Returned" not in told


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("USDTTRC20", "USDT (TRC20)"),
        ("usdterc20", "USDT (ERC20)"),
        ("USDTBSC", "USDT (BSC)"),
        ("BTC", "BTC"),
        ("TON", "TON"),
        ("", ""),
    ],
)
def test_one_name_per_coin(code: str, name: str) -> None:
    assert texts.coin_name(code) == name


def test_pushes_name_the_coin_as_the_invoice_does() -> None:
    base = {"internal_id": "PAY_1", "amount_usd": "100.00", "currency": "USDTTRC20"}
    waiting = texts.deposit_status(
        {**base, "status": "waiting", "pay_amount": "100", "pay_address": "T" + "x" * 33}
    )
    assert "Send exactly: <code>100</code> USDT (TRC20)" in waiting
    paid = texts.deposit_status({**base, "status": "finished", "actually_paid": "100"})
    assert "Paid: 100 USDT (TRC20)" in paid
    sent = texts.withdrawal_status(
        {"status": "completed", "amount_usd": "12.00", "currency": "USDTTRC20"}
    )
    assert "Coin: USDT (TRC20)" in sent
    for told in (waiting, paid, sent):
        assert "USDTTRC20" not in told


@pytest.mark.parametrize(
    "exc",
    [
        InvalidAddress("empty"),
        InvalidAddress("testnet"),
        InvalidAddress("burn_address"),
        InvalidAddress("wrong_network", expected="trx", looks_like="eth"),
        InvalidAddress("bad_checksum"),
        InvalidAddress("memo_invalid"),
    ],
)
def test_an_address_refusal_asks_once(exc: InvalidAddress) -> None:
    told = texts.withdraw_address_refused(exc)
    problem, ask = told.split("\n")
    assert ask.endswith(" — or /cancel.") and "Send" not in problem


@pytest.mark.parametrize(
    "exc",
    [
        ProviderRefused("below_minimum", currency="BTC"),
        ProviderRefused("rejected"),
        ProviderUnavailable("unreachable"),
    ],
)
def test_a_provider_refusal_at_the_amount_step_asks_once(exc: PaybotError) -> None:
    told = texts.deposit_try_again(exc)
    assert "/cancel" in told.split("\n")[-1] and told.lower().count("send") <= 1
    assert "again to retry" not in told


@pytest.mark.parametrize("paid", ["0", "0.00000000", 0])
def test_no_zero_paid_line(paid: object) -> None:
    base = {"internal_id": "PAY_1", "amount_usd": "10.00", "currency": "ETH"}
    told = texts.deposit_status(
        {**base, "status": "expired", "actually_paid": paid, "reason": "expired"}
    )
    assert "Paid" not in told and "/deposit" in told
    partial = texts.deposit_status(
        {**base, "status": "partially_paid", "actually_paid": "0.001", "reason": "partial_credit"}
    )
    assert "Paid: 0.001 ETH" in partial and "/deposit" in partial


@pytest.mark.parametrize(
    ("code", "network"),
    [*((c.code, c.network) for c in SEED), ("USDTBSC", "bsc"), ("TRX", "trx"), ("SOL", None)],
)
def test_the_coin_name_is_the_coin_lists_name(code: str, network: str | None) -> None:
    # The coin buttons show Currency.display_name (token as the sync stores it): the same name.
    token, _ = split_code(code, network)
    assert texts.coin_name(code) == Currency(code=code, token=token).display_name
