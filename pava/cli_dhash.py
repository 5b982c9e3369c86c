"""Near-duplicate commands, on the stored dHashes.

    pava similar PATH_OR_ID [--threshold T] [--json]   items within Hamming distance T of an item or a file
    pava neardup-groups [--threshold T] [--json]       connected groups of near-duplicate items

``PATH_OR_ID``: digits only is a media id (write ``./123`` for a file named ``123``); anything else is a
file: an image is hashed like the dHash worker does (orientation applied), a video is hashed on its
keyframes. JSON shapes (stable):

    similar:        {"query": {"media_id": int | null, "path": str | null,
                               "hashes": [{"frame_ms": int | null, "hash": "16 hex"}]},
                     "threshold": int,
                     "matches": [{"media_id", "kind", "storage_path", "distance", "frame_ms", "hash",
                                  "query_frame_ms"}]}            nearest first, one entry per item
    neardup-groups: {"threshold": int, "groups": [{"size", "members": [{"media_id", "kind", "storage_path"}],
                                                   "edges": [{"a", "b", "distance"}]}]}   largest first
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from core.neardup import Group, Similar

log = logging.getLogger(__name__)

_THRESHOLD_HELP = "Hamming distance T (default: PAVA_DHASH__NEAR_DUPLICATE_THRESHOLD)"


def _threshold(settings: Settings, value: int | None) -> int:
    return settings.dhash.near_duplicate_threshold if value is None else value


def _hash_file(settings: Settings, path: Path) -> list[tuple[int | None, int]]:
    """(frame_ms, hash) of a query file: one for an image, the keyframes of a video."""
    from core.perceptual import ImageHashError, UnsupportedImageError, dhash_file

    try:
        return [(None, dhash_file(path, max_pixels=settings.ingest.max_image_pixels))]
    except UnsupportedImageError:
        pass  # not an image Pillow reads: perhaps a video
    except ImageHashError as exc:
        raise typer.BadParameter(str(exc), param_hint="PATH_OR_ID") from exc
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="PATH_OR_ID") from exc

    from workers.analyzer import AnalysisError
    from workers.keyframes import keyframes_for

    try:
        found = keyframes_for(path, settings.dhash)
    except AnalysisError as exc:
        raise typer.BadParameter(f"{path} is neither an image nor a readable video: {exc}",
                                 param_hint="PATH_OR_ID") from exc
    if not found:
        raise typer.BadParameter(f"{path} has no picture to hash (no video stream)", param_hint="PATH_OR_ID")
    return [(k.ms, k.hash) for k in found]


def similar(
    target: str = typer.Argument(..., metavar="PATH_OR_ID", help="a media id, or an image or video file"),
    threshold: int | None = typer.Option(None, "--threshold", "-t", min=0, max=64, help=_THRESHOLD_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON (shape in pava/cli_dhash.py)"),
) -> None:
    """Items whose dHash is within Hamming distance T of a stored item or of any image or video file."""
    from core import db
    from core.neardup import UnknownMediaError, media_hashes, similar_to_hashes
    from core.perceptual import to_hex

    settings = get_settings()
    limit = _threshold(settings, threshold)
    media_id: int | None = None
    path: Path | None = None
    if target.isdigit():
        media_id = int(target)
    else:
        path = Path(target)
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {target}", param_hint="PATH_OR_ID")
    with db.connect(settings, autocommit=True, application_name="pava-similar") as conn:
        if media_id is not None:
            try:
                hashes = media_hashes(conn, media_id)
            except UnknownMediaError as exc:
                raise typer.BadParameter(str(exc), param_hint="PATH_OR_ID") from exc
        else:
            assert path is not None
            hashes = _hash_file(settings, path)
        matches = similar_to_hashes(conn, hashes, limit, exclude_media_id=media_id)
    if as_json:
        report: dict[str, Any] = {
            "query": {"media_id": media_id, "path": str(path) if path is not None else None,
                      "hashes": [{"frame_ms": ms, "hash": to_hex(value)} for ms, value in hashes]},
            "threshold": limit,
            "matches": [match.as_json() for match in matches],
        }
        typer.echo(json.dumps(report, indent=2))
        return
    _print_matches(matches, limit, len(hashes))


def _print_matches(matches: list[Similar], limit: int, query_hashes: int) -> None:
    noun = "hash" if query_hashes == 1 else f"{query_hashes} keyframe hashes"
    if not matches:
        typer.echo(f"no item within distance {limit} of the query's {noun}")
        return
    typer.echo(f"{len(matches)} item(s) within distance {limit} of the query's {noun}:")
    typer.echo(f"{'distance':>8}  {'media':>8}  {'kind':<5}  {'frame_ms':>8}  path")
    for m in matches:
        frame = "-" if m.frame_ms is None else str(m.frame_ms)
        typer.echo(f"{m.distance:>8}  {m.media_id:>8}  {m.kind:<5}  {frame:>8}  {m.storage_path}")


def neardup_groups(
    threshold: int | None = typer.Option(None, "--threshold", "-t", min=0, max=64, help=_THRESHOLD_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON (shape in pava/cli_dhash.py)"),
) -> None:
    """Groups of near-duplicate items: connected components of pairs within Hamming distance T."""
    from core import db
    from core.neardup import groups

    settings = get_settings()
    limit = _threshold(settings, threshold)
    with db.connect(settings, autocommit=True, application_name="pava-neardup") as conn:
        found = groups(conn, limit)
    if as_json:
        typer.echo(json.dumps({"threshold": limit, "groups": [g.as_json() for g in found]}, indent=2))
        return
    _print_groups(found, limit)


def _print_groups(found: list[Group], limit: int) -> None:
    if not found:
        typer.echo(f"no near-duplicate groups at distance {limit}")
        return
    typer.echo(f"{len(found)} group(s) at distance {limit}:")
    for number, group in enumerate(found, 1):
        closest: dict[int, int] = {}
        for a, b, distance in group.edges:
            closest[a] = min(closest.get(a, 65), distance)
            closest[b] = min(closest.get(b, 65), distance)
        typer.echo(f"group {number} ({len(group.members)} items)")
        for member in group.members:
            nearest = closest.get(member.media_id, 0)
            typer.echo(f"  {member.media_id:>8}  {member.kind:<5}  nearest {nearest:>2}"
                       f"  {member.storage_path}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``pava`` application."""
    app.command("similar")(similar)
    app.command("neardup-groups")(neardup_groups)
