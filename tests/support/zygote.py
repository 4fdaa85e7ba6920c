"""A fork server for ``python -m bot``: run as ``python -m tests.support.zygote``.

Importing aiogram's types costs seconds of CPU per interpreter, which the tests would otherwise
pay for every bot process they start. This process imports the bot once, then for every request
line on stdin (JSON: argv, env, cwd, and paths for stdout, stderr and the status) forks a waiter,
and the waiter
forks the bot: the bot gets the request's environment, directory and streams and runs
bot/__main__.py as ``__main__``, exactly as ``python -m bot <argv>`` does; the waiter reaps it
and writes its status the way asyncio reports one (the exit code, or minus the signal), then
exits. The bot's pid is the reply line. EOF on stdin ends the server (its bots run on)."""

from __future__ import annotations

import importlib
import json
import os
import runpy
import signal
import sys
import traceback
from typing import Any

# What ``python -m bot`` imports, loaded once here so no forked bot pays for it; not
# bot/__main__.py itself: runpy warns when it finds that module already loaded.
PRELOAD = ("bot.app", "bot.handlers", "bot.setup_ids", "core.admin", "core.config", "core.migrate")
READY = "ready"


def _run_bot(request: dict[str, Any]) -> int:
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), fd)
    sys.argv = ["bot", *request["argv"]]
    try:
        runpy.run_module("bot", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - what python would print before exiting 1
        traceback.print_exc()
        return 1
    return 0


def _wait_and_record(request: dict[str, Any]) -> None:
    """In the waiter: fork the bot, say its pid, record how it ended."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _run_bot(request)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    sys.stdout.write(f"{pid}\n")
    sys.stdout.flush()
    _, status = os.waitpid(pid, 0)
    partial = request["status"] + ".part"
    with open(partial, "w") as f:
        f.write(str(os.waitstatus_to_exitcode(status)))
    os.replace(partial, request["status"])  # whole, or not there yet


def main() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # waiters are reaped by the kernel
    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the waiter reaps its bot
            try:
                os.setpgid(0, 0)  # a signal to the test's group does not reach the bots
                _wait_and_record(request)
            finally:
                os._exit(0)


if __name__ == "__main__":
    main()
