"""Video keyframes (workers/keyframes.py) on videos made here with ffmpeg."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.media import MediaKind
from core.perceptual import dhash_image, hamming
from core.settings import Settings
from workers.analyzer import MediaItem, PermanentError, TransientError
from workers.analyzers.dhash import DhashAnalyzer
from workers.keyframes import frames_at, keyframes, probe, sample_index, sample_ms


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=120)


def scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse, "RGB").resize(size, Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    out: dict[str, Path] = {}
    # Three visually different 2-second shots. (A plain colour would not do: a flat picture has
    # no gradient, its dHash is 0, only ~10 bits from smptebars'.)
    cuts = folder / "cuts.mp4"
    sources = ["testsrc=size=320x240:rate=25:duration=2", "smptebars=size=320x240:rate=25:duration=2",
               "testsrc2=size=320x240:rate=25:duration=2"]
    inputs = [arg for source in sources for arg in ("-f", "lavfi", "-i", source)]
    ffmpeg(*inputs, "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-pix_fmt", "yuv420p", str(cuts))
    out["cuts"] = cuts
    # A phone-style video: pixels stored sideways with a rotation tag saying how to show them.
    upright = scene(11)
    stored = folder / "stored.png"
    upright.transpose(Image.Transpose.ROTATE_90).save(stored)  # turned counter-clockwise
    upright.save(folder / "upright.png")
    sideways = folder / "sideways.mp4"
    ffmpeg("-loop", "1", "-i", str(stored), "-t", "1", "-r", "10", "-pix_fmt", "yuv420p", str(sideways))
    rotated = folder / "rotated.mp4"
    # The tag is written as a display matrix only when remuxing (ffmpeg 5.1 drops it when encoding).
    ffmpeg("-i", str(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    out["rotated"], out["upright"] = rotated, folder / "upright.png"
    # Sound only: a "video" container with no picture.
    audio = folder / "audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(audio))
    out["audio"] = audio
    # Cut in half: an mp4 whose index (moov, written last) is gone.
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(cuts.read_bytes()[: cuts.stat().st_size // 2])
    out["truncated"] = truncated
    text = folder / "page.mp4"
    text.write_text("<html><body>404 not found</body></html>\n")
    out["text"] = text
    long_video = folder / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=20", "-pix_fmt", "yuv420p",
           str(long_video))
    out["long"] = long_video
    return out


def test_one_keyframe_per_shot_at_the_cuts(videos: dict[str, Path]) -> None:
    found = keyframes(videos["cuts"], threshold=10, sample_fps=5)
    times = [k.ms for k in found]
    assert len(found) == 3, f"keyframes at {times} ms"
    for got, expected in zip(times, (0, 2000, 4000), strict=True):
        assert abs(got - expected) <= 500, f"keyframes at {times} ms, expected cuts at 0, 2000, 4000"
    # Each keyframe differs from the previous one by more than the threshold; indexes match times.
    for previous, current in itertools.pairwise(found):
        assert hamming(previous.hash, current.hash) > 10
    assert all(k.ms == sample_ms(k.index, 5) and sample_index(k.ms, 5) == k.index for k in found)


def test_threshold_and_cap(videos: dict[str, Path]) -> None:
    # At the largest possible threshold nothing after the first sample is new.
    assert len(keyframes(videos["cuts"], threshold=64)) == 1
    # With threshold 0 every sample that changes at all is a keyframe; the cap stops decoding early.
    capped = keyframes(videos["long"], threshold=0, sample_fps=5, max_keyframes=4)
    assert len(capped) == 4
    assert [k.index for k in capped] == sorted(k.index for k in capped)


def test_frames_at_gives_the_hashed_samples_full_size(videos: dict[str, Path]) -> None:
    found = keyframes(videos["cuts"], threshold=10, sample_fps=5)
    frames = list(frames_at(videos["cuts"], [k.ms for k in found], sample_fps=5))
    assert [f.ms for f in frames] == [k.ms for k in found]
    assert all(f.image.size == (320, 240) and f.image.mode == "RGB" for f in frames)
    for frame, key in zip(frames, found, strict=True):
        # Same sample, hashed by Pillow at full size instead of by ffmpeg at 9x8. Synthetic test
        # patterns are full of flat runs where a rounding flips a bit, hence the slack.
        assert hamming(dhash_image(frame.image), key.hash) <= 12
    small = list(frames_at(videos["cuts"], [found[1].ms], sample_fps=5, max_side=100))
    assert len(small) == 1 and max(small[0].image.size) == 100
    # A timestamp past the end yields nothing for it, and stopping early kills ffmpeg cleanly.
    assert len(list(frames_at(videos["cuts"], [0, 60_000], sample_fps=5))) == 1
    iterator = frames_at(videos["long"], [0, 1000, 2000], sample_fps=5)
    next(iterator)
    iterator.close()


def test_rotation_is_applied(videos: dict[str, Path]) -> None:
    info = probe(videos["rotated"])
    assert (info.width, info.height) == (240, 320)  # stored sideways
    assert info.rotation in (90, 270) and info.display_size == (320, 240)
    [frame] = frames_at(videos["rotated"], [0])
    assert frame.image.size == (320, 240)  # shown upright
    # What a player shows: the stored pixels turned by the display matrix (counter-clockwise
    # degrees). Derived from the probe, because ffmpeg versions disagree on the sign of "rotate".
    with Image.open(videos["upright"]) as upright:
        stored = upright.transpose(Image.Transpose.ROTATE_90)
    shown = stored.rotate(info.rotation, expand=True)
    found = keyframes(videos["rotated"])
    assert len(found) == 1
    assert hamming(found[0].hash, dhash_image(shown)) <= 6, "the keyframe hash is of the picture as shown"
    assert hamming(dhash_image(frame.image), dhash_image(shown)) <= 2
    assert hamming(found[0].hash, dhash_image(stored)) > 16, "not of the pixels as stored"


def test_no_video_stream_means_no_keyframes(videos: dict[str, Path]) -> None:
    assert probe(videos["audio"]).stream_index is None
    assert keyframes(videos["audio"]) == []
    assert list(frames_at(videos["audio"], [0])) == []


def test_broken_videos_are_permanent_errors(videos: dict[str, Path], tmp_path: Path) -> None:
    for name in ("truncated", "text"):
        with pytest.raises(PermanentError, match="ffprobe cannot read"):
            keyframes(videos[name])
    with pytest.raises(TransientError, match="not found"):
        keyframes(tmp_path / "gone.mp4")


def test_timeout_kills_ffmpeg(videos: dict[str, Path]) -> None:
    with pytest.raises(TransientError, match="exceeded"):
        keyframes(videos["long"], sample_fps=25, timeout=0.01)


def test_analyzer_on_video(videos: dict[str, Path], tmp_path: Path) -> None:
    settings = Settings.model_validate({"storage_root": tmp_path, "home": tmp_path})
    analyzer = DhashAnalyzer(settings)
    item = MediaItem(media_id=1, job_id=1, kind=MediaKind.VIDEO, path=videos["cuts"], rel_path="cuts.mp4",
                     sha512="00" * 64, storage_root=tmp_path)
    result = analyzer.analyze(item)
    assert result.hash is None and len(result.keyframes) == 3
    assert [ms for ms, _ in result.rows()] == [k.ms for k in result.keyframes]
    audio = MediaItem(media_id=2, job_id=2, kind=MediaKind.VIDEO, path=videos["audio"], rel_path="audio.mp4",
                      sha512="01" * 64, storage_root=tmp_path)
    assert analyzer.analyze(audio).rows() == []
