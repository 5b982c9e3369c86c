"""Stats (``api/routes/stats.py``): totals, counts by time, camera, label, place and person, the analyses'
progress from the job table, and "on this day" over the items' own wall-clock dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from core import db
from core.settings import Settings
from tests.api_data import Taken, add_face, add_job, add_media, add_person, settings_without_broker
from tests.conftest import ApiClient

THIS_YEAR = date.today().year


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return settings_without_broker(tmp_path, database_url)


@pytest.fixture
def items(settings: Settings) -> dict[str, int]:
    made: dict[str, int] = {}
    with db.connect(settings, autocommit=True) as conn:
        made["morning_2019"] = add_media(
            conn, "2019/a.jpg", taken=Taken("2019-07-14 08:00", "2019-07-14 10:00"), make="Apple",
            model="iPhone X", country_code="FR", country="France", labels={"dog": 1}, size_bytes=1000)
        made["evening_2019"] = add_media(
            conn, "2019/b.jpg", taken=Taken("2019-07-14 13:00", "2019-07-14 15:00"), make="Apple",
            model="iPhone X", country_code="FR", country="France", size_bytes=1000)
        made["late_2021"] = add_media(
            conn, "2021/c.heic", format="heic", taken=Taken("2021-07-14 21:30", "2021-07-14 23:30"),
            make="Canon", model="EOS R", country_code="JP", country="Japan", labels={"person": 2},
            size_bytes=2000)
        # The 15th on the camera's clock, though still the 14th in UTC.
        made["after_midnight_2020"] = add_media(
            conn, "2020/d.mp4", kind="video", format="mp4",
            taken=Taken("2020-07-14 22:30", "2020-07-15 00:30"), size_bytes=5000)
        made["undated"] = add_media(conn, "scans/e.png", format="png", size_bytes=10)
        made["this_year"] = add_media(conn, f"{THIS_YEAR}/f.jpg",
                                      taken=Taken(f"{THIS_YEAR}-07-14 08:00", f"{THIS_YEAR}-07-14 10:00"))
        add_media(conn, "staged/g.jpg", status="staged", taken=Taken("2019-07-14 08:00", "2019-07-14 10:00"),
                  size_bytes=99999)
        add_face(conn, made["morning_2019"], add_person(conn, "alice"))
        for name, analyzer, state in (("morning_2019", "objects", "done"), ("morning_2019", "faces", "done"),
                                      ("morning_2019", "ocr", "failed"), ("late_2021", "objects", "running"),
                                      ("late_2021", "ocr", "queued"), ("late_2021", "dhash", "pending"),
                                      ("after_midnight_2020", "speech", "done")):
            add_job(conn, made[name], analyzer, state)
    return made


def test_stats_of_the_library(api: ApiClient, items: dict[str, int]) -> None:
    body = api.get("/api/stats").json()
    assert body["totals"] == {"items": 6, "photos": 5, "videos": 1, "bytes": 9011}  # the staged one left out
    assert body["years"] == [{"year": 2019, "count": 2}, {"year": 2020, "count": 1},
                             {"year": 2021, "count": 1}, {"year": THIS_YEAR, "count": 1}]
    assert body["months"] == [{"month": "2019-07", "count": 2}, {"month": "2020-07", "count": 1},
                              {"month": "2021-07", "count": 1}, {"month": f"{THIS_YEAR}-07", "count": 1}]
    assert body["cameras"] == [{"make": "Apple", "model": "iPhone X", "count": 2},
                               {"make": "Canon", "model": "EOS R", "count": 1}]
    assert body["labels"] == [{"value": "dog", "count": 1}, {"value": "person", "count": 1}]
    assert body["places"] == [{"country_code": "FR", "country": "France", "count": 2},
                              {"country_code": "JP", "country": "Japan", "count": 1}]
    assert [(p["name"], p["count"]) for p in body["people"]] == [("alice", 1)]
    progress = body["progress"]
    zero = dict.fromkeys(("pending", "queued", "running", "done", "failed"), 0)
    assert progress["objects"] == {**zero, "done": 1, "running": 1}
    assert progress["faces"] == {**zero, "done": 1}
    assert progress["ocr"] == {**zero, "failed": 1, "queued": 1}
    assert progress["dhash"] == {**zero, "pending": 1}
    assert progress["speech"] == {**zero, "done": 1}
    assert all(set(counts) == set(zero) for counts in progress.values())


def test_stats_follow_changes(api: ApiClient, items: dict[str, int], settings: Settings) -> None:
    assert api.get("/api/stats").json()["totals"]["items"] == 6
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("UPDATE media SET status = 'staged' WHERE id = %s", (items["undated"],))
        add_job(conn, items["undated"], "dhash", "failed")
    body = api.get("/api/stats").json()
    assert body["totals"]["items"] == 5 and body["progress"]["dhash"]["failed"] == 1


def test_stats_of_an_empty_library(api: ApiClient) -> None:
    body = api.get("/api/stats").json()
    assert body["totals"] == {"items": 0, "photos": 0, "videos": 0, "bytes": 0}
    assert body["years"] == body["labels"] == body["people"] == []
    assert all(sum(counts.values()) == 0 for counts in body["progress"].values())


def years(answer: Any) -> list[tuple[int, list[int]]]:
    assert answer.status_code == 200, answer.text
    return [(year["year"], [item["id"] for item in year["items"]]) for year in answer.json()["years"]]


def test_on_this_day_uses_the_wall_clock_date_of_earlier_years(api: ApiClient, items: dict[str, int]) -> None:
    assert years(api.get("/api/stats/on-this-day", params={"date": "07-14"})) == [
        (2021, [items["late_2021"]]), (2019, [items["morning_2019"], items["evening_2019"]])]
    assert years(api.get("/api/stats/on-this-day", params={"date": "07-15"})) == [
        (2020, [items["after_midnight_2020"]])]
    assert years(api.get("/api/stats/on-this-day", params={"date": "07-14", "limit": 1})) == [
        (2021, [items["late_2021"]]), (2019, [items["morning_2019"]])]
    assert years(api.get("/api/stats/on-this-day", params={"date": "02-29"})) == []
    item = api.get("/api/stats/on-this-day", params={"date": "07-15"}).json()["years"][0]["items"][0]
    assert item["kind"] == "video" and item["taken_at_local"] == "2020-07-15T00:30:00"


def test_on_this_day_defaults_to_today(api: ApiClient, settings: Settings) -> None:
    today = date.today()
    with db.connect(settings, autocommit=True) as conn:
        taken = datetime(2004, today.month, today.day, 12, tzinfo=UTC)  # 2004: a leap year has every day
        media_id = add_media(conn, "2004/today.jpg", taken_at=taken,
                             taken_at_local=taken.replace(tzinfo=None))
    assert years(api.get("/api/stats/on-this-day")) == [(2004, [media_id])]


@pytest.mark.parametrize("value", ["7-14", "13-01", "02-30", "aa-bb", "0714"])
def test_on_this_day_refuses_what_is_not_a_day(api: ApiClient, value: str) -> None:
    answer = api.get("/api/stats/on-this-day", params={"date": value})
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] in ("date", "query.date")
