"""docker-compose.yml is not run here (no Docker engine): check its shape instead."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from core.analyses import ANALYSES
from core.settings import PROJECT_ROOT
from workers.registry import REGISTRY


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so anchors can merge"
    return {str(k): str(v) for k, v in env.items()}


def test_infrastructure_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    assert "management" in services["rabbitmq"]["image"]
    for name in ("postgres", "rabbitmq"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck"
    assert "management.path_prefix = /rabbitmq" in compose["configs"]["rabbitmq-conf"]["content"]


def test_migrate_runs_once_before_the_programs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("relay", "ingest", *(f"worker-{n}" for n in REGISTRY)):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name


def test_relay_and_ingest_watcher(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["relay"]["command"] == ["relay"]
    ingest = services["ingest"]
    assert ingest["command"][0] == "ingest" and "--watch" in ingest["command"]
    drop_dir = _env(ingest)["PAVA_DROP_DIR"]
    assert ingest["command"][1] == drop_dir
    assert any(volume.endswith(":" + drop_dir) for volume in ingest["volumes"])
    assert ingest["build"]["args"]["REQUIREMENTS"] == "requirements/ingest.txt"


@pytest.mark.parametrize("name", sorted(set(REGISTRY) | set(ANALYSES)))
def test_one_worker_service_per_analysis(compose: dict[str, Any], name: str) -> None:
    service = compose["services"].get(f"worker-{name}")
    assert service is not None, f"docker-compose.yml has no worker-{name} service"
    assert service["command"] == ["worker", name]
    requirements = service["build"]["args"]["REQUIREMENTS"]
    if name in REGISTRY:
        assert requirements == REGISTRY[name].requirements
        assert (PROJECT_ROOT / requirements).exists()
    assert service["healthcheck"]["test"]
    assert _env(service)["PAVA_WORKER__METRICS_PORT"] in service["healthcheck"]["test"][-1]
    storage = _env(service)["PAVA_STORAGE_ROOT"]
    assert any(volume.endswith(":" + storage) for volume in service["volumes"])


def test_credentials_come_from_variables_without_defaults(compose: dict[str, Any]) -> None:
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    # ${VAR:?message} makes compose refuse to start without the variable; ${VAR:-default} would not.
    for variable in re.findall(r"\$\{(PAVA_\w+_PASSWORD)[^}]*\}", text):
        assert not re.search(r"\$\{" + variable + r":?-", text), f"{variable} has a default"
    services = compose["services"]
    for name, service in services.items():
        if name in ("postgres", "rabbitmq"):
            continue
        env = _env(service)
        assert env["PAVA_ENV"] == "production", name
        assert re.fullmatch(r"postgresql://pava:\$\{PAVA_POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/pava",
                            env["PAVA_DATABASE_URL"]), name
        assert re.fullmatch(r"amqp://pava:\$\{PAVA_RABBITMQ_PASSWORD:\?[^}]+\}@rabbitmq:5672/%2F",
                            env["PAVA_AMQP_URL"]), name
    postgres_env, rabbit_env = services["postgres"]["environment"], services["rabbitmq"]["environment"]
    assert postgres_env["POSTGRES_PASSWORD"].startswith("${PAVA_POSTGRES_PASSWORD:?")
    assert rabbit_env["RABBITMQ_DEFAULT_PASS"].startswith("${PAVA_RABBITMQ_PASSWORD:?")
    assert "guest" not in text
