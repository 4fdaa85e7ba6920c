"""Texts per locale: money, crypto amounts and dates formatted the locale's way, what the bot
writes reads back, Russian wording where a Russian user reads, and the Menu button on every step's
keyboard."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import keyboards, texts
from bot.callbacks import Flow, MenuAction, MenuCallback
from bot.i18n import LOCALES, use_locale
from core.errors import InvalidAmount
from core.ledger import Balance
from core.money import MAX_USD, parse_usd

NBSP = "\u00a0"
usd_amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=MAX_USD, places=2, allow_nan=False, allow_infinity=False
)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "$1,234.50"), ("ru", f"1{NBSP}234,50{NBSP}$")],
)
def test_usd_is_written_the_locale_way(locale: str, expected: str) -> None:
    with use_locale(locale):
        assert texts.usd(Decimal("1234.5")) == expected
        assert texts.usd(Decimal("-5"), signed=True).startswith("-")
        assert texts.usd(Decimal("5"), signed=True).startswith("+")


@pytest.mark.parametrize("locale", LOCALES)
@given(amount=usd_amounts)
def test_every_usd_amount_the_bot_writes_parses_back_to_itself(
    locale: str, amount: Decimal
) -> None:
    with use_locale(locale):
        written = texts.usd(amount)
        signed = texts.usd(-amount, signed=True)
    assert parse_usd(written) == amount
    assert parse_usd(signed, allow_negative=True) == -amount


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("1 234,50", "1234.50"),
        (f"1{NBSP}234,50", "1234.50"),
        (f"1{NBSP}234,50{NBSP}$", "1234.50"),
        ("1\u202f234,50 $", "1234.50"),
        ("10 000", "10000.00"),
        ("12,5", "12.50"),
        ("$1,234.50", "1234.50"),
        ("10,000", "10000.00"),
        ("25$", "25.00"),
    ],
)
def test_amounts_typed_as_either_locale_writes_them(typed: str, value: str) -> None:
    assert parse_usd(typed) == Decimal(value)


@pytest.mark.parametrize("typed", ["1.234,50", "1 23", "1 2345", "1,23,456", "12 ,5"])
def test_mixed_or_broken_grouping_is_refused(typed: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_usd(typed)
    for locale in LOCALES:
        with use_locale(locale):
            refusal = texts.withdraw_amount_refused(caught.value)
        problem = refusal.splitlines()[0]
        assert problem.count(".") <= 1, problem  # one sentence says what is wrong


@pytest.mark.parametrize("locale", LOCALES)
def test_crypto_amounts_are_shown_exactly(locale: str) -> None:
    tiny = Decimal("0.000000000000000001")
    long = Decimal("12345.123456789012345678")
    with use_locale(locale):
        shown_tiny, shown_long = texts.crypto(tiny), texts.crypto(long)
    separator = "," if locale == "ru" else "."
    assert shown_tiny == f"0{separator}000000000000000001"
    assert shown_long.replace(NBSP, "").replace(",", "").replace(".", "") == (
        "12345123456789012345678"
    )
    assert texts.crypto("not a number") == "not a number"


def test_dates_stay_in_utc_in_the_locale_format() -> None:
    moment = datetime(2026, 1, 5, 13, 4, tzinfo=UTC)
    with use_locale("en"):
        assert texts.when(moment) == "2026-01-05 13:04 UTC"
    with use_locale("ru"):
        assert texts.when(moment) == "05.01.2026 13:04 UTC"


def test_a_russian_user_reads_russian() -> None:
    balance = Balance(1, Decimal("1234.50"), Decimal("2000"), Decimal("765.50"), None)
    with use_locale("ru"):
        welcome = texts.welcome("Иван", balance.balance)
        card = texts.balance_card(balance)
        status = texts.withdrawal_status(
            {"status": "rejected", "internal_id": "W-1", "amount_usd": "15.00"}
        )
        menu = [b.text for row in keyboards.main_menu().inline_keyboard for b in row]
    assert "Здравствуйте, Иван" in welcome and f"1{NBSP}234,50{NBSP}$" in welcome
    assert "Всего пополнено" in card
    assert "Вывод отклонён" in status and "Возвращено на баланс" in status
    assert "➕ Пополнить" in menu
    with use_locale("en"):
        assert "Welcome, Иван" in texts.welcome("Иван", balance.balance)


def test_constants_are_read_in_the_current_locale() -> None:
    with use_locale("ru"):
        assert texts.CANCELLED.startswith("Отменено")
        assert texts.ADMIN_WD_TOAST["approve"].startswith("Одобрено")
        commands = dict(texts.USER_COMMANDS)
    with use_locale("en"):
        assert texts.CANCELLED.startswith("Cancelled")
    assert commands["balance"] == "Баланс и итоги"


def _menu_data() -> str:
    return MenuCallback(action=MenuAction.MENU).pack()


def _has_menu(markup: object) -> bool:
    rows = getattr(markup, "inline_keyboard", None) or []
    return any(button.callback_data == _menu_data() for row in rows for button in row)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_flow_step_keyboard_leads_back_to_the_menu(locale: str) -> None:
    with use_locale(locale):
        steps = {
            "coin": keyboards.currency_picker([("BTC", "BTC")], flow=Flow.DEPOSIT, page=0),
            "coin (withdraw)": keyboards.currency_picker(
                [("BTC", "BTC")], flow=Flow.WITHDRAW, page=0
            ),
            "amount": keyboards.deposit_presets("BTC", [Decimal("25")]),
            "amount, no presets": keyboards.deposit_presets("BTC", []),
            "typed text": keyboards.menu_only(),
            "confirm": keyboards.withdraw_confirm(),
        }
        label = texts.BTN_MENU
    for name, markup in steps.items():
        assert _has_menu(markup), name
    assert label == ("☰ Меню" if locale == "ru" else "☰ Menu")


def test_language_picker_names_each_language_in_itself() -> None:
    with use_locale("ru"):
        labels = [b.text for b in keyboards.language_picker().inline_keyboard[0]]
    assert labels == ["English", "Русский"]


_DEPOSIT_REASONS = (
    "", "partial_hold", "partial_credit", "amount_unknown", "overpaid", "finished_underpaid",
    "finished_nothing_paid", "paid_after_final", "ended_with_payment", "review_credit",
    "review_close",
)  # fmt: skip
_DEPOSIT_STATUSES = (
    "waiting", "confirming", "confirmed", "sending", "partially_paid", "finished", "failed",
    "refunded", "expired", "cancelled", "create_failed", "something_new",
)  # fmt: skip


def test_every_push_renders_in_every_locale_and_differs_between_them() -> None:
    rendered: dict[str, list[str]] = {}
    for locale in LOCALES:
        with use_locale(locale):
            out = [
                texts.deposit_status(
                    {
                        "status": status,
                        "reason": reason,
                        "internal_id": "D-1",
                        "amount_usd": "25.00",
                        "currency": "usdttrc20",
                        "actually_paid": "12.5",
                        "pay_amount": "25.000001",
                        "pay_address": "TAddr",
                    }
                )
                for status in _DEPOSIT_STATUSES
                for reason in _DEPOSIT_REASONS
            ]
            out += [
                texts.withdrawal_status(
                    {"status": status, "internal_id": "W-1", "amount_usd": "15.00"}
                )
                for status in ("pending", "approved", "processing", "completed", "rejected",
                               "cancelled", "something_new")
            ]  # fmt: skip
            out += [
                texts.outbox_undelivered(
                    {"kind": kind, "chat_id": 5, "internal_id": "W-1", "fallback": True}
                )
                for kind in ("withdrawal_card", "deposit_status", "reconcile_alert", "odd")
            ]
            out.append(texts.outbox_backlog({"depth": 3, "oldest_minutes": 9}))
            out.append(texts.admin_deposit_review({"reason": "overpaid", "user_telegram_id": 7}))
            out.append(texts.admin_reconcile_alert({"count": 3, "users": 2, "more": 1}))
            rendered[locale] = out
    for english, russian in zip(rendered["en"], rendered["ru"], strict=True):
        assert english != russian
    ru_paid = [text for text in rendered["ru"] if "Оплачено: 12,5 USDT (TRC20)" in text]
    assert ru_paid, "a crypto amount in a Russian push uses the decimal comma"
