"""The exit status of every command line here (``python -m bot``, ``python -m core.invariants``),
defined once; README "Commands and exit codes" lists them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # reconcile: everything consistent
    FAILED = 1  # a service died, the database was unreachable; reconcile: a mismatch
    CONFIG = 2  # a configuration problem, named
    ALREADY_RUNNING = 3  # run: another process already polls with this bot token
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
