"""bot/reports without a database: every new text formats in both languages, the CSV cells
(exact amounts, formula neutralising), the /transactions and /export arguments, the help texts
with per-coin limits, and the admin help against the registered admin commands."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.i18n import LOCALES, LOCALES_DIR, catalog, t, use_locale
from bot.reports import export, transactions
from bot.reports.help import ADMIN_COMMANDS, admin_help, user_help
from bot.reports.transactions import ArgumentError, parse_arguments, since_code, since_of
from core.db.models import TxType
from core.ledger_views import LedgerRow
from core.limits import CoinLimits, Limits

D = Decimal
OURS = ("adjustments.ftl", "export.ftl", "help.ftl", "transactions.ftl")


def test_our_files_parse_whole_and_every_message_formats_in_both_languages() -> None:
    books = catalog()
    variable = re.compile(r"\$([a-z_][a-z0-9_-]*)")
    for name in OURS:
        for locale in LOCALES:
            source = (LOCALES_DIR / locale / name).read_text(encoding="utf-8")
            declared = re.findall(r"(?m)^([a-z][a-z0-9-]*) =", source)
            # A syntax error turns a message into Fluent "Junk", which the bundle drops silently.
            loaded = {k for k, p in books.files[locale].items() if p.name == name}
            assert set(declared) == loaded, (locale, name, set(declared) ^ loaded)
            for key in declared:
                block = re.search(rf"(?ms)^{re.escape(key)} =(.*?)(?=^[a-z#-]|\Z)", source)
                assert block is not None
                args: dict[str, object] = dict.fromkeys(variable.findall(block.group(1)), 2)
                if "what" in args:
                    args["what"] = "type"
                with use_locale(locale):
                    assert t(key, **args).strip(), (locale, key)


def row(**changes: object) -> LedgerRow:
    values: dict[str, object] = {
        "id": 7,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
        "telegram_id": 42,
        "username": "alice",
        "type": TxType.ADJUSTMENT,
        "amount": D("-5.00"),
        "balance_after": D("12.50"),
        "reference": None,
        "reason": "typo",
    }
    values.update(changes)
    return LedgerRow(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("fine = ok", "fine = ok"),
        ("", ""),
        (None, ""),
    ],
)
def test_free_text_cells_are_neutralised(value: str | None, cell: str) -> None:
    assert export.neutralise(value) == cell


def test_cells_keep_amounts_exact_and_times_in_utc() -> None:
    big = D("123456789012.30")
    cells = export.cells(row(amount=big, balance_after=D("0.00"), reason="=cmd", username="-x"))
    assert cells == [
        "7",
        "2026-01-02T03:04:05Z",
        "42",
        "'-x",
        "adjustment",
        "123456789012.30",
        "0.00",
        "",
        "'=cmd",
    ]
    assert export.amount(D("-5")) == "-5.00" and export.amount(D("1E+2")) == "100.00"
    text = export.csv_text([export.header(), export.cells(row(reason='a, "b"\nc'))])
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[1][8] == 'a, "b"\nc' and D(parsed[1][5]) == D("-5.00")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", transactions.TransactionArgs()),
        (
            "@Bob_1 BONUS 2026-01-31",
            transactions.TransactionArgs("@Bob_1", TxType.BONUS, date(2026, 1, 31)),
        ),
        (
            "2026-01-31 123 deposit",
            transactions.TransactionArgs("123", TxType.DEPOSIT, date(2026, 1, 31)),
        ),
    ],
)
def test_transactions_arguments(args: str, expected: transactions.TransactionArgs) -> None:
    assert parse_arguments(args) == expected


@pytest.mark.parametrize(
    "args",
    ["bob", "@", "0", "-5", "99999999999999999999", "2026-02-30", "bonus fee", "1 2", "x" * 500],
)
def test_bad_transactions_arguments_are_one_sentence(args: str) -> None:
    with pytest.raises(ArgumentError) as refused:
        parse_arguments(args)
    sentence = str(refused.value)
    assert sentence.count("\n") == 0 and len(sentence) < 400


def test_export_periods() -> None:
    assert export.parse_period(None) == (None, None)
    assert export.parse_period(" 2026-01-01  2026-01-31 ") == (date(2026, 1, 1), date(2026, 1, 31))
    for bad in ("2026-1-1", "yesterday", "2026-01-01 2026-01-02 2026-01-03", "<b>"):
        with pytest.raises(ArgumentError):
            export.parse_period(bad)
    with pytest.raises(ArgumentError) as escaped:
        export.parse_period("<b>")
    assert "&lt;b&gt;" in str(escaped.value)


def test_since_codes_round_trip_and_forged_days_fail() -> None:
    assert since_of(since_code(date(2026, 2, 28))) == date(2026, 2, 28)
    assert since_of(None) is None and since_code(None) is None
    with pytest.raises(ValueError, match="day is out of range"):
        since_of(20260231)


def limits(coins: list[CoinLimits]) -> Limits:
    return Limits(
        coins=coins,
        min_deposit=D("5.00"),
        max_deposit=D("10000.00"),
        min_withdrawal=D("10.00"),
        max_withdrawal=D("10000.00"),
        network_fee=D("1.00"),
        service_fee_fixed=D("0.50"),
        service_fee_percent=D("1.5"),
        max_pending_withdrawals=3,
    )


def test_user_help_says_per_coin_only_when_it_varies() -> None:
    same = [CoinLimits("BTC", D("5.00"), D("10.00"), D("1.00"))] * 2
    with use_locale("en"):
        text = user_help(limits(same), check_seconds=10)
    assert "From $5.00 to $10,000.00 per deposit." in text
    assert "per coin" not in text
    assert "the network fee ($1.00) plus our service fee ($0.50 + 1.5% of the amount)" in text
    varied = [
        CoinLimits("BTC", D("22.00"), D("30.00"), D("4.00")),
        CoinLimits("USDTTRC20", D("5.00"), D("10.00"), D("1.00")),
    ]
    with use_locale("en"):
        text = user_help(limits(varied), check_seconds=10)
    assert "From $5.00 to" in text
    assert "The minimum is per coin: BTC $22.00, USDT (TRC20) $5.00." in text
    assert "The minimum is per coin: BTC $30.00, USDT (TRC20) $10.00." in text
    assert "the network fee (BTC $4.00, USDT (TRC20) $1.00)" in text
    with use_locale("ru"):
        russian = user_help(limits(varied), check_seconds=10)
    assert "Минимум зависит от монеты: BTC 22,00\xa0$" in russian
    assert "1,5% от суммы" in russian


def test_admin_help_lists_each_command_once_with_an_example() -> None:
    for locale in LOCALES:
        with use_locale(locale):
            text = admin_help()
        for command in ADMIN_COMMANDS:
            lines = [x for x in text.splitlines() if x.startswith(f"/{command} ")]
            assert len(lines) == 1, (locale, command)
            assert f": /{command}" in lines[0], lines[0]


def test_the_worst_transactions_page_fits_a_message() -> None:
    from html import unescape

    from bot.reports.transactions import page_text
    from core.ledger_views import MAX_PAGE_SIZE, LedgerPage

    worst = row(
        id=2**63 - 1,
        telegram_id=2**63 - 1,
        username="w" * 64,
        amount=D("-9999999999.99"),
        balance_after=D("9999999999.99"),
        reference="PAY_20261203221449_abcdef12",
        reason="<&>" * 170,
    )
    page = LedgerPage([worst] * MAX_PAGE_SIZE, 10**9, 10**8, 10**8)
    for locale in LOCALES:
        with use_locale(locale):
            text = page_text(page, 2**63 - 1, TxType.ADJUSTMENT, date(2026, 12, 31))
        assert len(unescape(re.sub(r"<[^>]*>", "", text))) <= 4096, locale
