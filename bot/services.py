"""The core services the handlers call, built once per process by ``build_services`` (called by
bot.app.build_app, which the tests and the benchmark use too) and handed to the handlers through
the dispatcher's workflow data: a handler names the one it uses as a typed argument."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.admin import (
    Adjustments,
    AdminPrompts,
    CurrencySwitch,
    DepositDesk,
    Lookups,
    StatsService,
)
from core.auth import AdminGate
from core.config import Settings
from core.deposits import DepositService
from core.ledger_views import LedgerReports
from core.nowpayments import NowPaymentsClient
from core.withdrawals import WithdrawalActions, WithdrawalService


@dataclass(frozen=True, slots=True)
class Services:
    """Field names are the workflow-data keys (and so the handlers' argument names)."""

    admin_gate: AdminGate
    deposits: DepositService
    withdrawals: WithdrawalService
    withdrawal_actions: WithdrawalActions
    admin_stats: StatsService
    lookups: Lookups
    adjustments: Adjustments
    admin_prompts: AdminPrompts
    currency_switch: CurrencySwitch
    deposit_desk: DepositDesk
    ledger_reports: LedgerReports

    def workflow_data(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_services(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, nowpayments: NowPaymentsClient
) -> Services:
    withdrawals = WithdrawalService(sessions, settings)
    return Services(
        admin_gate=AdminGate(settings.telegram.admin_ids),
        deposits=DepositService(sessions, nowpayments, settings),
        withdrawals=withdrawals,
        withdrawal_actions=WithdrawalActions(sessions, settings, withdrawals),
        admin_stats=StatsService(sessions),
        lookups=Lookups(sessions),
        adjustments=Adjustments(sessions),
        admin_prompts=AdminPrompts(sessions),
        currency_switch=CurrencySwitch(sessions),
        deposit_desk=DepositDesk(sessions, settings),
        ledger_reports=LedgerReports(sessions),
    )
