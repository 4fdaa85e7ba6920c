"""Crash safety, proven by a killed process: ``python -m bot run`` is SIGKILLed at random
moments under a mixed money workload (see harness.py). The invariants hold after every kill;
after the last restart everything settles; every push to a user arrived, none was sent more
often than it was claimed (a second send only after a kill cut off the first claim); every
withdrawal has its admin card. The long run is ``python -m bench.crash_soak --kills 200``;
PAYBOT_CRASH_SEED replays a workload."""

from __future__ import annotations

import os

from tests.chaos.harness import CrashOptions, run_crash
from tests.support.db import Db
from tests.support.process import ForkServer

KILLS = 10


async def test_killed_bot_loses_no_money_and_no_push(
    fresh_db: Db, fork_server: ForkServer
) -> None:
    seed = int(os.environ["PAYBOT_CRASH_SEED"]) if os.environ.get("PAYBOT_CRASH_SEED") else None
    tally = await run_crash(fresh_db.url, CrashOptions(kills=KILLS, seed=seed), fork_server)
    print(tally.report())  # shown with -s; on failure in the assertion (the seed first)
    assert tally.ok, tally.report()
    assert tally.kills == KILLS and tally.checks == KILLS + 1
    # The workload did what it claims, so the proof is not empty.
    assert tally.credited > 0 and tally.delivered > 0 and tally.cards > 0, tally.report()
