"""Authentication: logins, tokens (bearer and cookie), CSRF, expiry, revocation, roles, rate limits, the
secret key, and the user commands. Real Postgres, the real application in process."""

from __future__ import annotations

from typing import Any

import pytest

from api.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    DEVELOPMENT_SECRET,
    SESSION_COOKIE_PLAIN,
    SecretError,
    secret_key,
)
from core import db, users
from core.settings import Settings
from tests.conftest import API_PASSWORD, ApiClient
from tests.support import run_pava


def test_login_gives_a_token_that_works_and_is_stored_only_as_a_hash(api: ApiClient,
                                                                    settings: Settings) -> None:
    answer = _login(api, "editor", API_PASSWORD)
    assert answer.status_code == 200
    body = answer.json()
    assert body["user"] == {"id": body["user"]["id"], "name": "editor", "role": "editor"}
    token = body["token"]
    me = api.client.get("/api/auth/me", headers=_bearer(token))
    assert me.status_code == 200 and me.json()["name"] == "editor"
    with db.connect(settings, autocommit=True) as conn:
        rows = conn.execute("SELECT token_hash FROM user_session").fetchall()
    assert rows and all(token.encode() not in bytes(r["token_hash"]) for r in rows)
    assert all(len(bytes(r["token_hash"])) == 32 for r in rows)


def test_names_are_case_insensitive_and_wrong_passwords_fail(api: ApiClient) -> None:
    assert _login(api, "EDITOR", API_PASSWORD).status_code == 200
    wrong = api.client.post("/api/auth/login", json={"name": "editor", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "not_authenticated"
    nobody = _login(api, "ghost", API_PASSWORD)
    assert nobody.status_code == 401
    assert nobody.json()["message"] == wrong.json()["message"]  # no hint which one was wrong


def test_missing_malformed_and_unknown_tokens_get_401(api: ApiClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer not-a-real-token"}):
        answer = api.client.get("/api/auth/me", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"] == "not_authenticated"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_logout_revokes_the_session(api: ApiClient) -> None:
    token = api.token("viewer")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/api/auth/logout", headers=headers).status_code == 204
    assert api.client.get("/api/auth/me", headers=headers).status_code == 401


def test_logout_all_ends_every_session_of_the_user(api: ApiClient) -> None:
    first = _login(api, "viewer", API_PASSWORD).json()["token"]
    second = _login(api, "viewer", API_PASSWORD).json()["token"]
    other = api.token("editor")
    assert api.client.post("/api/auth/logout-all", headers=_bearer(first)).status_code == 204
    for token in (first, second):
        assert api.client.get("/api/auth/me", headers=_bearer(token)).status_code == 401
    assert api.client.get("/api/auth/me", headers=_bearer(other)).status_code == 200


def test_expired_session_is_refused(api: ApiClient, settings: Settings) -> None:
    token = api.token("viewer")
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("UPDATE user_session SET expires_at = now() - interval '1 second'")
    assert api.client.get("/api/auth/me", headers=_bearer(token)).status_code == 401


def test_disabled_user_loses_sessions_and_cannot_log_in(api: ApiClient, settings: Settings,
                                                        api_users: dict[str, int]) -> None:
    token = api.token("viewer")
    with db.connect(settings, autocommit=True) as conn:
        users.update_user(conn, api_users["viewer"], disabled=True)
    assert api.client.get("/api/auth/me", headers=_bearer(token)).status_code == 401
    assert _login(api, "viewer", API_PASSWORD).status_code == 401


def test_cookie_session_needs_the_csrf_header_on_unsafe_requests(api: ApiClient) -> None:
    client = api.client
    answer = client.post("/api/auth/login", json={"name": "editor", "password": API_PASSWORD})
    assert SESSION_COOKIE_PLAIN in answer.cookies and CSRF_COOKIE in answer.cookies
    set_cookie = " ".join(answer.headers.get_list("set-cookie")).lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    client.cookies.set(SESSION_COOKIE_PLAIN, answer.cookies[SESSION_COOKIE_PLAIN])
    try:
        assert client.get("/api/auth/me").status_code == 200  # safe method: the cookie is enough
        refused = client.post("/api/auth/logout")
        assert refused.status_code == 403 and refused.json()["error"] == "csrf"
        assert client.post("/api/auth/logout", headers={CSRF_HEADER: "0" * 64}).status_code == 403
        csrf = answer.json()["csrf_token"]
        assert client.post("/api/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204
        assert client.get("/api/auth/me").status_code == 401
    finally:
        client.cookies.clear()


def test_console_check_lets_admins_only(api: ApiClient) -> None:
    assert api.get("/api/auth/console", as_="admin").status_code == 204
    assert api.get("/api/auth/console", as_="editor").status_code == 403
    assert api.get("/api/auth/console", as_="viewer").status_code == 403
    assert api.get("/api/auth/console", as_=None).status_code == 401


def test_failed_logins_are_rate_limited_per_name(api: ApiClient, settings: Settings) -> None:
    limit = settings.api.login_max_failures_per_name
    for _ in range(limit):
        assert api.client.post("/api/auth/login", json={"name": "editor", "password": "x"}).status_code == 401
    blocked = _login(api, "editor", API_PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    # Other names are not locked out by someone guessing at this one.
    assert _login(api, "viewer", API_PASSWORD).status_code == 200


def test_own_password_change_ends_other_sessions(api: ApiClient) -> None:
    old = _login(api, "viewer", API_PASSWORD).json()["token"]
    current = api.token("viewer")
    new_password = "another long passphrase"
    bad = api.post("/api/auth/password", json={"current_password": "wrong", "new_password": new_password})
    assert bad.status_code == 403
    ok = api.post("/api/auth/password", json={"current_password": API_PASSWORD, "new_password": new_password})
    assert ok.status_code == 204
    assert api.client.get("/api/auth/me", headers=_bearer(old)).status_code == 401
    assert api.client.get("/api/auth/me", headers=_bearer(current)).status_code == 200
    assert _login(api, "viewer", new_password).status_code == 200


def test_health_needs_no_login_and_docs_do(api: ApiClient) -> None:
    assert api.client.get("/api/health").json() == {"status": "ok", "database": True}
    assert api.get("/api/openapi.json", as_=None).status_code == 401
    assert api.get("/api/docs", as_=None).status_code == 401
    assert api.get("/api/openapi.json").json()["info"]["title"] == "pava"
    page = api.get("/api/docs")
    assert page.status_code == 200 and "/api/docs/assets/swagger-ui-bundle.js" in page.text
    assert api.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert api.get("/api/docs/assets/swagger-ui-bundle.js", as_=None).status_code == 401
    assert api.get("/api/docs/assets/index.html").status_code == 404  # only the page's own files


@pytest.mark.parametrize("key", [None, "", DEVELOPMENT_SECRET, "short"])
def test_production_refuses_a_missing_default_or_short_secret(settings: Settings, key: str | None) -> None:
    production = settings.model_copy(update={
        "env": "production", "api": settings.api.model_copy(update={"secret_key": key and _secret(key)})})
    with pytest.raises(SecretError):
        secret_key(production)


def test_production_accepts_a_long_random_secret_and_development_has_a_fallback(settings: Settings) -> None:
    key = "k" * 40
    production = settings.model_copy(update={
        "env": "production", "api": settings.api.model_copy(update={"secret_key": _secret(key)})})
    assert secret_key(production) == key.encode()
    assert secret_key(settings) == DEVELOPMENT_SECRET.encode()


def _login(api: ApiClient, name: str, password: str) -> Any:
    return api.client.post("/api/auth/login", json={"name": name, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _secret(value: str):  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    return SecretStr(value)


def test_last_admin_cannot_be_demoted_disabled_or_removed(settings: Settings,
                                                          api_users: dict[str, int]) -> None:
    with db.connect(settings, autocommit=True) as conn:
        for change in ({"role": "viewer"}, {"disabled": True}):
            with pytest.raises(users.UserError):
                users.update_user(conn, api_users["admin"], **change)  # type: ignore[arg-type]
        with pytest.raises(users.UserError):
            users.delete_user(conn, api_users["admin"])
        users.update_user(conn, api_users["editor"], role="admin")
        users.update_user(conn, api_users["admin"], role="viewer")  # another admin exists now


def test_user_commands(settings: Settings) -> None:
    added = run_pava(settings, "user", "add", "Alice", "--role", "editor")
    password = added.stdout.split("password: ")[1].strip()
    assert len(password) >= 16
    dup = run_pava(settings, "user", "add", "alice", check=False)
    assert dup.returncode == 2 and "exists" in dup.stderr
    with db.connect(settings, autocommit=True) as conn:
        found = users.find_user(conn, "alice")
        assert found is not None and found[0].role == "editor"
        assert users.verify_password(found[1], password) and password not in found[1]
    run_pava(settings, "user", "passwd", "alice", "--password-stdin", input_text="a new long password\n")
    with db.connect(settings, autocommit=True) as conn:
        found = users.find_user(conn, "alice")
        assert found is not None and users.verify_password(found[1], "a new long password")
    changed = run_pava(settings, "user", "passwd", "alice", "--password-stdin", check=False)
    assert changed.returncode == 2  # nothing on stdin
    listed = run_pava(settings, "user", "list", "--json")
    assert [u["name"] for u in __import__("json").loads(listed.stdout)] == ["Alice"]
    short = run_pava(settings, "user", "add", "bob", "--password-stdin", check=False, input_text="short\n")
    assert short.returncode == 2 and "at least" in short.stderr


def test_first_admin_is_created_once(settings: Settings) -> None:
    with db.connect(settings, autocommit=True) as conn:
        password = users.ensure_first_admin(conn)
        assert password is not None
        assert users.ensure_first_admin(conn) is None
        found = users.find_user(conn, "admin")
        assert found is not None and found[0].role == "admin" and users.verify_password(found[1], password)
