"""ffprobe's JSON description of a media file, with the errors the worker runtime understands: a host
without ffprobe, or an ffprobe that hangs, is the host's problem (``TransientError``, retried); a file
ffprobe cannot read is the file's (``PermanentError``, not retried)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workers.analyzer import PermanentError, TransientError

# ffmpeg names its decoders by address ("[hevc @ 0x55e0c1a2b3c0]"): noise in a message.
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+\]")


def probe_json(path: Path, *, timeout: float | None) -> dict[str, Any]:
    """``ffprobe -show_format -show_streams`` of ``path`` as parsed JSON."""
    command = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              check=False)
    except FileNotFoundError as exc:
        raise TransientError(f"ffprobe is not installed (apt-get install ffmpeg): {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise TransientError(f"ffprobe took more than {timeout or 0:.0f}s on {path.name}") from exc
    if done.returncode != 0:
        raise PermanentError(f"ffprobe cannot read {path.name} as a video: {stderr_tail(done.stderr, path)}")
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        raise PermanentError(f"ffprobe printed no JSON for {path.name}: {exc}") from exc
    return data


def stderr_tail(stderr: bytes | None, path: Path) -> str:
    """The last messages a tool printed, with the file named by its name: its absolute path on this host
    means nothing in a job's error read elsewhere."""
    text = (stderr or b"").decode("utf-8", "replace").replace(str(path), path.name)
    return summary(line for line in text.splitlines() if line.strip())


def summary(lines: Iterable[str], keep: int = 3) -> str:
    """The last ``keep`` distinct messages: a corrupt stream repeats one error per packet, with the
    decoder's address in each, which says nothing to a reader."""
    distinct: dict[str, None] = {}
    for line in lines:
        text = _ADDRESS.sub("]", line).strip()
        distinct.pop(text, None)
        distinct[text] = None
    return " | ".join(list(distinct)[-keep:])[-1000:] or "no message"
