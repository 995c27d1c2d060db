"""Benchmark: a soak test of live streams, for leaks and slow-downs that only show over time.

Starts a PainScope server on a free port and runs N simulated browsers
(bench/bench_live.py's client: at most two frames in flight, paced like a
camera) for T minutes. Each stream is closed and opened again every
``--restart-s`` seconds, so session set-up and tear-down are soaked too, and
with ``--record`` every stream is recorded for a patient (a commit a second).
With ``--speech-per-s R`` a client also asks ``/api/v1/speech.wav`` R times a
second meanwhile, cycling through the phrases a page says (a level, with a
heart rate from 60 to 119 bpm: mostly cached renders, a new one now and then),
so the server's voice is soaked beside the streams (issue 25).
Every ``--sample-s`` seconds the server's resident memory and the ack latency
p95 of that interval are sampled. Prints ONE JSON line: the samples' first,
last and highest values and their growth per hour (least-squares slope over
the samples after the first minute, when caches and allocators have settled).
A short run extrapolates a noisy slope: judge leaks on runs of an hour or more.

Usage (from the repository root)::

    .venv/bin/python -m bench.bench_soak [--streams 2] [--minutes 2] [--fps 15] [--restart-s 60] [--record]
                                         [--speech-per-s 1]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):  # run as a file: make ``bench`` and ``server`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402
import socketio  # noqa: E402

from bench.bench_live import NAMESPACE, LiveClient, warm_up_server  # noqa: E402
from bench.common import (  # noqa: E402
    FRAME_LABEL,
    ServerNotHealthy,
    ServerProcess,
    log,
    percentile,
    process_cpu_seconds,
    process_rss_mb,
    sample_frames,
)

DEFAULT_STREAMS = 2
DEFAULT_MINUTES = 2.0  # `make bench` runs every bench with no options: keep the default short
DEFAULT_FPS = 15.0  # PAINSCOPE_LIVE_MAX_FPS: what the page sends
DEFAULT_RESTART_S = 60.0
DEFAULT_SAMPLE_S = 10.0
SETTLE_S = 60.0  # samples before this are left out of the growth slope (warm-up, allocator arenas)
MIN_SLOPE_SAMPLES = 3  # fewer samples than this give no slope (null)
S_PER_HOUR = 3600.0
S_PER_MIN = 60.0
P95 = 95
ROUND = 2
MAX_ERROR_SAMPLES = 5
REQUEST_TIMEOUT_S = 30.0
EXIT_UNHEALTHY = 2
EXIT_FAILED = 1


class SoakClient(LiveClient):
    """A bench_live client that also notes when each ack came, for per-interval latency."""

    def __init__(self, *args: Any, acks: list[tuple[float, float]], acks_lock: threading.Lock,
                 start_options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acks, self._acks_lock = acks, acks_lock
        self._start_options = start_options

    def connect_and_start(self) -> None:
        """Connect and start, with the soak's options (a patient to record for)."""
        self.client.connect(self.base_url, namespaces=[NAMESPACE], transports=["websocket"],
                            auth={"token": self.token})
        reply = self.client.call("start", self._start_options, namespace=NAMESPACE, timeout=REQUEST_TIMEOUT_S)
        if not (isinstance(reply, dict) and reply.get("ok")):
            raise RuntimeError(f"{self.name}: start refused: {reply!r}")
        self._t0 = time.perf_counter()

    def _record_ack(self, seq: int, reply: Any) -> None:
        before = len(self.stats.ack_ms)
        super()._record_ack(seq, reply)
        if len(self.stats.ack_ms) > before:
            with self._acks_lock:
                self._acks.append((time.perf_counter(), self.stats.ack_ms[-1]))


def run_stream(name: str, server: ServerProcess, frames: Sequence[bytes], args: argparse.Namespace,
               deadline: float, acks: list, lock: threading.Lock, options: dict[str, Any],
               totals: dict[str, Any]) -> None:
    """Thread body: open a stream, pump it for ``restart_s``, close it, again, until ``deadline``."""
    sessions = 0
    while time.perf_counter() < deadline:
        client = SoakClient(server.base_url, server.token, frames, f"{name}.{sessions}", args.fps,
                            acks=acks, acks_lock=lock, start_options=options)
        try:
            client.connect_and_start()
            client.pump(min(args.restart_s, max(0.0, deadline - time.perf_counter())))
            client.drain()
        except Exception as problem:  # noqa: BLE001 - counted and reported in the line
            client.stats.failure = f"{type(problem).__name__}: {problem}"
        finally:
            try:
                client.finish()
            except Exception as problem:  # noqa: BLE001
                client.stats.failure = client.stats.failure or f"stop failed: {problem!r}"
        sessions += 1
        with lock:
            stats = client.stats
            for key in ("sent", "processed", "dropped", "errors", "unacked"):
                totals[key] += getattr(stats, key)
            totals["sessions"] += 1
            totals["error_samples"].extend(stats.error_samples[: MAX_ERROR_SAMPLES - len(totals["error_samples"])])
            if stats.failure:
                totals["failures"].append(stats.failure)


SPEECH_LEVELS = ("No pain detected.", "Mild pain.", "Moderate pain.", "Severe pain.")
SPEECH_HEART_RATES = range(60, 120)  # bpm said after the level: 240 phrases in all, few repeats in a short run


def speak(server: ServerProcess, per_s: float, deadline: float, totals: dict[str, Any], lock: threading.Lock) -> None:
    """Thread body: ask for a spoken phrase ``per_s`` times a second until ``deadline``; note status and time."""
    period = 1.0 / per_s
    n = 0
    next_at = time.perf_counter()
    while next_at < deadline:
        time.sleep(max(0.0, next_at - time.perf_counter()))
        level = SPEECH_LEVELS[n % len(SPEECH_LEVELS)]
        rate = SPEECH_HEART_RATES[(n // len(SPEECH_LEVELS)) % len(SPEECH_HEART_RATES)] if n % 3 else None
        text = level if rate is None else f"{level} Heart rate {rate}."
        started = time.perf_counter()
        try:
            response = requests.get(f"{server.base_url}/api/v1/speech.wav", params={"text": text},
                                    headers=server.headers, timeout=REQUEST_TIMEOUT_S)
            status = str(response.status_code)
        except requests.RequestException as problem:
            status = type(problem).__name__
        with lock:
            totals["speech_ms"].append((time.perf_counter() - started) * 1000.0)
            totals["speech_status"][status] = totals["speech_status"].get(status, 0) + 1
        n += 1
        next_at += period


def slope_per_hour(samples: Sequence[tuple[float, float | None]]) -> float | None:
    """Least-squares growth per hour of (elapsed s, value) samples after SETTLE_S; None with too few."""
    points = [(t, v) for t, v in samples if v is not None and t >= SETTLE_S]
    if len(points) < MIN_SLOPE_SAMPLES:
        return None
    times, values = np.array(points, dtype=float).T
    return round(float(np.polyfit(times / S_PER_HOUR, values, 1)[0]), ROUND)


def soak(server: ServerProcess, frames: Sequence[bytes], args: argparse.Namespace) -> dict[str, Any]:
    """Run the streams and the sampler; the result line."""
    options: dict[str, Any] = {"estimator": "geometry"}
    if args.record:
        response = requests.post(f"{server.base_url}/api/v1/patients", headers=server.headers,
                                 json={"identifier": "SOAK-1", "display_name": "Soak"}, timeout=REQUEST_TIMEOUT_S)
        response.raise_for_status()
        options["patient_id"] = response.json()["id"]
    acks: list[tuple[float, float]] = []
    lock = threading.Lock()
    totals: dict[str, Any] = {"sent": 0, "processed": 0, "dropped": 0, "errors": 0, "unacked": 0, "sessions": 0,
                              "error_samples": [], "failures": [], "speech_ms": [], "speech_status": {}}
    start = time.perf_counter()
    deadline = start + args.minutes * S_PER_MIN
    cpu_start = process_cpu_seconds(server.pid)
    threads = [threading.Thread(target=run_stream, daemon=True, name=f"stream{i}",
                                args=(f"stream{i}", server, frames, args, deadline, acks, lock, options, totals))
               for i in range(args.streams)]
    if args.speech_per_s > 0:
        threads.append(threading.Thread(target=speak, daemon=True, name="speech",
                                        args=(server, args.speech_per_s, deadline, totals, lock)))
    for thread in threads:
        thread.start()
    rss: list[tuple[float, float | None]] = []
    p95: list[tuple[float, float | None]] = []
    taken = 0
    while time.perf_counter() + args.sample_s <= deadline:  # whole intervals of streaming only
        time.sleep(args.sample_s)
        now = time.perf_counter()
        with lock:
            interval = [ms for _, ms in acks[taken:]]
            taken = len(acks)
        rss.append((now - start, process_rss_mb(server.pid)))
        p95.append((now - start, percentile(interval, P95)))
        log(f"{(now - start) / S_PER_MIN:.1f} min: rss {rss[-1][1]} MB, ack p95 {p95[-1][1]} ms, "
            f"{len(interval)} acks")
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    cpu_end = process_cpu_seconds(server.pid)
    rss_values = [v for _, v in rss if v is not None]
    p95_values = [v for _, v in p95 if v is not None]
    line: dict[str, Any] = {
        "bench": "soak",
        "streams": args.streams,
        "minutes": round(elapsed / S_PER_MIN, ROUND),
        "fps_per_stream_paced": args.fps,
        "restart_s": args.restart_s,
        "recorded": bool(args.record),
        "sessions": totals["sessions"],
        "samples": len(rss),
        "rss_mb_first": round(rss_values[0], 1) if rss_values else None,
        "rss_mb_last": round(rss_values[-1], 1) if rss_values else None,
        "rss_mb_max": round(max(rss_values), 1) if rss_values else None,
        "rss_mb_growth_per_hour": slope_per_hour(rss),
        "ack_ms_p95_first": p95_values[0] if p95_values else None,
        "ack_ms_p95_last": p95_values[-1] if p95_values else None,
        "ack_ms_p95_max": max(p95_values) if p95_values else None,
        "ack_ms_p95_growth_per_hour": slope_per_hour(p95),
        "ack_ms_p95_overall": percentile([ms for _, ms in acks], P95),
        "frames_per_s_per_stream": round(totals["processed"] / elapsed / args.streams, ROUND),
        "sent": totals["sent"],
        "processed": totals["processed"],
        "dropped": totals["dropped"],
        "errors": totals["errors"],
        "unacked": totals["unacked"],
        "speech_per_s": args.speech_per_s,
        "speech_status": totals["speech_status"],
        "speech_ms_p50": percentile(totals["speech_ms"], 50),
        "speech_ms_p95": percentile(totals["speech_ms"], P95),
        "server_cpu_pct": (round((cpu_end - cpu_start) / elapsed * 100, 1)
                           if cpu_start is not None and cpu_end is not None else None),
        "slope_after_s": SETTLE_S,
        "image": FRAME_LABEL,
    }
    if totals["error_samples"]:
        line["error_samples"] = totals["error_samples"]
    if totals["failures"]:
        line["failures"] = totals["failures"][:MAX_ERROR_SAMPLES]
    return line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=DEFAULT_STREAMS, help=f"streams (default {DEFAULT_STREAMS})")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                        help=f"how long (default {DEFAULT_MINUTES:g}; an hour or more to judge leaks)")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help=f"frames/s per stream (default {DEFAULT_FPS:g})")
    parser.add_argument("--restart-s", type=float, default=DEFAULT_RESTART_S,
                        help=f"close and reopen each stream this often (default {DEFAULT_RESTART_S:g} s)")
    parser.add_argument("--sample-s", type=float, default=DEFAULT_SAMPLE_S,
                        help=f"sampling interval (default {DEFAULT_SAMPLE_S:g} s)")
    parser.add_argument("--record", action="store_true", help="record every stream for a patient")
    parser.add_argument("--speech-per-s", type=float, default=0.0,
                        help="also ask for a spoken phrase this many times a second (default 0: none)")
    args = parser.parse_args(argv)
    if args.streams < 1 or args.minutes <= 0 or args.fps <= 0 or args.restart_s <= 0 or args.sample_s <= 0:
        parser.error("--streams, --minutes, --fps, --restart-s and --sample-s must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; 0 on success, 2 if the server never became healthy, 1 if a stream failed."""
    args = parse_args(argv)
    frames = sample_frames()
    try:
        with ServerProcess() as server:
            warm_up_server(server.base_url, server.token, frames)
            line = soak(server, frames, args)
            print(json.dumps(line), flush=True)
            if "failures" in line:
                server.print_log_tail()
                return EXIT_FAILED
    except ServerNotHealthy as problem:
        log(f"FAILED: {problem}")
        return EXIT_UNHEALTHY
    except (socketio.exceptions.SocketIOError, requests.RequestException, RuntimeError) as problem:
        log(f"FAILED: {problem!r}")
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
