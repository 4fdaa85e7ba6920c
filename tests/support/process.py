"""`python -m bot run` as a child process against the fakes: its environment, and a handle on
the process, either exec'd (``BotProcess.start``, the very command an operator types) or forked
from a fork server that imported the bot once (``ForkServer.start``; see tests/support/zygote.py)
(no tests here)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from core.config import ENV_FILE_ENV
from tests.fakes.nowpayments import FakeNowPayments
from tests.fakes.telegram import FakeTelegram
from tests.support import zygote
from tests.support.e2e import ADMIN_CHAT, ADMIN_ID
from tests.support.paths import ROOT
from tests.support.waiting import wait_until


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

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

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


class ForkedBot:
    """A bot forked by the ForkServer: the same handle as BotProcess. It is not this process's
    child, so its end is read from the status file the server's waiter writes."""

    def __init__(self, pid: int, files: Path) -> None:
        self.pid = pid
        self._stdout = files.with_suffix(".out")
        self._stderr = files.with_suffix(".err")
        self._status = files.with_suffix(".status")

    @property
    def stdout(self) -> str:
        """What it printed so far."""
        return self._stdout.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self._stderr.read_text(errors="replace")

    @property
    def returncode(self) -> int | None:
        try:
            return int(self._status.read_text())
        except FileNotFoundError:
            return None

    def send_signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def finish(self, timeout: float = 30.0) -> tuple[int, str]:  # noqa: ASYNC109
        """Wait for the end (SIGKILL after ``timeout``); the status and everything it wrote."""
        if not await wait_until(self._ended, timeout, 0.02):
            self.kill()
            if not await wait_until(self._ended, 10, 0.02):
                raise RuntimeError(f"bot {self.pid} survived SIGKILL")
        code = self.returncode
        assert code is not None
        return code, self.stderr

    def _ended(self) -> bool:
        return self.returncode is not None


class ForkServer:
    """One per test process, started on first use (tests/conftest.py ``fork_server``)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = asyncio.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="paybot-forks-"))
        self._names = itertools.count()

    async def start(self, env: dict[str, str], *argv: str) -> ForkedBot:
        """``python -m bot <argv>`` (``run`` if none) with exactly ``env`` as its environment."""
        async with self._lock:  # one request, one pid line
            if self._proc is None:
                self._proc = await asyncio.to_thread(_spawn_server)
            files = self._dir / str(next(self._names))
            request = {
                "argv": list(argv or ("run",)),
                "env": env,
                "cwd": str(ROOT),
                "stdout": str(files.with_suffix(".out")),
                "stderr": str(files.with_suffix(".err")),
                "status": str(files.with_suffix(".status")),
            }
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            pid = await asyncio.to_thread(_reply, self._proc)
            return ForkedBot(int(pid), files)

    def close(self) -> None:
        if self._proc is not None:
            stdin: IO[str] | None = self._proc.stdin
            if stdin is not None:
                stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
        for path in self._dir.iterdir():
            path.unlink()
        self._dir.rmdir()


def _spawn_server() -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.zygote"],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if _reply(proc) != zygote.READY:
        raise RuntimeError("the fork server did not start")
    return proc


def _reply(proc: subprocess.Popen[str]) -> str:
    """The server's next line (blocking: run in a thread)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the fork server ended (exit {proc.poll()})")
    return line.strip()
