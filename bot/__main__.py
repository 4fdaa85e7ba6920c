"""paybot command line: run | migrate | reconcile | check-config [--show] | ids.

Exit status 2 with one clear message for configuration problems; never a traceback for them.
`run` and `check-config` share one validation (core.config.check_settings), which reports every
problem at once; `check-config --show` also prints each effective value and where it came from.
`ids` needs only the bot token: it answers /id in any chat (and prints it), to find the admin
group's chat id and the admins' user ids before the first `run`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from core.config import Settings, check_settings, effective_values, load_settings
from core.errors import ConfigError
from core.exit_codes import ExitCode
from core.logging import redact, setup_logging

log = logging.getLogger("paybot")


def _config_failure(error: ConfigError) -> ExitCode:
    detail = error.params.get("detail", str(error))
    print(f"paybot: configuration error\n{detail}", file=sys.stderr)
    return ExitCode.CONFIG


async def _migrate(settings: Settings) -> None:
    """As the owner (database.owner_url, else database.url): the schema, then the app role."""
    from core.db.roles import ensure_app_role, owner_url
    from core.migrate import migrate

    url = owner_url(settings.database)
    await migrate(url)
    log.info("database schema is up to date")
    await ensure_app_role(settings.database, url)


async def _reconcile(settings: Settings) -> ExitCode:
    """Check the ledger; mismatches are also queued as an alert for the admin chat."""
    from core import ledger
    from core.admin import reconcile_and_alert
    from core.db.session import create_engine, create_session_factory, database_url

    engine = create_engine(database_url(settings.database), pool_size=1)
    try:
        mismatches = await reconcile_and_alert(create_session_factory(engine), settings)
    finally:
        await engine.dispose()
    print(ledger.describe(mismatches))
    return ExitCode.FAILED if mismatches else ExitCode.OK


async def _run(settings: Settings) -> ExitCode:
    from bot.app import run_app

    return await run_app(settings)


def _check_config(settings: Settings, warnings: list[str], *, show: bool) -> ExitCode:
    if show:
        rows = effective_values(settings)
        width = max(len(key) for key, _, _ in rows)
        for key, value, origin in rows:
            print(f"{key:<{width}}  {value}  [{origin}]")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("configuration is valid" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> ExitCode:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "migrate", "reconcile", "check-config", "ids"],
    )
    parser.add_argument(
        "--show",
        action="store_true",
        help="check-config: print every effective value and its source (secrets masked)",
    )
    args = parser.parse_args(argv)
    warnings: list[str] = []
    try:
        if args.command in ("run", "check-config"):
            checked = check_settings()
            settings, warnings = checked.settings, checked.warnings
        else:
            settings = load_settings()
    except ConfigError as error:
        return _config_failure(error)
    setup_logging(
        settings.logging.level, settings.secrets(), json_format=settings.logging.json_format
    )
    if args.command == "check-config":
        return _check_config(settings, warnings, show=args.show)
    if args.command == "ids" and settings.telegram.bot_token is None:
        return _config_failure(
            ConfigError(
                "incomplete",
                detail="telegram.bot_token: missing (get one from @BotFather; set"
                " PAYBOT_TELEGRAM__BOT_TOKEN in the environment or .env)",
            )
        )
    try:
        if args.command == "migrate":
            asyncio.run(_migrate(settings))
            return ExitCode.OK
        if args.command == "reconcile":
            return asyncio.run(_reconcile(settings))
        if args.command == "ids":
            from bot.setup_ids import run_ids

            return asyncio.run(run_ids(settings.telegram))
        return asyncio.run(_run(settings))
    except ConfigError as error:
        return _config_failure(error)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:  # e.g. the database unreachable, the embedded server not starting
        print(
            redact(f"paybot: {args.command} failed: {type(exc).__name__}: {exc}"),
            file=sys.stderr,
        )
        log.debug("%s failed", args.command, exc_info=exc)  # the traceback at DEBUG
        return ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
