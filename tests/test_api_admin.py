"""Admin routes: status (also with the broker away), jobs and retries through the outbox (published by the
real relay code to a real RabbitMQ), re-queues, rejections from the real ingester, and user accounts with
the last-admin protection. Admins only."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core import db
from core.analyses import ANALYSES
from core.broker import Publisher
from core.media import MediaKind
from core.outbox import publish_pending, record_jobs
from core.settings import Settings
from ingest.pipeline import ingest_file
from pava.services.postgres import free_port
from tests.conftest import API_PASSWORD, ApiClient
from tests.support import insert_media


def _media_with_jobs(settings: Settings, name: str, analyses: list[str]) -> tuple[int, list[int]]:
    with db.connect(settings, autocommit=True) as conn, conn.transaction():
        media_id = insert_media(conn, name, sha512=hashlib.sha512(name.encode()).digest())
        jobs = record_jobs(conn, media_id=media_id, kind=MediaKind.PHOTO, path=f"originals/{name}",
                           sha512_hex=hashlib.sha512(name.encode()).hexdigest(), analyses=analyses)
    return media_id, jobs


def _fail(settings: Settings, job_id: int, error: str = "model exploded") -> None:
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("DELETE FROM outbox WHERE job_id = %s", (job_id,))
        conn.execute("UPDATE job SET state = 'failed', attempts = 3, error = %s, updated_at = now()"
                     " WHERE id = %s", (error, job_id))


def _login(api: ApiClient, name: str, password: str) -> Any:
    answer = api.client.post("/api/auth/login", json={"name": name, "password": password})
    api.client.cookies.clear()
    return answer


# --- status -----------------------------------------------------------------------------------------------


def test_status_is_what_pava_status_prints(api: ApiClient, settings: Settings) -> None:
    _, (job,) = _media_with_jobs(settings, "a.jpg", ["dhash"])
    _fail(settings, job)
    answer = api.get("/api/admin/status", as_="admin")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["broker"]["source"] in ("management", "amqp")
    assert [q["analysis"] for q in report["queues"]] == list(ANALYSES)
    assert all(q["ready"] is not None and q["dead_lettered"] is not None for q in report["queues"])
    assert set(report["jobs"]) == set(ANALYSES)
    assert report["jobs"]["dhash"]["failed"] == 1 and report["jobs"]["dhash"]["total"] == 1
    assert report["outbox"] == 0
    (failure,) = report["recent_failures"]
    assert (failure["job_id"], failure["error"], failure["attempts"]) == (job, "model exploded", 3)


def test_status_answers_when_the_broker_is_away(api: ApiClient) -> None:
    state = api.client.app.state
    nowhere = free_port()
    state.settings = state.settings.model_copy(update={
        "amqp_url": SecretStr(f"amqp://u:p@127.0.0.1:{nowhere}/%2F"),
        "broker": state.settings.broker.model_copy(update={"management_url": f"http://127.0.0.1:{nowhere}"}),
    })
    answer = api.get("/api/admin/status", as_="admin")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["broker"]["source"] == "unavailable" and report["broker"]["error"]
    assert all(q["ready"] is None and q["consumers"] is None for q in report["queues"])
    assert set(report["jobs"]) == set(ANALYSES)


# --- jobs -------------------------------------------------------------------------------------------------


def test_jobs_filter_and_page_by_cursor(api: ApiClient, settings: Settings) -> None:
    _, jobs_a = _media_with_jobs(settings, "holiday/a.jpg", ["dhash", "ocr"])
    _, jobs_b = _media_with_jobs(settings, "b.jpg", ["dhash"])
    for job in (jobs_a[0], jobs_b[0], jobs_a[1]):
        _fail(settings, job)
    seen: list[int] = []
    url = "/api/admin/jobs?state=failed&limit=2"
    while url:
        answer = api.get(url, as_="admin")
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [j["id"] for j in page["items"]]
        assert len(page["items"]) <= 2
        cursor = page["next_cursor"]
        url = f"/api/admin/jobs?state=failed&limit=2&cursor={cursor}" if cursor else ""
    assert seen == [jobs_a[1], jobs_b[0], jobs_a[0]], "most recently changed first, each once"
    dhash = api.get("/api/admin/jobs?state=failed&analyzer=dhash", as_="admin").json()["items"]
    assert {j["id"] for j in dhash} == {jobs_a[0], jobs_b[0]}
    item = next(j for j in dhash if j["id"] == jobs_a[0])
    assert (item["name"], item["state"], item["attempts"], item["error"]) == ("a.jpg", "failed", 3,
                                                                              "model exploded")
    assert len(api.get("/api/admin/jobs", as_="admin").json()["items"]) == 3
    assert api.get("/api/admin/jobs?analyzer=nope", as_="admin").status_code == 422
    assert api.get("/api/admin/jobs?state=nope", as_="admin").status_code == 422
    assert api.get("/api/admin/jobs?cursor=abc", as_="admin").status_code == 422


def test_retry_resets_a_failed_job_and_the_relay_publishes_it(api: ApiClient, settings: Settings) -> None:
    _, (job, other) = _media_with_jobs(settings, "r.jpg", ["dhash", "ocr"])
    _fail(settings, job)
    answer = api.post(f"/api/admin/jobs/{job}/retry", as_="admin")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["id"], body["state"], body["attempts"], body["error"]) == (job, "pending", 0, None)
    with db.connect(settings, autocommit=True) as conn:
        outbox = conn.execute("SELECT job_id, routing_key FROM outbox WHERE job_id = %s", (job,)).fetchall()
        assert outbox == [{"job_id": job, "routing_key": "dhash"}]
        publisher = Publisher(settings)
        try:
            assert publish_pending(conn, publisher) == 2  # the retried job, and the other one still pending
        finally:
            publisher.close()
        state = conn.execute("SELECT state FROM job WHERE id = %s", (job,)).fetchone()
    assert state == {"state": "queued"}
    again = api.post(f"/api/admin/jobs/{job}/retry", as_="admin")
    assert again.status_code == 409 and "queued" in again.json()["message"]
    assert api.post(f"/api/admin/jobs/{other + 1000}/retry", as_="admin").status_code == 404


def test_requeue_records_jobs_through_the_outbox(api: ApiClient, settings: Settings) -> None:
    _, (job,) = _media_with_jobs(settings, "q.jpg", ["dhash"])
    _fail(settings, job)
    _media_with_jobs(settings, "no-dhash.jpg", ["ocr"])
    failed = api.post("/api/admin/requeue", as_="admin", json={"analyzer": "dhash", "mode": "failed"})
    assert failed.status_code == 200, failed.text
    assert failed.json() == {"queued": 1}
    missing = api.post("/api/admin/requeue", as_="admin", json={"analyzer": "dhash", "mode": "missing"})
    assert missing.json() == {"queued": 1}
    with db.connect(settings, autocommit=True) as conn:
        rows = conn.execute("SELECT j.state FROM job j JOIN outbox o ON o.job_id = j.id"
                            " WHERE j.analyzer = 'dhash'").fetchall()
    assert [r["state"] for r in rows] == ["pending", "pending"]
    bad = api.post("/api/admin/requeue", as_="admin", json={"analyzer": "nope", "mode": "all"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "analyzer"
    assert api.post("/api/admin/requeue", as_="admin",
                    json={"analyzer": "dhash", "mode": "some"}).status_code == 422


# --- rejections -------------------------------------------------------------------------------------------


def test_rejections_from_the_ingester_by_cursor(api: ApiClient, settings: Settings, corpus: Path) -> None:
    for rel in ("bad/not_an_image.jpg", "bad/pil_decompression_bomb.gif"):
        copy = settings.drop_dir / Path(rel).name
        shutil.copyfile(corpus / rel, copy)
        assert ingest_file(settings, copy, source="test").status == "rejected"
    first = api.get("/api/admin/rejections?limit=1", as_="admin")
    assert first.status_code == 200, first.text
    page = first.json()
    (newest,) = page["items"]
    assert (newest["original_path"], newest["reason"], newest["source"]) == (
        "pil_decompression_bomb.gif", "decompression_bomb", "test")
    assert newest["quarantine_path"].startswith("quarantine/") and newest["detail"]
    assert (settings.storage_root / newest["quarantine_path"]).is_file()
    second = api.get(f"/api/admin/rejections?limit=1&cursor={page['next_cursor']}", as_="admin").json()
    assert [r["reason"] for r in second["items"]] == ["unsupported_type"] and second["next_cursor"] is None


# --- users ------------------------------------------------------------------------------------------------


def test_users_are_listed_without_password_hashes(api: ApiClient) -> None:
    answer = api.get("/api/admin/users", as_="admin")
    assert answer.status_code == 200, answer.text
    assert [(u["name"], u["role"], u["disabled"]) for u in answer.json()] == [
        ("admin", "admin", False), ("editor", "editor", False), ("viewer", "viewer", False)]
    assert "argon2" not in answer.text and "hash" not in answer.text


def test_create_user_with_a_generated_or_given_password(api: ApiClient) -> None:
    made = api.post("/api/admin/users", as_="admin", json={"name": "alice", "role": "editor"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["user"]["name"] == "alice" and body["user"]["role"] == "editor"
    assert body["password"] and "argon2" not in made.text
    assert _login(api, "alice", body["password"]).status_code == 200
    given = api.post("/api/admin/users", as_="admin", json={"name": "bob", "password": "a long enough one"})
    assert given.status_code == 201 and given.json()["password"] is None
    assert given.json()["user"]["role"] == "viewer"
    assert _login(api, "bob", "a long enough one").status_code == 200
    taken = api.post("/api/admin/users", as_="admin", json={"name": "ALICE"})
    assert taken.status_code == 409 and taken.json()["error"] == "conflict"
    for bad in ({"name": "-bad name"}, {"name": "carol", "password": "short"}, {"name": "d", "role": "root"}):
        assert api.post("/api/admin/users", as_="admin", json=bad).status_code == 422, bad


def test_disable_reset_revoke_and_delete(api: ApiClient, api_users: dict[str, int]) -> None:
    viewer = api_users["viewer"]
    token = api.token("viewer")
    changed = api.patch(f"/api/admin/users/{viewer}", as_="admin", json={"role": "editor"})
    assert changed.status_code == 200 and changed.json()["role"] == "editor"
    assert api.get("/api/auth/me", as_="viewer").json()["role"] == "editor"

    reset = api.post(f"/api/admin/users/{viewer}/password", as_="admin", json={})
    assert reset.status_code == 200, reset.text
    new_password = reset.json()["password"]
    assert new_password and reset.json()["user"]["id"] == viewer
    assert api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _login(api, "viewer", API_PASSWORD).status_code == 401
    fresh = _login(api, "viewer", new_password).json()["token"]
    given = api.post(f"/api/admin/users/{viewer}/password", as_="admin", json={"password": "x" * 12})
    assert given.status_code == 200 and given.json()["password"] is None
    assert api.post(f"/api/admin/users/{viewer}/password", as_="admin",
                    json={"password": "short"}).status_code == 422

    fresh = _login(api, "viewer", "x" * 12).json()["token"]
    assert api.post(f"/api/admin/users/{viewer}/revoke", as_="admin").status_code == 204
    assert api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401

    fresh = _login(api, "viewer", "x" * 12).json()["token"]
    disabled = api.patch(f"/api/admin/users/{viewer}", as_="admin", json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401

    assert api.delete(f"/api/admin/users/{viewer}", as_="admin").status_code == 204
    assert viewer not in [u["id"] for u in api.get("/api/admin/users", as_="admin").json()]
    for method, url, body in [("PATCH", f"/api/admin/users/{viewer}", {"role": "viewer"}),
                              ("POST", f"/api/admin/users/{viewer}/password", {}),
                              ("POST", f"/api/admin/users/{viewer}/revoke", None),
                              ("DELETE", f"/api/admin/users/{viewer}", None)]:
        assert api.request(method, url, as_="admin", json=body).status_code == 404, (method, url)


def test_the_last_admin_cannot_be_demoted_disabled_or_deleted(api: ApiClient,
                                                              api_users: dict[str, int]) -> None:
    admin = api_users["admin"]
    for method, body in [("PATCH", {"role": "editor"}), ("PATCH", {"disabled": True}), ("DELETE", None)]:
        answer = api.request(method, f"/api/admin/users/{admin}", as_="admin", json=body)
        assert answer.status_code == 409, (method, body, answer.text)
        assert "last enabled admin" in answer.json()["message"]
    assert api.get("/api/auth/me", as_="admin").json()["role"] == "admin"
    # With a second admin, the first may step down.
    api.patch(f"/api/admin/users/{api_users['editor']}", as_="admin", json={"role": "admin"})
    assert api.patch(f"/api/admin/users/{admin}", as_="admin", json={"role": "viewer"}).status_code == 200


ADMIN_ROUTES = [
    ("GET", "/api/admin/status", None), ("GET", "/api/admin/jobs", None),
    ("POST", "/api/admin/jobs/1/retry", None),
    ("POST", "/api/admin/requeue", {"analyzer": "dhash", "mode": "all"}),
    ("GET", "/api/admin/rejections", None), ("GET", "/api/admin/users", None),
    ("POST", "/api/admin/users", {"name": "mallory"}), ("PATCH", "/api/admin/users/1", {"role": "admin"}),
    ("POST", "/api/admin/users/1/password", {}), ("POST", "/api/admin/users/1/revoke", None),
    ("DELETE", "/api/admin/users/1", None),
]


def test_admin_routes_are_for_admins_only(api: ApiClient, settings: Settings) -> None:
    for method, url, body in ADMIN_ROUTES:
        assert api.request(method, url, as_=None, json=body).status_code == 401, url
        for role in ("viewer", "editor"):
            answer = api.request(method, url, as_=role, json=body)
            assert answer.status_code == 403, (role, url, answer.text)
            assert answer.json()["error"] == "forbidden"
    with db.connect(settings, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) AS n FROM app_user").fetchone() == {"n": 3}
        assert conn.execute("SELECT count(*) AS n FROM job").fetchone() == {"n": 0}
