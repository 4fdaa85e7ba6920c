"""The admin chat's questions and confirmations read as sentences in every locale: the
withdrawal by its internal id, its state in words, and no machine line (a ref line, a database
id) for a handler to read back."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import pytest

from bot import texts
from bot.i18n import LOCALES, use_locale
from core.admin import AdjustmentPlan, Person
from core.db.models import TxType, WithdrawalStatus
from tests.unit.test_texts import rejected

ROW_ID = 987_654  # a database id no human-facing number here contains
MACHINE = re.compile(r"\bref:|#[0-9]|987654")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("status", [WithdrawalStatus.PENDING, WithdrawalStatus.APPROVED])
def test_the_reject_question_names_the_withdrawal_as_the_card_does(
    locale: str, status: WithdrawalStatus
) -> None:
    view = replace(rejected(ROW_ID, ""), status=status)
    with use_locale(locale):
        text = texts.admin_reject_prompt(view, 42, "Boss <b>")
        state = texts.ADMIN_WD_STATUS[status.value]
    assert not MACHINE.search(text), text
    assert view.internal_id in text and "@u" in text and "Boss &lt;b&gt;" in text
    assert "?" in text and "state-unknown" not in text
    assert state.split()[-1].lower() in text.lower()  # "pending", "ожидает"… in words


@pytest.mark.parametrize("locale", LOCALES)
def test_the_hash_question_and_the_confirmation_carry_no_machine_line(locale: str) -> None:
    view = replace(rejected(ROW_ID, ""), status=WithdrawalStatus.PROCESSING)
    plan = AdjustmentPlan(
        Person(780001, "alice"), TxType.ADJUSTMENT, Decimal("5.00"), "fee", Decimal("10.00")
    )
    with use_locale(locale):
        asked = texts.admin_complete_prompt(view, 42, "Boss")
        confirm = texts.admin_adjust_confirm(plan)
    for text in (asked, confirm):
        assert not MACHINE.search(text), text
    assert view.internal_id in asked and view.wallet_address in asked and "?" in asked
    assert "adjustment 780001" not in confirm and confirm.rstrip().endswith("fee")
