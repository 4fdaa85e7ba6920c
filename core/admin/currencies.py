"""/currencies: the list, an admin's on/off switch, and a sync from the provider."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import currencies
from core.auth import Admin
from core.currencies import CurrencyCatalog, SyncResult
from core.db.models import Currency


class CurrencySwitch:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list_all(self, *, admin: Admin) -> list[Currency]:
        async with self._sessions() as session:
            return await currencies.list_all(session)

    async def set_active(self, code: str, active: bool, *, admin: Admin) -> Currency:
        """Raises NotFound (currency)."""
        async with self._sessions.begin() as session:
            return await currencies.set_active(session, code, active, admin.telegram_id)

    async def sync(self, catalog: CurrencyCatalog, *, admin: Admin) -> SyncResult:
        """From the provider, with fresh lists; never raises for provider trouble (the result
        says)."""
        catalog.forget_lists()
        return await currencies.sync(self._sessions, catalog)
