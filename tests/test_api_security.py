"""Security of the whole API, walked from its own OpenAPI document and route table so that a route added
later is covered without anyone remembering to: no credentials → 401 everywhere but login and health;
the wrong role → 403; hostile path parameters never reach a file or a 500; schemathesis-generated
requests never produce a 500. The real application, the real Postgres."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from api.app import PROTECTED, create_app
from api.routes import auth, health
from core.users import Role
from tests.conftest import ApiClient

PUBLIC = {("POST", "/api/auth/login"), ("GET", "/api/health")}
HOSTILE_PATH_VALUES = ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "1%00", "-1", "99999999999999999999", "1;select")


def _routes() -> list[APIRoute]:
    # The routers themselves: FastAPI's app.routes holds wrappers of included routers, not their routes.
    routers = [auth.public, health.public, *PROTECTED]
    return [r for router in routers for r in router.routes if isinstance(r, APIRoute)]


def _operations() -> list[tuple[str, str]]:
    """(method, path template) of every documented operation plus the docs routes."""
    spec = create_app().openapi()
    found = [(method.upper(), path) for path, item in spec["paths"].items() for method in item
             if method in {"get", "post", "put", "patch", "delete"}]
    return [*found, ("GET", "/api/openapi.json"), ("GET", "/api/docs"),
            ("GET", "/api/docs/assets/swagger-ui-bundle.js")]


def _concrete(path: str, value: str = "1") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _needed_role(route: APIRoute) -> Role:
    """The strongest role any dependency of the route asks for (the ``require_<role>`` dependencies)."""
    needed = Role.VIEWER
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        name = getattr(dependant.call, "__name__", "")
        if name.startswith("require_"):
            role = Role(name.removeprefix("require_"))
            needed = role if role.rank > needed.rank else needed
        stack.extend(dependant.dependencies)
    return needed


def test_the_api_has_the_routes_of_its_contract() -> None:
    paths = {path for _, path in _operations()}
    for expected in ("/api/media", "/api/facets", "/api/map", "/api/media/{media_id}", "/api/upload",
                     "/api/people", "/api/albums", "/api/stats", "/api/admin/status"):
        assert any(p == expected or p.startswith(expected.split("{")[0]) for p in paths), expected


@pytest.mark.parametrize("method,path", _operations(), ids=str)
def test_every_route_needs_a_session(api: ApiClient, method: str, path: str) -> None:
    if (method, path) in PUBLIC:
        return
    for headers in ({}, {"Authorization": "Bearer forged-token"}, {"Cookie": "__Host-pava_session=forged"}):
        answer = api.request(method, _concrete(path), as_=None, headers=headers)
        assert answer.status_code == 401, f"{method} {path} {headers}: {answer.status_code} {answer.text}"
        assert answer.json()["error"] == "not_authenticated"


def test_public_routes_are_only_login_and_health(api: ApiClient) -> None:
    open_ = {(m, p) for m, p in _operations()
             if api.request(m, _concrete(p), as_=None).status_code != 401}
    assert open_ <= PUBLIC


@pytest.mark.parametrize("route", [r for r in _routes() if _needed_role(r) is not Role.VIEWER],
                         ids=lambda r: f"{sorted(r.methods)[0]} {r.path}")
def test_a_weaker_role_is_refused(api: ApiClient, route: APIRoute) -> None:
    needed = _needed_role(route)
    weaker = "viewer" if needed is Role.EDITOR else "editor"
    for method in route.methods:
        answer = api.request(method, _concrete(route.path), as_=weaker, json={})
        assert answer.status_code == 403, f"{method} {route.path} as {weaker}: {answer.status_code}"
        assert answer.json()["error"] == "forbidden"


def test_admin_routes_are_the_admin_pages_and_the_console_check() -> None:
    admin = {r.path for r in _routes() if _needed_role(r) is Role.ADMIN}
    assert admin and all(p.startswith("/api/admin/") or p == "/api/auth/console" for p in admin), admin


@pytest.mark.parametrize("method,path", [op for op in _operations() if "{" in op[1]], ids=str)
def test_hostile_path_parameters_are_refused(api: ApiClient, method: str, path: str) -> None:
    for value in HOSTILE_PATH_VALUES:
        answer = api.request(method, _concrete(path, value), as_="admin", json={})
        assert answer.status_code in {400, 404, 405, 422}, f"{method} {path} {value}: {answer.status_code}"
        assert "root:" not in answer.text
        assert answer.headers["content-type"].startswith("application/json")


# -- schemathesis: generated requests, as an admin, never a 500 ----------------------------------------------

# Operations that would end the admin's own session or lock the account mid-run.
SELF_HARM = r"^/api/auth/(logout|logout-all|password)$|^/api/admin/users/\{[^}]+\}/(password|revoke)$"


def test_generated_requests_never_get_a_server_error(api: ApiClient) -> None:
    """Every operation, about a dozen generated requests each, all in one database. (Schemathesis's own
    pytest fixture integration does not run on pytest 9, so the operations are driven here.)"""
    app = api.client.app  # its lifespan already ran: the pool is open
    headers = api.headers("admin")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=headers)
    failures: list[str] = []
    statuses: list[int] = []
    operations = 0
    for result in schema.exclude(path_regex=SELF_HARM).get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis_settings(max_examples=12, deadline=None, derandomize=True, database=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            content_type = response.headers.get("content-type") or [""]  # schemathesis: header -> values
            if response.status_code >= 500 or (
                    response.status_code >= 400 and not content_type[0].startswith("application/json")):
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.text[:300]}")
            assert "Traceback" not in response.text

        check()
    assert operations >= 40
    # The requests reached the routes as an admin: most operations answered something other than 401.
    assert len(statuses) >= 3 * operations and statuses.count(401) < len(statuses) / 4, statuses
    assert sum(200 <= code < 300 for code in statuses) >= operations
    assert not failures, "\n".join(failures[:20])
