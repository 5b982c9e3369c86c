"""The transactional outbox against real Postgres and RabbitMQ."""

from __future__ import annotations

import hashlib

import pika
from support import insert_media

from core import db
from core.broker import Publisher
from core.envelope import decode
from core.media import MediaKind
from core.outbox import pending_count, publish_pending, record_jobs
from core.settings import Settings
from core.topology import Topology


def _media(conn: db.Connection, name: str = "a.jpg") -> tuple[int, str]:
    sha = hashlib.sha512(name.encode()).digest()
    return insert_media(conn, name, sha512=sha, size_bytes=10), sha.hex()


def test_jobs_recorded_then_published_once(settings: Settings) -> None:
    with db.connect(settings) as conn:
        with conn.transaction():
            media_id, sha = _media(conn)
            ids = record_jobs(
                conn,
                media_id=media_id,
                kind=MediaKind.PHOTO,
                path="originals/a.jpg",
                sha512_hex=sha,
                analyses=["dhash", "ocr"],
            )
            # recording twice adds nothing: the job key is (media, analyzer)
            assert (
                record_jobs(
                    conn,
                    media_id=media_id,
                    kind=MediaKind.PHOTO,
                    path="originals/a.jpg",
                    sha512_hex=sha,
                    analyses=["dhash"],
                )
                == []
            )
        assert len(ids) == 2
        assert pending_count(conn) == 2
        with Publisher(settings) as publisher:
            assert publish_pending(conn, publisher) == 2
        assert pending_count(conn) == 0
        states = {r["analyzer"]: r["state"] for r in conn.execute("SELECT analyzer, state FROM job")}
        assert states == {"dhash": "queued", "ocr": "queued"}

    topology = Topology(settings.broker)
    connection = pika.BlockingConnection(pika.URLParameters(settings.require_amqp_url()))
    channel = connection.channel()
    method, _props, body = channel.basic_get(topology.queue("dhash"), auto_ack=True)
    assert method is not None
    envelope = decode(body)
    assert envelope.media_id == media_id and envelope.path == "originals/a.jpg"
    assert channel.basic_get(topology.queue("dhash"), auto_ack=True)[0] is None
    connection.close()
