"""The dHash analyzer: one 64-bit perceptual hash per photo, and per video its keyframes' hashes.

Decision on videos: a video is stored only as its keyframes (one ``perceptual_hash`` row each, with
``frame_ms``); there is no extra row standing for the whole video. Search and groups cover every row,
so a video is found through any of its keyframes, and a photo taken from a video matches the
keyframe it came from. Where one hash per item is wanted (``pava export``'s ``hash`` field), the
first keyframe (time 0, always a keyframe) is the video's representative.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.media import MediaKind
from core.perceptual import ImageHashError, UnsupportedImageError, dhash_file
from core.storage import THUMB_PREVIEW, resolve, thumbnail_rel
from workers.analyzer import Analyzer, MediaItem, PermanentError, ResultMeta, TransientError
from workers.keyframes import Keyframe, keyframes_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DhashResult:
    """A photo's hash, or a video's keyframes (an audio-only "video" has neither)."""

    hash: int | None = None  # unsigned 64-bit; photos only
    keyframes: tuple[Keyframe, ...] = ()

    def rows(self) -> list[tuple[int | None, int]]:
        """(frame_ms, unsigned hash) as stored: frame_ms None for a photo."""
        if self.hash is not None:
            return [(None, self.hash)]
        return [(k.ms, k.hash) for k in self.keyframes]


class DhashAnalyzer(Analyzer[DhashResult]):
    """dHash of photos (orientation applied) and of video keyframes."""

    name = "dhash"
    # Bump when a change alters stored hashes (decode size, filter, bit order) so that
    # `pava requeue dhash --all` has a reason and old rows are recognisable.
    version = "1"
    kinds = frozenset({MediaKind.PHOTO, MediaKind.VIDEO})

    def meta(self) -> ResultMeta:
        config = self.settings.dhash
        return ResultMeta(
            analyzer=self.name, version=self.version, backend="pillow+ffmpeg",
            extra={"keyframe_threshold": config.keyframe_threshold,
                   "keyframe_sample_fps": config.keyframe_sample_fps, "max_keyframes": config.max_keyframes},
        )

    def analyze(self, item: MediaItem) -> DhashResult:
        if item.kind is MediaKind.VIDEO:
            found = keyframes_for(item.path, self.settings.dhash, timeout=self.settings.worker.job_timeout)
            log.debug("media %d: %d keyframes", item.media_id, len(found))
            return DhashResult(keyframes=tuple(found))
        return DhashResult(hash=self._photo_hash(item))

    def _photo_hash(self, item: MediaItem) -> int:
        limit = self.settings.ingest.max_image_pixels
        try:
            return dhash_file(item.path, max_pixels=limit)
        except UnsupportedImageError as exc:
            # RAW files (and anything else Pillow cannot read) were rendered by the ingester from
            # their embedded preview: hash that preview, which shows the same picture upright.
            preview = resolve(item.storage_root, thumbnail_rel(item.sha512, THUMB_PREVIEW))
            if not preview.is_file():
                raise PermanentError(f"{exc} (and no preview thumbnail to hash instead)") from exc
            log.info("media %d: hashing its preview thumbnail (%s)", item.media_id, exc)
            try:
                return dhash_file(preview, max_pixels=limit)
            except ImageHashError as preview_exc:
                raise PermanentError(f"{exc}; preview thumbnail unreadable too: {preview_exc}") from exc
            except OSError as preview_exc:
                raise TransientError(f"cannot read the preview thumbnail: {preview_exc}") from exc
        except ImageHashError as exc:
            raise PermanentError(str(exc)) from exc
        except OSError as exc:
            # The file could not even be opened: most likely the storage mount is away. Retried with
            # backoff, dead-lettered after the configured attempts if it stays so.
            raise TransientError(f"cannot open {item.rel_path}: {exc}") from exc
