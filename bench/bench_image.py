"""Benchmark: sequential still-image uploads to ``POST /api/v1/analyze/image``.

Starts a PainScope server on a free port, warms it up, then uploads 640x480
JPEGs (alternating neutral and painful faces) one after another and prints ONE
JSON line with the server's own analysis time (``timing_ms.total``) and the
client round-trip time, as p50/p95 in milliseconds.

Usage (from the repository root)::

    .venv/bin/python -m bench.bench_image [--n 100]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as a file: make ``bench`` and ``server`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.common import (  # noqa: E402
    FRAME_LABEL,
    ServerNotHealthy,
    ServerProcess,
    log,
    percentile,
    sample_frames,
)

DEFAULT_N = 100
WARMUP_REQUESTS = 5
ENDPOINT = "/api/v1/analyze/image"
UPLOAD_FIELD = "image"
REQUEST_TIMEOUT_S = 60.0
PROGRESS_EVERY = 25
P50, P95 = 50, 95
MS_PER_S = 1000.0
EXIT_UNHEALTHY = 2
EXIT_FAILED = 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N, help=f"measured uploads (default {DEFAULT_N})")
    parser.add_argument("--warmup", type=int, default=WARMUP_REQUESTS, help="unmeasured uploads first")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


STAGES: dict[str, list[float]] = {}  # every measured upload's timing_ms, by stage


def upload(session: requests.Session, url: str, jpeg: bytes, name: str) -> tuple[float, float, bool]:
    """POST one JPEG; return (server ``timing_ms.total``, client round trip ms, face found).

    Each stage's time (decode, face, blendshapes, pain, ...) is kept in STAGES.

    Raises RuntimeError on a non-2xx reply.
    """
    started = time.perf_counter()
    response = session.post(url, files={UPLOAD_FIELD: (name, jpeg, "image/jpeg")}, timeout=REQUEST_TIMEOUT_S)
    roundtrip_ms = (time.perf_counter() - started) * MS_PER_S
    if not response.ok:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:500]}")
    body = response.json()
    for stage, ms in body["timing_ms"].items():
        STAGES.setdefault(stage, []).append(float(ms))
    return float(body["timing_ms"]["total"]), roundtrip_ms, bool(body["face"]["found"])


def run_uploads(
    base_url: str, frames: Sequence[bytes], n: int, warmup: int, headers: dict[str, str] | None = None
) -> tuple[list[float], list[float], int]:
    """``warmup`` unmeasured then ``n`` measured sequential uploads, cycling through ``frames``.

    Returns the server times, the round-trip times and how many results found a face.
    """
    url = base_url + ENDPOINT
    server_ms: list[float] = []
    roundtrip_ms: list[float] = []
    faces_found = 0
    with requests.Session() as session:
        session.headers.update(headers or {})  # the test account's API token
        log(f"warming up with {warmup} uploads")
        for i in range(warmup):
            upload(session, url, frames[i % len(frames)], f"warmup{i}.jpg")
        log(f"measuring {n} uploads")
        STAGES.clear()
        for i in range(n):
            server, roundtrip, found = upload(session, url, frames[i % len(frames)], f"frame{i}.jpg")
            server_ms.append(server)
            roundtrip_ms.append(roundtrip)
            faces_found += found
            if (i + 1) % PROGRESS_EVERY == 0:
                log(f"{i + 1}/{n} uploads")
    return server_ms, roundtrip_ms, faces_found


def summary(n: int, server_ms: Sequence[float], roundtrip_ms: Sequence[float], faces_found: int) -> dict:
    """The result line (``faces_found`` shows the server really analysed a face, not an empty frame)."""
    return {
        "bench": "image",
        "n": n,
        "server_ms_p50": percentile(server_ms, P50),
        "server_ms_p95": percentile(server_ms, P95),
        "roundtrip_ms_p50": percentile(roundtrip_ms, P50),
        "roundtrip_ms_p95": percentile(roundtrip_ms, P95),
        "image": FRAME_LABEL,
        "faces_found": faces_found,
        "stage_ms_p50": {stage: percentile(values, P50) for stage, values in STAGES.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 2 if the server never became healthy, 1 on other failures."""
    args = parse_args(argv)
    log("building test frames")
    frames = sample_frames()  # (neutral, painful): alternated
    try:
        with ServerProcess() as server:
            server_ms, roundtrip_ms, faces_found = run_uploads(server.base_url, frames, args.n, args.warmup, server.headers)
    except ServerNotHealthy as problem:
        log(f"FAILED: {problem}")
        return EXIT_UNHEALTHY
    except (requests.RequestException, RuntimeError, KeyError, ValueError) as problem:
        log(f"FAILED: {problem!r}")
        return EXIT_FAILED
    print(json.dumps(summary(args.n, server_ms, roundtrip_ms, faces_found)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
