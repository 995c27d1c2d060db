"""Benchmark: live-stream capacity and latency of the Socket.IO namespace ``/live``.

Starts a PainScope server on a free port; for each stream count N (default 1,
2, 4) runs N simulated browsers for ``--seconds``, each a python-socketio
client on its own thread that keeps at most two frames in flight (a new frame
goes out as soon as fewer than two are un-acked, no frame-rate cap: capacity).
Then one stream paced like a webcam (``--camera-fps``, default 30) measures the
latency a clinician sees. One JSON line per run: processed frames per second
per stream, ack latency p50/p95, server time, drops and errors, next to the
targets.

With ``--workers N`` the server is a cluster instead: N workers behind nginx on
Redis and PostgreSQL (tests/cluster.py, as `make cluster` runs them), the
streams placed evenly over the workers, and the server CPU summed over them.

Usage (from the repository root)::

    .venv/bin/python -m bench.bench_live [--streams 1,2,4] [--seconds 10] [--camera-fps 30] [--workers N]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

if __package__ in (None, ""):  # run as a file: make ``bench`` and ``server`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import socketio  # noqa: E402

from bench.common import (  # noqa: E402
    FRAME_LABEL,
    ServerNotHealthy,
    ServerProcess,
    log,
    percentile,
    process_cpu_seconds,
    sample_frames,
)

NAMESPACE = "/live"
TRANSPORTS = ["websocket"]
ESTIMATOR = "geometry"
DEFAULT_STREAMS = "1,2,4"
DEFAULT_SECONDS = 10.0
MAX_IN_FLIGHT = 2  # what the browser client does: never more than two un-acked frames
SERVER_WARMUP_FRAMES = 20  # one throw-away stream first: MediaPipe loads lazily
STREAM_WARMUP_FRAMES = 5  # per stream, one at a time, before the clock starts (new tracker per session)
CONNECT_TIMEOUT_S = 10.0
CALL_TIMEOUT_S = 30.0  # start/stop and warm-up frames
BARRIER_TIMEOUT_S = 120.0  # all streams connected and warmed up within this long
DRAIN_TIMEOUT_S = 10.0  # after the window, wait this long for the last acks
MAX_ERROR_SAMPLES = 5
MAX_PLACEMENT_TRIES = 20  # reconnections to place one stream on a worker below its share (each lands at random)
PLACEMENT_POLL_S = 0.1
P50, P95 = 50, 95
MS_PER_S = 1000.0
PERCENT = 100.0
EXIT_UNHEALTHY = 2
EXIT_FAILED = 1
CAMERA_FPS = 30.0  # a webcam's frame rate: the paced run sends no faster than this
# Targets (issue "PainScope core"): one stream >= 25 frames/s with ack p95 <= 40 ms,
# judged on a stream paced like a camera (unpaced, two frames in flight always
# queue one behind the other, doubling latency by construction); four streams
# >= 10 frames/s each, judged on capacity (unpaced).
PACED_TARGETS: dict[int, dict[str, float]] = {1: {"fps_per_stream_min": 25.0, "ack_ms_p95": 40.0}}
TARGETS: dict[int, dict[str, float]] = {
    1: {"fps_per_stream_min": 25.0},
    4: {"fps_per_stream_min": 10.0},
}


@dataclass
class StreamStats:
    """What one simulated client saw."""

    sent: int = 0
    processed: int = 0  # acks with a result, received inside the window
    processed_late: int = 0  # acks with a result, received while draining after the window
    faces_found: int = 0
    dropped: int = 0
    errors: int = 0
    unacked: int = 0  # still in flight when the drain timed out
    ack_ms: list[float] = field(default_factory=list)  # every ack
    result_ack_ms: list[float] = field(default_factory=list)  # acks with a result only
    server_ms: list[float] = field(default_factory=list)  # the result's own timing_ms.total
    stage_ms: dict[str, list[float]] = field(default_factory=dict)  # timing_ms by stage (face, blendshapes, ...)
    error_samples: list[str] = field(default_factory=list)
    failure: str | None = None  # the client could not run at all


class LiveClient:
    """One simulated browser: a Socket.IO client on ``/live`` sending frames with at most two in flight."""

    def __init__(
        self, base_url: str, token: str, frames: Sequence[bytes], name: str, pace_fps: float | None = None
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.min_interval_s = 1.0 / pace_fps if pace_fps else 0.0
        self.frames = frames
        self.name = name
        self.stats = StreamStats()
        self.client = socketio.Client(reconnection=False)
        self._cond = threading.Condition()
        self._in_flight: dict[int, float] = {}  # seq -> perf_counter at send
        self._next_seq = 0
        self._t0 = time.perf_counter()
        self._deadline = float("inf")

    def connect_and_start(self) -> None:
        """Connect over WebSocket and open a stream with the geometry estimator."""
        self.client.connect(
            self.base_url, namespaces=[NAMESPACE], transports=TRANSPORTS, wait_timeout=CONNECT_TIMEOUT_S,
            auth={"token": self.token},
        )
        reply = self.client.call("start", {"estimator": ESTIMATOR}, namespace=NAMESPACE, timeout=CALL_TIMEOUT_S)
        if not (isinstance(reply, dict) and reply.get("ok")):
            raise RuntimeError(f"{self.name}: start refused: {reply!r}")
        self._t0 = time.perf_counter()

    def warm_up(self, frames: int) -> None:
        """Send ``frames`` frames one at a time (unmeasured) so the session's tracker is warm."""
        for _ in range(frames):
            seq = self._take_seq()
            reply = self.client.call("frame", self._payload(seq), namespace=NAMESPACE, timeout=CALL_TIMEOUT_S)
            if not isinstance(reply, dict) or "error" in reply:
                raise RuntimeError(f"{self.name}: warm-up frame {seq} failed: {reply!r}")

    def pump(self, seconds: float) -> None:
        """Send frames for ``seconds`` as fast as acks (and the pace) allow, never more than MAX_IN_FLIGHT un-acked."""
        self._deadline = time.perf_counter() + seconds
        next_send = time.perf_counter()
        while True:
            wait = next_send - time.perf_counter()
            if wait > 0:
                time.sleep(min(wait, max(0.0, self._deadline - time.perf_counter())))
            next_send = max(next_send + self.min_interval_s, time.perf_counter())
            with self._cond:
                while len(self._in_flight) >= MAX_IN_FLIGHT and time.perf_counter() < self._deadline:
                    self._cond.wait(timeout=max(0.0, self._deadline - time.perf_counter()))
                if time.perf_counter() >= self._deadline:
                    return
                seq = self._take_seq()
                self._in_flight[seq] = time.perf_counter()
                self.stats.sent += 1
            self.client.emit("frame", self._payload(seq), namespace=NAMESPACE, callback=self._ack_handler(seq))

    def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Wait for the acks of frames still in flight (up to ``timeout_s``)."""
        give_up = time.perf_counter() + timeout_s
        with self._cond:
            while self._in_flight and time.perf_counter() < give_up:
                self._cond.wait(timeout=max(0.0, give_up - time.perf_counter()))
            self.stats.unacked = len(self._in_flight)

    def finish(self) -> None:
        """``stop`` the stream (if still connected) and disconnect."""
        try:
            if self.client.connected:
                self.client.call("stop", {}, namespace=NAMESPACE, timeout=CALL_TIMEOUT_S)
        finally:
            self.client.disconnect()

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def _payload(self, seq: int) -> dict[str, Any]:
        """A frame message; neutral and painful faces alternate."""
        t_ms = (time.perf_counter() - self._t0) * MS_PER_S
        return {"seq": seq, "t_ms": t_ms, "jpeg": self.frames[seq % len(self.frames)]}

    def _ack_handler(self, seq: int) -> Callable[..., None]:
        """The emit callback for frame ``seq`` (python-socketio calls it with the ack's arguments)."""

        def on_ack(*data: Any) -> None:
            self._record_ack(seq, data[0] if data else None)

        return on_ack

    def _record_ack(self, seq: int, reply: Any) -> None:
        """Classify one ack (result / dropped / error), record its latency, free its in-flight slot."""
        now = time.perf_counter()
        with self._cond:
            sent_at = self._in_flight.pop(seq, None)
            if sent_at is None:
                return
            latency_ms = (now - sent_at) * MS_PER_S
            self.stats.ack_ms.append(latency_ms)
            if not isinstance(reply, dict) or "error" in reply:
                self.stats.errors += 1
                if len(self.stats.error_samples) < MAX_ERROR_SAMPLES:
                    self.stats.error_samples.append(repr(reply)[:200])
            elif reply.get("dropped"):
                self.stats.dropped += 1
            elif "pain" in reply or "face" in reply:
                self.stats.result_ack_ms.append(latency_ms)
                total = (reply.get("timing_ms") or {}).get("total")
                if isinstance(total, (int, float)):
                    self.stats.server_ms.append(float(total))
                for stage, ms in (reply.get("timing_ms") or {}).items():
                    self.stats.stage_ms.setdefault(stage, []).append(float(ms))
                self.stats.faces_found += bool((reply.get("face") or {}).get("found"))
                if now <= self._deadline:
                    self.stats.processed += 1
                else:
                    self.stats.processed_late += 1
            else:
                self.stats.errors += 1
                if len(self.stats.error_samples) < MAX_ERROR_SAMPLES:
                    self.stats.error_samples.append(f"unexpected ack: {reply!r}"[:200])
            self._cond.notify_all()


class CpuMeter:
    """CPU use of this benchmark process and of the server (all its workers) between ``start()`` and ``read()``."""

    def __init__(self, server_pids: Sequence[int]) -> None:
        self.server_pids = list(server_pids)
        self._wall: float | None = None
        self._client = 0.0
        self._server: float | None = None

    def _server_seconds(self) -> float | None:
        seconds = [process_cpu_seconds(pid) for pid in self.server_pids]
        return None if None in seconds else sum(seconds)

    def start(self) -> None:
        """Mark the beginning (used as the barrier action: all streams released)."""
        self._wall = time.perf_counter()
        self._client = time.process_time()
        self._server = self._server_seconds()

    def read(self) -> dict[str, float | None]:
        """CPU percent of one core used since ``start()`` (200 = two cores busy); None if never started."""
        if self._wall is None:
            return {"server_cpu_pct": None, "bench_client_cpu_pct": None}
        wall = time.perf_counter() - self._wall
        client = (time.process_time() - self._client) / wall * PERCENT
        server_now = self._server_seconds()
        server = None
        if server_now is not None and self._server is not None:
            server = round((server_now - self._server) / wall * PERCENT, 1)
        return {"server_cpu_pct": server, "bench_client_cpu_pct": round(client, 1)}


class EvenPlacement:
    """Streams spread evenly over a cluster's workers.

    nginx puts each new client on a worker by a random key, which evens out over a ward's many
    cameras but not over a benchmark's four: a client that lands on a worker already holding its
    share stops and connects again, one client at a time.
    """

    def __init__(self, cluster: Any, streams: int) -> None:
        self.cluster = cluster
        self.share = math.ceil(streams / len(cluster.workers))
        self._lock = threading.Lock()

    def connect(self, client: "LiveClient") -> None:
        """Connect and start ``client`` on a worker below its share (RuntimeError after MAX_PLACEMENT_TRIES)."""
        with self._lock:
            for _ in range(MAX_PLACEMENT_TRIES):
                before = self.cluster.worker_streams()
                client.connect_and_start()
                after = self.cluster.worker_streams()
                if all(after[pid] <= self.share for pid in after):
                    return
                client.finish()
                client.client = socketio.Client(reconnection=False)
                deadline = time.monotonic() + CALL_TIMEOUT_S
                while self.cluster.worker_streams() != before and time.monotonic() < deadline:
                    time.sleep(PLACEMENT_POLL_S)  # the worker has not closed the stream yet
        raise RuntimeError(f"{client.name}: no worker below its share of {self.share} streams")


def run_client(
    client: LiveClient, barrier: threading.Barrier, seconds: float, placement: EvenPlacement | None = None,
) -> None:
    """Thread body: connect, warm up, wait for all streams, pump, drain, stop. Failures go to ``stats``."""
    try:
        if placement is not None:
            placement.connect(client)
        else:
            client.connect_and_start()
        client.warm_up(STREAM_WARMUP_FRAMES)
        barrier.wait(timeout=BARRIER_TIMEOUT_S)
        client.pump(seconds)
        client.drain()
    except threading.BrokenBarrierError:
        client.stats.failure = client.stats.failure or "another stream failed before the start"
    except Exception as problem:  # noqa: BLE001 - reported in the result line, not swallowed
        client.stats.failure = f"{type(problem).__name__}: {problem}"
        barrier.abort()
    finally:
        try:
            client.finish()
        except Exception as problem:  # noqa: BLE001
            log(f"{client.name}: stop/disconnect failed: {problem!r}")


def run_streams(
    base_url: str, token: str, frames: Sequence[bytes], streams: int, seconds: float, cpu: CpuMeter,
    pace_fps: float | None = None, placement: EvenPlacement | None = None,
) -> list[StreamStats]:
    """``streams`` clients in parallel threads, measured together for ``seconds``; ``cpu`` starts with them
    (``placement``: spread them over a cluster's workers)."""
    clients = [LiveClient(base_url, token, frames, f"stream{i}", pace_fps) for i in range(streams)]
    barrier = threading.Barrier(streams, action=cpu.start)
    threads = [
        threading.Thread(target=run_client, args=(c, barrier, seconds, placement), name=c.name, daemon=True) for c in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [c.stats for c in clients]


def warm_up_server(base_url: str, token: str, frames: Sequence[bytes]) -> None:
    """One unmeasured stream so MediaPipe is loaded before anything is timed."""
    log(f"warming up the server with one stream of {SERVER_WARMUP_FRAMES} frames")
    client = LiveClient(base_url, token, frames, "warmup")
    try:
        client.connect_and_start()
        client.warm_up(SERVER_WARMUP_FRAMES)
    finally:
        client.finish()


def meets(target: dict[str, float] | None, line: dict[str, Any]) -> bool | None:
    """Whether the measured line meets ``target`` (fps at least, latency at most); None without a target."""
    if target is None:
        return None
    for key, bound in target.items():
        value = line.get(key)
        if value is None:
            return False
        if key.startswith("fps") and value < bound:
            return False
        if key.startswith("ack_ms") and value > bound:
            return False
    return True


def summary(
    streams: int, seconds: float, stats: Sequence[StreamStats], cpu: dict[str, float | None],
    pace_fps: float | None = None,
) -> dict[str, Any]:
    """The result line for one run (``cpu``: CpuMeter.read() over the window plus drain)."""
    fps = [s.processed / seconds for s in stats]
    ack_ms = [ms for s in stats for ms in s.ack_ms]
    result_ack_ms = [ms for s in stats for ms in s.result_ack_ms]
    server_ms = [ms for s in stats for ms in s.server_ms]
    target = (PACED_TARGETS if pace_fps else TARGETS).get(streams)
    line: dict[str, Any] = {
        "bench": "live",
        "mode": f"paced {pace_fps:g} fps" if pace_fps else "capacity",
        "streams": streams,
        "seconds": seconds,
        "fps_per_stream_mean": round(sum(fps) / len(fps), 2),
        "fps_per_stream_min": round(min(fps), 2),
        "ack_ms_p50": percentile(ack_ms, P50),
        "ack_ms_p95": percentile(ack_ms, P95),
        "result_ack_ms_p50": percentile(result_ack_ms, P50),
        "result_ack_ms_p95": percentile(result_ack_ms, P95),
        "server_ms_p50": percentile(server_ms, P50),
        "server_ms_p95": percentile(server_ms, P95),
        "stage_ms_p50": {
            stage: percentile([ms for s in stats for ms in s.stage_ms.get(stage, [])], P50)
            for stage in sorted({stage for s in stats for stage in s.stage_ms})
        },
        "sent": sum(s.sent for s in stats),
        "processed": sum(s.processed for s in stats),
        "processed_after_window": sum(s.processed_late for s in stats),
        "faces_found": sum(s.faces_found for s in stats),
        "dropped": sum(s.dropped for s in stats),
        "errors": sum(s.errors for s in stats),
        "unacked": sum(s.unacked for s in stats),
        "max_in_flight": MAX_IN_FLIGHT,
        **cpu,
        "image": FRAME_LABEL,
        "target": target,
    }
    line["meets_target"] = meets(target, line)
    samples = [e for s in stats for e in s.error_samples][:MAX_ERROR_SAMPLES]
    failures = [s.failure for s in stats if s.failure]
    if samples:
        line["error_samples"] = samples
    if failures:
        line["failures"] = failures
    return line


def parse_streams(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]`` (each at least 1)."""
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give positive stream counts, e.g. 1,2,4")
    return counts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=parse_streams, default=parse_streams(DEFAULT_STREAMS),
                        help=f"comma-separated stream counts (default {DEFAULT_STREAMS})")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help=f"measured seconds per stream count (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--camera-fps", type=float, default=CAMERA_FPS,
                        help=f"pace of the latency run (default {CAMERA_FPS:g}, a webcam)")
    parser.add_argument("--workers", type=int, default=0,
                        help="0 (default): one server process; N: N workers behind nginx on Redis and PostgreSQL")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    return args


@dataclass
class Target:
    """What the streams connect to (a URL and token), the server processes behind it, and the cluster
    (None: one process)."""

    url: str
    token: str
    servers: list[ServerProcess]
    cluster: Any = None

    def placement(self, streams: int) -> EvenPlacement | None:
        """How ``streams`` streams are placed: evenly over a cluster's workers, or as they come."""
        return EvenPlacement(self.cluster, streams) if self.cluster is not None else None


@contextlib.contextmanager
def serving(workers: int) -> Iterator[Target]:
    """One server process (``workers`` 0), or a cluster of ``workers`` behind nginx (tests/cluster.py)."""
    if not workers:
        with ServerProcess() as server:
            yield Target(server.base_url, server.token, [server])
        return
    from tests.cluster import running_cluster

    with running_cluster(workers) as cluster:
        yield Target(cluster.url, cluster.token, cluster.workers, cluster)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 2 if the server never became healthy, 1 if a stream failed."""
    args = parse_args(argv)
    log("building test frames")
    frames = sample_frames()  # (neutral, painful): alternated
    any_failed = False
    try:
        with serving(args.workers) as target:
            for server in target.servers:  # each worker loads MediaPipe on its first stream
                warm_up_server(server.base_url, target.token, frames)
            for streams in args.streams:
                log(f"measuring {streams} stream(s) for {args.seconds:g} s")
                cpu = CpuMeter([server.pid for server in target.servers])
                stats = run_streams(target.url, target.token, frames, streams, args.seconds, cpu,
                                    placement=target.placement(streams))
                line = {**summary(streams, args.seconds, stats, cpu.read()), "workers": max(1, args.workers)}
                print(json.dumps(line), flush=True)
                any_failed = any_failed or "failures" in line
            log(f"measuring 1 stream paced at {args.camera_fps:g} fps for {args.seconds:g} s")
            cpu = CpuMeter([server.pid for server in target.servers])
            stats = run_streams(target.url, target.token, frames, 1, args.seconds, cpu, args.camera_fps)
            line = {**summary(1, args.seconds, stats, cpu.read(), args.camera_fps), "workers": max(1, args.workers)}
            print(json.dumps(line), flush=True)
            any_failed = any_failed or "failures" in line
            if any_failed:
                for server in target.servers:
                    server.print_log_tail()
    except ServerNotHealthy as problem:
        log(f"FAILED: {problem}")
        return EXIT_UNHEALTHY
    except (socketio.exceptions.SocketIOError, RuntimeError) as problem:
        log(f"FAILED: {problem!r}")
        return EXIT_FAILED
    return EXIT_FAILED if any_failed else 0


if __name__ == "__main__":
    sys.exit(main())
