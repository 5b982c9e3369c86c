"""The ingester: drop folder -> storage, Postgres and the outbox.

Public surface (everything else is internal):

- ``ingest.batch.run_once(settings, root, *, source="", progress=None, stop=None) -> Summary`` and
  ``ingest.batch.watch(...)``: what ``pava ingest PATH [--watch]`` runs.
- ``ingest.pipeline.ingest_file(settings, path, *, relpath=None, source="") -> Outcome``: one uploaded
  file through the same pipeline (the API); ``ingest.pipeline.Ingester`` to keep one open per thread.
- ``ingest.recovery.recover(settings, conn)``: finish or undo what interrupted runs left (each batch runs it).
- ``ingest.summary``: the ``--json`` fields; ``ingest.outcome``: statuses and reason codes.

Modules are small and named for their step: walk, hashing, detect, metadata (+ _time, _gps), thumbnails,
video, naming, moves, records, pipeline, recovery, batch (places come from ``core.geocode``). Heavy
libraries (exiftool, the geocoder's table, rawpy, pillow-heif) load on first use.
"""
