"""Benchmark helpers: test frames, percentiles, CPU readings. The server itself: tests/server_process.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.server_process import ServerNotHealthy, ServerProcess, log  # noqa: E402,F401  (re-exported)

JPEG_QUALITY = 80
PAIN_MOVEMENT = "brow_lower"
PAIN_STRENGTH = 1.0
FRAME_LABEL = "640x480 jpeg"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` rounded to 0.01, or None when empty."""
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 2)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc), or None when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After "pid (comm)": field 3 is state, so utime/stime (fields 14/15) are at 11/12 here.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def sample_frames(quality: int = JPEG_QUALITY) -> tuple[bytes, bytes]:
    """(neutral, painful) 640x480 JPEG camera frames of the synthetic astronaut face."""
    from tests.synthetic import astronaut_face, camera_frame, encode, expression

    neutral = encode(camera_frame(astronaut_face()), "JPEG", quality)
    painful = encode(camera_frame(expression(PAIN_MOVEMENT, PAIN_STRENGTH)), "JPEG", quality)
    return neutral, painful


KIB_PER_MIB = 1024


def process_rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MiB (Linux /proc VmRSS), or None when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / KIB_PER_MIB
    except (OSError, ValueError, IndexError):
        return None
    return None
