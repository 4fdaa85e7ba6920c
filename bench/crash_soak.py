"""Crash soak: tests/chaos/harness.py at length. ``python -m bot run`` is SIGKILLed ``--kills``
times under a mixed money workload on a throw-away database, then everything must settle.

Usage: python -m bench.crash_soak [--kills 200] [--seed N] [--users 8] [--max-uptime 1.5]
                                  [--settle-timeout 120] [--real-notifier-lease]
Prints the tally (kills, deposits, credits, withdrawals by end state, pushes delivered,
duplicated, lost, checker violations) and the seed; exit status 1 if anything was lost, sent
more often than claimed, or the checker found a violation. ``--real-notifier-lease`` leaves a
killed process's claimed pushes to the next start's take-over instead of ending them by SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bench.common import throwaway_database
from tests.chaos.harness import CrashOptions, run_crash


def _log(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_soak", description=__doc__)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--max-uptime", type=float, default=1.5)
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--real-notifier-lease", action="store_true")
    args = parser.parse_args(argv)
    options = CrashOptions(
        kills=args.kills,
        seed=args.seed,
        users=args.users,
        max_uptime=args.max_uptime,
        settle_timeout=args.settle_timeout,
        expire_notifier_leases=not args.real_notifier_lease,
        log=_log,
    )
    async with throwaway_database() as url:
        tally = await run_crash(url, options)
    print(tally.report())
    print("OK" if tally.ok else "FAILED")
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
