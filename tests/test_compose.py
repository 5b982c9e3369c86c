"""docker-compose.yml is not run here (no Docker engine): check its shape instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from core.analyses import ANALYSES
from core.settings import PROJECT_ROOT
from pava.stack.nginx import SITE_TEMPLATE, placeholders
from workers.registry import REGISTRY

# Services that run no pava code with the database: they carry no PAVA_* settings of their own.
NOT_PAVA = {"postgres", "rabbitmq", "nginx", "certs"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so anchors can merge"
    return {str(k): str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target -> source of a service's short-syntax volumes (a source may hold ${VAR:-default})."""
    mounts = {}
    for volume in service["volumes"]:
        spec = volume.removesuffix(":ro").removesuffix(":rw")
        source, target = spec.rsplit(":", 1)
        mounts[target] = source
    return mounts


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


def test_worker_services_are_exactly_the_registered_analyzers(compose: dict[str, Any]) -> None:
    workers = {name.removeprefix("worker-") for name in compose["services"] if name.startswith("worker-")}
    assert workers == set(REGISTRY), "docker-compose.yml's worker-* services and workers/registry.py differ"


def test_api_service(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert api["command"][0] == "api"
    assert api["build"]["args"]["REQUIREMENTS"] == "requirements/api.txt"
    env = _env(api)
    assert re.fullmatch(r"\$\{PAVA_API_SECRET_KEY:\?[^}]+\}", env["PAVA_API__SECRET_KEY"])
    assert "ports" not in api, "only nginx is published"
    assert "/api/health" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    storage = env["PAVA_STORAGE_ROOT"]
    assert any(volume.endswith(":" + storage) for volume in api["volumes"])  # uploads land there


def test_nginx_service_uses_the_shared_template_and_the_certificate_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nginx = services["nginx"]
    assert nginx["image"].startswith("nginx:")
    assert nginx["depends_on"]["api"]["condition"] == "service_healthy"
    assert nginx["depends_on"]["certs"]["condition"] == "service_completed_successfully"
    env = _env(nginx)
    assert env["NGINX_ENVSUBST_FILTER"] == "^PAVA_NGINX_"
    # Every placeholder of the template gets a value, and nothing else is passed for it.
    assert {k for k in env if k.startswith("PAVA_NGINX_")} == placeholders(SITE_TEMPLATE.read_text())
    mounts = _mounts(nginx)
    assert mounts["/etc/nginx/templates/default.conf.template"] == "./nginx/pava.conf.template"
    assert (PROJECT_ROOT / "nginx" / "placeholder" / "index.html").exists()
    assert mounts[env["PAVA_NGINX_PLACEHOLDER_ROOT"]] == "./nginx/placeholder"
    assert mounts[env["PAVA_NGINX_WEB_ROOT"]] == "./web/dist"
    # /config.json: the built page's own file unless another folder is named.
    assert env["PAVA_NGINX_PAGE_CONFIG_ROOT"] == f"${{PAVA_PAGE_CONFIG_ROOT:-{env['PAVA_NGINX_WEB_ROOT']}}}"
    assert env["PAVA_NGINX_API"] == "api:8300" and "8300" in services["api"]["command"]
    assert env["PAVA_NGINX_CONSOLE"] == "rabbitmq:15672"
    # The certificate: made (or a real one kept) by the one-shot into the folder nginx reads.
    cert_dir = str(Path(env["PAVA_NGINX_CERT"]).parent)
    assert str(Path(env["PAVA_NGINX_KEY"]).parent) == cert_dir
    certs = services["certs"]
    assert certs["entrypoint"][-1] == "ssl/make_cert.py" and (PROJECT_ROOT / "ssl" / "make_cert.py").exists()
    out = certs["command"][certs["command"].index("--out") + 1]
    assert "--keep-given" in certs["command"]
    assert mounts[cert_dir] == _mounts(certs)[out]
    assert {port.rsplit(":", 1)[1] for port in nginx["ports"]} == {env["PAVA_NGINX_HTTPS_PORT"],
                                                                 env["PAVA_NGINX_HTTP_PORT"]}
    # nginx is the only door: nothing else is published.
    published = [name for name, service in services.items() if service.get("ports")]
    assert published == ["nginx"]
    assert "curl" in nginx["healthcheck"]["test"]


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
    secrets = re.findall(r"\$\{(PAVA_\w+_(?:PASSWORD|SECRET_KEY))[^}]*\}", text)
    assert {"PAVA_POSTGRES_PASSWORD", "PAVA_RABBITMQ_PASSWORD", "PAVA_API_SECRET_KEY"} <= set(secrets)
    for variable in secrets:
        assert not re.search(r"\$\{" + variable + r":?-", text), f"{variable} has a default"
        assert re.search(r"\$\{" + variable + r":\?", text), f"{variable} is not required"
    services = compose["services"]
    for name, service in services.items():
        if name in NOT_PAVA:
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
