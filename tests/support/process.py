"""`python -m bot run` as a child process against the fakes: its environment and a handle that
collects its stderr (no tests here)."""

from __future__ import annotations

import asyncio
import os
import sys

from core.config import ENV_FILE_ENV
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID
from tests.support.paths import ROOT


def child_env() -> dict[str, str]:
    """This environment without its PAYBOT_* settings, and no .env: a child bot process sees
    only what the test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    env[ENV_FILE_ENV] = ""
    return env


def bot_env(tg: FakeTelegram, np: FakeNowPayments, db_url: str, **extra: str) -> dict[str, str]:
    env = child_env()
    env.update(
        {
            "PAYBOT_TELEGRAM__BOT_TOKEN": tg.token,
            "PAYBOT_TELEGRAM__ADMIN_CHAT_ID": str(ADMIN_CHAT),
            "PAYBOT_TELEGRAM__ADMIN_IDS": f"[{ADMIN_ID}]",
            "PAYBOT_TELEGRAM__API_BASE_URL": tg.api_base,
            "PAYBOT_TELEGRAM__SHUTDOWN_GRACE_SECONDS": "10",
            "PAYBOT_NOWPAYMENTS__API_KEY": np.api_key,
            "PAYBOT_NOWPAYMENTS__BASE_URL": np.base_url,
            "PAYBOT_DATABASE__URL": db_url,
            "PAYBOT_LOGGING__LEVEL": "INFO",
        }
    )
    env.update(extra)
    return env


class BotProcess:
    """`python -m bot run` with its stderr collected as it comes (a full pipe would block it)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        assert proc.stderr is not None
        self._stderr = asyncio.create_task(proc.stderr.read())

    @classmethod
    async def start(cls, env: dict[str, str]) -> BotProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def finish(self, timeout: float = 30.0) -> tuple[int, str]:  # noqa: ASYNC109
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        return code, (await self._stderr).decode()
