"""Settings: secrets masked everywhere they are shown, production refuses default or empty credentials,
environment and env files read as documented, and every variable documented in the README."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.settings import PROJECT_ROOT, Settings, mask_url, masked
from pava.stack.settings_doc import variables
from pava.stack.state import write_env_file
from tests.support import pava_command

DB_SECRET = "db-Secret-7f3a9c"
MQ_SECRET = "mq-Secret-b81e44"
DB_URL = f"postgresql://pava:{DB_SECRET}@db.example:5432/pava"
MQ_URL = f"amqp://pava:{MQ_SECRET}@mq.example:5672/%2F"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PAVA_ variable of the caller's shell may leak into these tests."""
    for key in list(os.environ):
        if key.startswith("PAVA_"):
            monkeypatch.delenv(key)


def isolated(**values: Any) -> Settings:
    """Settings from arguments and the environment only: no stack.env, no .env."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,unused-ignore]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAVA_")}


def test_mask_url_hides_the_password_only() -> None:
    assert mask_url(DB_URL) == "postgresql://pava:***@db.example:5432/pava"
    assert mask_url(MQ_URL) == "amqp://pava:***@mq.example:5672/%2F"
    assert mask_url("postgresql://db.example/pava") == "postgresql://db.example/pava"


def test_secrets_never_appear_in_repr_dump_or_masked_view() -> None:
    settings = isolated(database_url=DB_URL, amqp_url=MQ_URL)
    for text in (repr(settings), str(settings), json.dumps(masked(settings)),
                 settings.model_dump_json()):
        assert DB_SECRET not in text
        assert MQ_SECRET not in text
    view = masked(settings)
    assert view["database_url"] == "postgresql://pava:***@db.example:5432/pava"
    assert view["amqp_url"] == "amqp://pava:***@mq.example:5672/%2F"


def test_pava_config_prints_masked_settings() -> None:
    env = clean_env() | {"PAVA_DATABASE_URL": DB_URL, "PAVA_AMQP_URL": MQ_URL,
                         "PAVA_DHASH__NEAR_DUPLICATE_THRESHOLD": "5"}
    result = subprocess.run(pava_command("config"), env=env, capture_output=True, text=True, check=True,
                            cwd=PROJECT_ROOT, timeout=120)
    data = json.loads(result.stdout)
    assert data["database_url"] == "postgresql://pava:***@db.example:5432/pava"
    assert data["amqp_url"] == "amqp://pava:***@mq.example:5672/%2F"
    assert data["dhash"]["near_duplicate_threshold"] == 5
    for secret in (DB_SECRET, MQ_SECRET):
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize(("database_url", "amqp_url"), [
    ("postgresql://postgres:postgres@db:5432/pava", MQ_URL),
    ("postgresql://postgres@db:5432/pava", MQ_URL),
    ("postgresql://pava:pava@db:5432/pava", MQ_URL),
    ("postgresql://pava@db:5432/pava", MQ_URL),
    ("postgresql://pava:@db:5432/pava", MQ_URL),
    (DB_URL, "amqp://guest:guest@mq:5672/%2F"),
    (DB_URL, "amqp://mq:5672/%2F"),
    (DB_URL, None),
    (None, MQ_URL),
])
def test_production_refuses_default_empty_or_missing_credentials(database_url: str | None,
                                                                 amqp_url: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        isolated(env="production", database_url=database_url, amqp_url=amqp_url)
    message = str(info.value)
    assert "production" in message
    # The refusal names the variable, never the credential itself.
    assert "guest:guest" not in message and "postgres:postgres" not in message


def test_production_accepts_real_credentials_and_development_accepts_anything() -> None:
    settings = isolated(env="production", database_url=DB_URL, amqp_url=MQ_URL)
    assert settings.require_database_url() == DB_URL
    dev = isolated(database_url="postgresql://postgres:postgres@localhost/pava",
                   amqp_url="amqp://guest:guest@localhost/%2F")
    assert dev.env == "development"
    assert isolated().database_url is None


def test_production_refusal_through_the_command_line() -> None:
    env = clean_env() | {"PAVA_ENV": "production", "PAVA_DATABASE_URL": DB_URL,
                         "PAVA_AMQP_URL": "amqp://guest:guest@mq.example:5672/%2F"}
    result = subprocess.run(pava_command("config"), env=env, capture_output=True, text=True, check=False,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode != 0
    assert "PAVA_AMQP_URL" in result.stdout + result.stderr
    assert DB_SECRET not in result.stdout + result.stderr


def test_nested_groups_come_from_double_underscore_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAVA_BROKER__MANAGEMENT_URL", "http://mq.example:15672/rabbitmq")
    monkeypatch.setenv("PAVA_BROKER__RETRY_DELAYS", "[1, 2, 3]")
    monkeypatch.setenv("PAVA_INGEST__SETTLE_SECONDS", "0")
    settings = isolated()
    assert settings.broker.management_url == "http://mq.example:15672/rabbitmq"
    assert settings.broker.retry_delays == [1, 2, 3]
    assert settings.ingest.settle_seconds == 0


def test_stack_env_file_is_read_and_the_environment_wins(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "stack.env"
    write_env_file(env_file, {"PAVA_DATABASE_URL": DB_URL, "PAVA_AMQP_URL": MQ_URL,
                              "PAVA_BROKER__MANAGEMENT_URL": "http://127.0.0.1:15672/rabbitmq"})
    assert env_file.stat().st_mode & 0o777 == 0o600
    from_file = Settings(_env_file=env_file)  # type: ignore[call-arg,unused-ignore]
    assert from_file.require_database_url() == DB_URL
    assert from_file.require_amqp_url() == MQ_URL
    assert from_file.broker.management_url == "http://127.0.0.1:15672/rabbitmq"
    monkeypatch.setenv("PAVA_DATABASE_URL", "postgresql://pava:other-secret@elsewhere/pava")
    assert Settings(_env_file=env_file).require_database_url().endswith("@elsewhere/pava")  # type: ignore[call-arg,unused-ignore]


def test_readme_documents_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name in variables() if f"`{name}`" not in readme]
    assert not missing, (f"README.md lacks {missing}: regenerate its table with "
                         "`.venv/bin/python -m pava.stack.settings_doc --write README.md`")
