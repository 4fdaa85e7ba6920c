"""Configuration sources, errors that name the key, and secrets that never show."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import load_settings, require_bot_settings
from core.errors import ConfigError
from core.logging import REDACTED, RedactSecrets

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_defaults_without_any_file(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.database.url is None
    assert settings.payments.min_withdrawal_usd == Decimal("10.00")
    assert settings.nowpayments.sandbox is True


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
        require_bot_settings(load_settings())
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
