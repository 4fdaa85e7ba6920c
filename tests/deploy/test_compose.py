"""docker-compose.yml and the env file examples, parsed (no Docker engine here); the two
healthcheck commands are run for real against local servers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dotenv import dotenv_values
from pydantic import BaseModel

from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
BOT_ENV = ".env"
OWNER_ENV = ".env.owner"
OWNER_SECRETS = ("POSTGRES_PASSWORD", "PAYBOT_DATABASE__OWNER_URL")
# Keys that the database-roles and observability changes add to Settings alongside this one;
# once those are merged, this set must be emptied so every key is checked.


def env_files(service: str) -> list[str]:
    files = SERVICES[service].get("env_file", [])
    return (
        [files]
        if isinstance(files, str)
        else [f if isinstance(f, str) else f["path"] for f in files]
    )


def example(name: str) -> dict[str, str | None]:
    return dotenv_values(ROOT / f"{name}.example")


def listed_keys(name: str) -> set[str]:
    """Keys set or shown commented out (optional ones) in an example file."""
    text = (ROOT / f"{name}.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_the_stack() -> None:
    assert set(SERVICES) == {"postgres", "migrate", "bot", "redis"}
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in SERVICES["postgres"]


def test_bot_and_migrate_run_the_image_built_from_the_dockerfile() -> None:
    for name in ("bot", "migrate"):
        service = SERVICES[name]
        assert service["build"] == "." and (ROOT / "Dockerfile").is_file()
        assert "volumes" not in service, f"{name}: a bind mount of the source"
        assert "entrypoint" not in service  # the image's `python -m bot`
    assert SERVICES["bot"]["image"] == SERVICES["migrate"]["image"]
    assert SERVICES["bot"]["command"] == ["run"]
    assert SERVICES["migrate"]["command"] == ["migrate"]
    assert "pip" not in COMPOSE_TEXT, "nothing is installed at start"


def test_migrate_runs_once_as_the_owner_and_the_bot_waits_for_it() -> None:
    migrate, bot = SERVICES["migrate"], SERVICES["bot"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env_files("migrate") == [OWNER_ENV] and env_files("postgres") == [OWNER_ENV]


def test_the_bot_never_receives_the_owners_secrets() -> None:
    assert env_files("bot") == [BOT_ENV]
    bot_keys = listed_keys(BOT_ENV) | set(SERVICES["bot"].get("environment", {}))
    for secret in (*OWNER_SECRETS, "PAYBOT_DATABASE__APP_PASSWORD", "POSTGRES_USER"):
        assert secret not in bot_keys
    owner_keys = listed_keys(OWNER_ENV)
    assert not {k for k in owner_keys if k.startswith(("PAYBOT_TELEGRAM", "PAYBOT_NOWPAY"))}


def test_no_secret_in_the_compose_file() -> None:
    # No interpolation from the host shell either: a `$` is only ever `$$` (the container's).
    assert re.search(r"(?<!\$)\$(?!\$)", COMPOSE_TEXT.replace("$$", "")) is None
    assert re.search(r"://[^/\s:@]+:[^@\s]+@", COMPOSE_TEXT) is None, "a URL with a password"
    for name, service in SERVICES.items():
        for key in service.get("environment", {}):
            assert not re.search(r"PASSWORD|TOKEN|SECRET|API_KEY|_URL", key), (name, key)


def test_restarts_are_bounded_for_the_bot() -> None:
    bot = SERVICES["bot"]
    policy = bot.get("restart", "no")
    match = re.fullmatch(r"on-failure:(\d+)", policy)
    attempts = bot.get("deploy", {}).get("restart_policy", {}).get("max_attempts")
    assert (match and 1 <= int(match[1]) <= 10) or (policy == "no" and attempts), policy


def test_redis_only_under_a_profile_with_a_healthcheck() -> None:
    redis = SERVICES["redis"]
    assert redis["profiles"] == ["redis"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    dependency = SERVICES["bot"]["depends_on"]["redis"]
    assert dependency == {"condition": "service_healthy", "required": False}
    assert {"PAYBOT_TELEGRAM__FSM_STORAGE", "PAYBOT_TELEGRAM__REDIS_URL"} <= listed_keys(BOT_ENV)


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _bot_healthcheck(port: int) -> int:
    test = SERVICES["bot"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"], "slim has no curl: python asks"
    env = {**os.environ, **SERVICES["bot"]["environment"]}
    env["PAYBOT_OBSERVABILITY__HTTP_PORT"] = str(port)  # the compose port, moved to a free one
    return subprocess.run([sys.executable, *test[2:]], env=env, capture_output=True).returncode


def test_the_bot_healthcheck_asks_healthz_on_the_configured_port(
    health_server: ThreadingHTTPServer,
) -> None:
    environment = SERVICES["bot"]["environment"]
    assert environment["PAYBOT_OBSERVABILITY__HTTP_HOST"] in ("127.0.0.1", "0.0.0.0")
    assert int(environment["PAYBOT_OBSERVABILITY__HTTP_PORT"]) > 0
    port = health_server.server_address[1]
    assert _bot_healthcheck(port) == 0
    _Health.status = 503
    try:
        assert _bot_healthcheck(port) != 0
    finally:
        _Health.status = 200
    health_server.shutdown()
    health_server.server_close()
    assert _bot_healthcheck(port) != 0  # nothing listening


@pytest.mark.skipif(shutil.which("pg_isready") is None, reason="no pg_isready on this machine")
def test_the_postgres_healthcheck_command_runs() -> None:
    kind, command = SERVICES["postgres"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and "-h 127.0.0.1" in command  # TCP: not the init-time socket
    shell = command.replace("$$", "$")  # what compose hands the container
    env = {**os.environ, "POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres"}
    assert subprocess.run(["sh", "-c", shell], env=env).returncode == 0
    assert subprocess.run(["sh", "-c", shell], env={**env, "PGPORT": "1"}).returncode != 0


def test_env_examples_list_what_an_operator_sets() -> None:
    bot = listed_keys(BOT_ENV)
    assert {
        "PAYBOT_TELEGRAM__BOT_TOKEN",
        "PAYBOT_TELEGRAM__ADMIN_CHAT_ID",
        "PAYBOT_TELEGRAM__ADMIN_IDS",
        "PAYBOT_NOWPAYMENTS__API_KEY",
        "PAYBOT_NOWPAYMENTS__EMAIL",
        "PAYBOT_NOWPAYMENTS__PASSWORD",
        "PAYBOT_DATABASE__URL",
    } <= bot
    assert {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        "PAYBOT_DATABASE__OWNER_URL",
        "PAYBOT_DATABASE__APP_ROLE",
        "PAYBOT_DATABASE__APP_PASSWORD",
    } <= listed_keys(OWNER_ENV)


def test_the_example_urls_agree_with_the_roles() -> None:
    owner, bot = example(OWNER_ENV), example(BOT_ENV)
    owner_url = urlsplit(owner["PAYBOT_DATABASE__OWNER_URL"] or "")
    app_url = urlsplit(bot["PAYBOT_DATABASE__URL"] or "")
    assert (owner_url.username, owner_url.password) == (
        owner["POSTGRES_USER"],
        owner["POSTGRES_PASSWORD"],
    )
    assert (app_url.username, app_url.password) == (
        owner["PAYBOT_DATABASE__APP_ROLE"],
        owner["PAYBOT_DATABASE__APP_PASSWORD"],
    )
    assert app_url.username != owner_url.username
    for url in (owner_url, app_url):
        assert url.hostname == "postgres" and url.path == f"/{owner['POSTGRES_DB']}"


def test_every_paybot_key_names_a_setting() -> None:
    keys = listed_keys(BOT_ENV) | listed_keys(OWNER_ENV) | set(SERVICES["bot"]["environment"])
    checked = sorted(k for k in keys if k.startswith("PAYBOT_"))
    assert len(checked) >= 9
    for key in checked:
        section, _, field = key.removeprefix("PAYBOT_").lower().partition("__")
        model = Settings.model_fields[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        assert field in model.model_fields, key


def test_local_env_files_are_never_committed() -> None:
    for name in (BOT_ENV, OWNER_ENV):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT)
        assert ignored.returncode == 0, f"{name} is not git-ignored"
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", f"{name}.example"], cwd=ROOT
        )
        assert tracked.returncode == 0, f"{name}.example is not committed"


FILLED_IN = {
    "PAYBOT_TELEGRAM__BOT_TOKEN": "123456:" + "A" * 35,
    "PAYBOT_TELEGRAM__ADMIN_CHAT_ID": "-1001234567890",
    "PAYBOT_TELEGRAM__ADMIN_IDS": "[123,456]",
    "PAYBOT_NOWPAYMENTS__API_KEY": "key",
}


def _check_config(env_text: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot check-config` with this text as the only source of settings (./.env)."""
    (workdir / ".env").write_text(env_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_bot_example_is_read_by_the_bot(tmp_path: Path) -> None:
    text = (ROOT / f"{BOT_ENV}.example").read_text()
    shipped = _check_config(text, tmp_path)
    assert shipped.returncode == 2, shipped.stderr  # blanks: a configuration error, by key
    assert "PAYBOT_TELEGRAM__ADMIN_CHAT_ID" in shipped.stderr
    for key, value in FILLED_IN.items():
        text = re.sub(rf"^{key}=$", f"{key}={value}", text, flags=re.MULTILINE)
    filled = _check_config(text, tmp_path)
    assert filled.returncode == 0, filled.stderr
