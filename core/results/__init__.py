"""Reading analysis results back from Postgres, shared by ``pava export`` (through the workers' registry)
and the API's media detail, so that both show one reading of the same rows.

One module per analysis, each with ``export(conn, media_ids) -> {media_id: JSON-able result}``: one call
per batch of items, a fixed number of queries per call (never one per item); items without a result are
absent. Writing stays with the workers (``workers/stores``), which import nothing from here.
"""
