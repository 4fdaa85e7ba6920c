"""Configuration sources, errors that name the key, and secrets that never show."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import (
    CONFIG_ENV,
    ENV_FILE_ENV,
    check_settings,
    config_file_path,
    load_settings,
)
from core.errors import ConfigError
from core.logging import REDACTED, RedactSecrets

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_defaults_without_any_file(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.database.url is None
    assert settings.payments.min_withdrawal_usd == Decimal("10.00")
    assert settings.nowpayments.sandbox is True


def test_a_garbage_env_file_where_tests_run_changes_nothing_they_see(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """.env is read from the working directory (the repo root when a developer runs pytest):
    here a scratch directory stands in for it, so a real .env of the developer's is never
    touched. tests/conftest.py switches the source off; without that the file would matter."""
    seen = load_settings()
    monkeypatch.setenv(CONFIG_ENV, str(config_file_path().resolve()))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "PAYBOT_TELEGRAM__ADMIN_IDS=garbage\nPAYBOT_NO_SUCH__SETTING=1\nnot even a key\n"
    )
    assert load_settings() == seen
    monkeypatch.delenv(ENV_FILE_ENV)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert "telegram.admin_ids" in str(error.value)


def test_env_file_names_the_dotenv_file(clean_env: Path, monkeypatch) -> None:
    (clean_env / "prod.env").write_text("PAYBOT_PAYMENTS__MAX_PENDING_WITHDRAWALS=6\n")
    (clean_env / ".env").write_text("PAYBOT_PAYMENTS__MAX_PENDING_WITHDRAWALS=5\n")
    assert load_settings().payments.max_pending_withdrawals == 5
    monkeypatch.setenv(ENV_FILE_ENV, "prod.env")
    assert load_settings().payments.max_pending_withdrawals == 6


def test_priority_env_over_dotenv_over_yaml(clean_env: Path, monkeypatch) -> None:
    (clean_env / "config.dev.yaml").write_text(
        "payments:\n  min_withdrawal_usd: '12.00'\n  max_pending_withdrawals: 7\n"
        "telegram:\n  admin_ids: [1, 2]\n"
    )
    (clean_env / ".env").write_text("PAYBOT_PAYMENTS__MAX_PENDING_WITHDRAWALS=5\n")
    settings = load_settings()
    assert settings.payments.min_withdrawal_usd == Decimal("12.00")
    assert settings.payments.max_pending_withdrawals == 5
    assert settings.telegram.admin_ids == [1, 2]
    monkeypatch.setenv("PAYBOT_PAYMENTS__MAX_PENDING_WITHDRAWALS", "4")
    monkeypatch.setenv("PAYBOT_TELEGRAM__ADMIN_IDS", "[9]")
    settings = load_settings()
    assert settings.payments.max_pending_withdrawals == 4
    assert settings.telegram.admin_ids == [9]


def test_config_file_from_env_must_exist(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAYBOT_CONFIG", str(clean_env / "missing.yaml"))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "missing.yaml" in info.value.params["detail"]
    other = clean_env / "prod.yaml"
    other.write_text("payments:\n  service_fee_percent: '2.5'\n")
    monkeypatch.setenv("PAYBOT_CONFIG", str(other))
    assert load_settings().payments.service_fee_percent == Decimal("2.5")


@pytest.mark.parametrize(
    ("env", "value", "key"),
    [
        ("PAYBOT_PAYMENTS__MIN_WITHDRAWAL_USD", "NaN", "payments.min_withdrawal_usd"),
        ("PAYBOT_PAYMENTS__MIN_WITHDRAWAL_USD", "-1", "payments.min_withdrawal_usd"),
        ("PAYBOT_PAYMENTS__SERVICE_FEE_PERCENT", "150", "payments.service_fee_percent"),
        ("PAYBOT_TELEGRAM__BOT_TOKEN", "not-a-token", "telegram.bot_token"),
        ("PAYBOT_TELEGRAM__ADMIN_IDS", "[1, 'x']", "telegram"),
        ("PAYBOT_TELEGRAM__ADMIN_IDS", '[1, "x"]', "telegram.admin_ids"),
        ("PAYBOT_PAYMENTS__MAX_PENDING_WITHDRAWALS", "zero", "payments.max_pending_withdrawals"),
    ],
)
def test_invalid_values_name_the_key_and_both_ways(
    clean_env: Path, monkeypatch, env: str, value: str, key: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    detail = info.value.params["detail"]
    assert detail.startswith(key)
    assert env in detail and "config.dev.yaml" in detail
    assert "not-a-token" not in detail  # the input (maybe a secret) is not echoed


def test_unknown_key_in_yaml_is_an_error(clean_env: Path) -> None:
    (clean_env / "config.dev.yaml").write_text("payments:\n  min_withdrawl_usd: '5'\n")
    with pytest.raises(ConfigError, match="invalid"):
        load_settings()


def test_malformed_yaml_is_a_config_error(clean_env: Path) -> None:
    (clean_env / "config.dev.yaml").write_text("payments: [unclosed\n")
    with pytest.raises(ConfigError):
        load_settings()


def test_missing_bot_settings_listed(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as info:
        check_settings()
    detail = info.value.params["detail"]
    for key in ("telegram.bot_token", "telegram.admin_chat_id", "nowpayments.api_key"):
        assert key in detail


def test_secrets_hidden_in_repr_and_logs(clean_env: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("PAYBOT_TELEGRAM__BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__API_KEY", "ABCDEF1-GHIJKL2-MNOPQR3-STUVWX4")
    monkeypatch.setenv("PAYBOT_DATABASE__URL", "postgresql://app:s3cretpw@db/paybot")
    settings = load_settings()
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert TOKEN not in text and "ABCDEF1-GHIJKL2" not in text and "s3cretpw" not in text
    redactor = RedactSecrets(settings.secrets())
    logger = logging.getLogger("test.redaction")
    logger.addFilter(redactor)
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
        logger.info("key=%s db=%s", "ABCDEF1-GHIJKL2-MNOPQR3-STUVWX4", "s3cretpw")
        try:
            raise RuntimeError(f"failed with {TOKEN}")
        except RuntimeError:
            logger.exception("boom")
    logger.removeFilter(redactor)
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert TOKEN not in text and "ABCDEF1" not in text and "s3cretpw" not in text
    assert text.count(REDACTED) >= 4


def test_cli_exits_2_with_a_clear_message_and_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PAYBOT_CONFIG": str(tmp_path / "none.yaml")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "none.yaml" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "bad.yaml").write_text("telegram:\n  bot_token: '12:short'\n")
    env["PAYBOT_CONFIG"] = str(tmp_path / "bad.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "telegram.bot_token" in result.stderr and "PAYBOT_TELEGRAM__BOT_TOKEN" in result.stderr
    assert "12:short" not in result.stderr and "Traceback" not in result.stderr


def test_cli_database_failures_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "empty.yaml").write_text("{}\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "PAYBOT_CONFIG": str(tmp_path / "empty.yaml"),
        "PAYBOT_DATABASE__URL": f"postgresql://paybot:s3cret-pass@127.0.0.1:{port}/paybot",
    }
    for command in ("migrate", "reconcile"):
        result = subprocess.run(
            [sys.executable, "-m", "bot", command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert f"paybot: {command} failed: " in result.stderr
        assert "Traceback" not in result.stderr and "s3cret-pass" not in result.stderr


# --- check-config: every problem at once, the same for run ---------------------------------------

API_KEY = "ABCDEF1-GHIJKL2-MNOPQR3-STUVWX4"


def complete_env(monkeypatch, **overrides: str) -> None:
    values = {
        "PAYBOT_TELEGRAM__BOT_TOKEN": TOKEN,
        "PAYBOT_TELEGRAM__ADMIN_CHAT_ID": "-1001234567890",
        "PAYBOT_TELEGRAM__ADMIN_IDS": "123",
        "PAYBOT_NOWPAYMENTS__API_KEY": API_KEY,
        **overrides,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def problems_of(detail: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in detail.splitlines())


def test_check_reports_invalid_and_missing_values_together(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAYBOT_TELEGRAM__ADMIN_CHAT_ID", "123456")  # a private chat
    monkeypatch.setenv("PAYBOT_DATABASE__URL", "mysql://app:s3cretpw@db/paybot")
    monkeypatch.setenv("PAYBOT_PAYMENTS__SERVICE_FEE_PERCENT", "150")
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__API_KEY", "")
    with pytest.raises(ConfigError) as info:
        check_settings()
    detail = info.value.params["detail"]
    found = problems_of(detail)
    assert set(found) == {
        "telegram.admin_chat_id",
        "database.url",
        "payments.service_fee_percent",
        "telegram.bot_token",
        "telegram.admin_ids",
        "nowpayments.api_key",
    }
    assert found["telegram.admin_chat_id"].startswith("must be a group chat id")
    assert "/id" in found["telegram.admin_chat_id"]
    assert found["database.url"].startswith("must be a PostgreSQL URL")
    assert found["nowpayments.api_key"].startswith("missing")
    assert "s3cretpw" not in detail


def test_check_passes_a_complete_config_with_the_login_warning(
    clean_env: Path, monkeypatch
) -> None:
    complete_env(monkeypatch)
    checked = check_settings()
    assert checked.settings.telegram.admin_ids == [123]
    [warning] = checked.warnings
    assert "repeat deposits to the same address are never credited or reported" in warning
    assert "cannot be found by order_id" in warning
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__EMAIL", "ops@example.com")
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__PASSWORD", "hunter22")
    assert check_settings().warnings == []


def test_production_without_login_needs_the_documented_waiver(
    clean_env: Path, monkeypatch
) -> None:
    complete_env(monkeypatch, PAYBOT_NOWPAYMENTS__SANDBOX="false")
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__EMAIL", "ops@example.com")  # no password: no login
    with pytest.raises(ConfigError) as info:
        check_settings()
    detail = info.value.params["detail"]
    assert detail.startswith("nowpayments.email/password: required with sandbox: false")
    assert "PAYBOT_NOWPAYMENTS__ALLOW_WITHOUT_LOGIN=true" in detail
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__ALLOW_WITHOUT_LOGIN", "true")
    checked = check_settings()  # waived, and still said
    assert len(checked.warnings) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123", [123]), ("123,456", [123, 456]), (" 1, 2 ", [1, 2]), ("[7, 8]", [7, 8]), ("", [])],
)
def test_admin_ids_from_the_environment(clean_env: Path, monkeypatch, value, expected) -> None:
    monkeypatch.setenv("PAYBOT_TELEGRAM__ADMIN_IDS", value)
    assert load_settings().telegram.admin_ids == expected


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [("123", [123]), ("'123,456'", [123, 456]), ("[1, 2]", [1, 2])],
)
def test_admin_ids_from_yaml(clean_env: Path, yaml_value, expected) -> None:
    (clean_env / "config.dev.yaml").write_text(f"telegram:\n  admin_ids: {yaml_value}\n")
    assert load_settings().telegram.admin_ids == expected


@pytest.mark.parametrize("value", ["1,x", "[1, 2", "@admin", "1;2"])
def test_admin_ids_garbage_names_the_key(clean_env: Path, monkeypatch, value) -> None:
    monkeypatch.setenv("PAYBOT_TELEGRAM__ADMIN_IDS", value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.params["detail"].startswith("telegram.admin_ids: is not a list")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://app:s3cretpw@db/paybot", "must be a PostgreSQL URL"),
        ("postgresql://app:s3cretpw@db", "names no database"),
    ],
)
def test_database_url_is_parsed(clean_env: Path, monkeypatch, url, message) -> None:
    monkeypatch.setenv("PAYBOT_DATABASE__URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings()
    detail = info.value.params["detail"]
    assert detail.startswith(f"database.url: {message}")
    assert "s3cretpw" not in detail and "not a url" not in detail


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw@db:5432/paybot",
        "postgres://app@db/paybot",
        "postgresql+asyncpg://app:pw@db/paybot",
        "postgresql://app@/paybot?host=/run/postgresql",
    ],
)
def test_postgres_urls_are_accepted(clean_env: Path, monkeypatch, url) -> None:
    monkeypatch.setenv("PAYBOT_DATABASE__URL", url)
    assert load_settings().database.url is not None


def test_ipn_secret_is_refused_with_the_reason(clean_env: Path, monkeypatch) -> None:
    (clean_env / "config.dev.yaml").write_text("nowpayments:\n  ipn_secret: null\n")
    assert load_settings().nowpayments.api_key is None  # an old file's empty entry: harmless
    monkeypatch.setenv("PAYBOT_NOWPAYMENTS__IPN_SECRET", "whsec-123456")
    complete_env(monkeypatch)
    with pytest.raises(ConfigError) as info:
        check_settings()
    detail = info.value.params["detail"]
    assert detail.startswith("nowpayments: ipn_secret is no longer a setting")
    assert "no IPN webhooks" in detail and "whsec" not in detail
    assert "nowpayments.api_key" not in detail  # the key set next to it still counts


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_and_check_config_refuse_the_same_config(clean_env: Path) -> None:
    env = {
        "PAYBOT_TELEGRAM__BOT_TOKEN": TOKEN,
        "PAYBOT_TELEGRAM__ADMIN_CHAT_ID": "-100123",
        "PAYBOT_TELEGRAM__ADMIN_IDS": "1,2",
        "PAYBOT_NOWPAYMENTS__API_KEY": "",
    }
    check = run_cli("check-config", cwd=clean_env, env=env)
    run = run_cli("run", cwd=clean_env, env=env)
    assert check.returncode == run.returncode == 2
    assert check.stderr == run.stderr
    assert "nowpayments.api_key: missing" in check.stderr
    assert TOKEN not in check.stderr and "Traceback" not in check.stderr


def test_check_config_show_names_each_source_and_masks_secrets(clean_env: Path) -> None:
    (clean_env / "config.dev.yaml").write_text(
        "telegram:\n  admin_ids: [5, 6]\npayments:\n  max_pending_withdrawals: 4\n"
    )
    (clean_env / ".env").write_text(f"PAYBOT_NOWPAYMENTS__API_KEY={API_KEY}\n")
    env = {
        "PAYBOT_TELEGRAM__BOT_TOKEN": TOKEN,
        "PAYBOT_TELEGRAM__ADMIN_CHAT_ID": "-100123",
        "PAYBOT_DATABASE__URL": "postgresql://app:s3cretpw@db/paybot",
        "PAYBOT_TELEGRAM__REDIS_URL": "redis://:r3dispw@cache:6379/0",
    }
    result = run_cli("check-config", "--show", cwd=clean_env, env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line}
    assert lines["telegram.bot_token"].endswith("[env]") and "****" in lines["telegram.bot_token"]
    assert lines["nowpayments.api_key"].endswith("[.env]")
    assert lines["telegram.admin_ids"].endswith("[YAML file config.dev.yaml]")
    assert "[5, 6]" in lines["telegram.admin_ids"]
    assert lines["payments.max_pending_withdrawals"].split()[1] == "4"
    assert lines["payments.min_withdrawal_usd"].endswith("[default]")
    assert "app:***@db/paybot" in lines["database.url"]
    assert "redis://:***@cache:6379/0" in lines["telegram.redis_url"]
    everything = result.stdout + result.stderr
    assert TOKEN not in everything and API_KEY not in everything and "s3cretpw" not in everything
    assert "r3dispw" not in everything
    assert "warning: nowpayments.email/password: not set" in result.stderr
    assert "configuration is valid (1 warning(s))" in result.stdout
