"""Benchmark: seconds of analysis per minute of video, directly and through the job API.

For each size (320x240, 640x480, 1280x720) a synthetic camera clip of the astronaut
face (relaxed, then grimacing, as a bedside clip would be) is written at 30 fps, and:

- **direct**: ``Analyzer.analyze_video`` on the file, in a child process pinned to
  ``--cores`` CPUs (default 1), timed (wall and CPU seconds), with the child's peak RSS (``ru_maxrss``);
- **job API**: a real server (``make run``'s in-process engine) gets the clip at
  ``POST /api/v1/analyze/video`` and is polled at ``GET /api/v1/jobs/<id>`` until done
  (submit to done, the upload included).

Prints ONE JSON line: per size, seconds of analysis per minute of video (and the
"x real time" speed) for both, and the peak RSS. ``--long`` also analyses a clip
``--long`` times as long at 320x240, to show memory stays flat in the video's length.

Usage (from the repository root)::

    .venv/bin/python -m bench.bench_video [--seconds 60] [--cores 1] [--long 3]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as a file: make ``bench`` and ``server`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from bench.common import REPO_ROOT, ServerNotHealthy, ServerProcess, log  # noqa: E402

SIZES = ((320, 240), (640, 480), (1280, 720))
FPS = 30  # a phone camera's rate; the analysis tracks up to 30 fps (server/vitals/rppg.py VIDEO_MAX_FPS)
DEFAULT_SECONDS = 60.0
PAIN_SHARE = 0.3  # the clip's last 30% grimaces
POLL_S = 0.2
JOB_TIMEOUT_S = 1800.0
KIB_PER_MIB = 1024
SECONDS_PER_MINUTE = 60.0
EXIT_UNHEALTHY, EXIT_FAILED = 2, 1


def write_clip(path: Path, size: tuple[int, int], seconds: float) -> None:
    """A ``size`` camera clip of ``seconds``: the face relaxed, then grimacing (mp4v, as phones' H.264 is not
    in OpenCV's wheel)."""
    import cv2

    from tests.synthetic import astronaut_face, camera_frame, grimace

    width, height = size
    frames = [cv2.cvtColor(cv2.resize(camera_frame(face), size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
              for face in (astronaut_face(), grimace(1.0))]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    total = int(seconds * FPS)
    for i in range(total):
        writer.write(frames[1] if i >= total * (1 - PAIN_SHARE) else frames[0])
    writer.release()


def analyse_here(path: str, cores: int) -> dict:
    """In this (child) process: analyse the file on ``cores`` CPUs; wall seconds, frames and peak RSS."""
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
    os.environ.setdefault("GLOG_minloglevel", "2")
    from server.assess.analysis import Analyzer
    from server.config import Settings
    from server.pain.registry import EstimatorRegistry
    from server.vision.face import FaceTracker

    settings = Settings(analysis_threads=cores, model_threads=cores)
    analyzer = Analyzer(settings)
    estimator = EstimatorRegistry(settings).get(None, settings.estimator)
    tracker = FaceTracker(stream=False, max_side=settings.analysis_max_side)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    report = analyzer.analyze_video(tracker, estimator, Path(path))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    tracker.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": seconds, "cpu_s": cpu, "frames": report.summary["frames_analysed"],
            "duration_s": report.summary["duration_s"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB, 1)}


def analyse_in_child(path: Path, cores: int) -> dict:
    """``analyse_here`` in a fresh process, so its peak RSS is this clip's alone."""
    done = subprocess.run([sys.executable, "-m", "bench.bench_video", "--child", str(path), "--cores", str(cores)],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def through_jobs(base_url: str, headers: dict[str, str], path: Path) -> float:
    """Seconds from POST /api/v1/analyze/video (upload included) to the job's done."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = requests.post(base_url + "/api/v1/analyze/video", headers=headers, timeout=600,
                                 files={"video": (path.name, handle, "video/mp4")})
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text[:300]}")
    job_id = response.json()["id"]
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = requests.get(f"{base_url}/api/v1/jobs/{job_id}", headers=headers, timeout=30).json()
        if job["state"] == "done":
            return time.perf_counter() - started
        if job["state"] in ("failed", "cancelled"):
            raise RuntimeError(f"job {job['state']}: {job.get('error')}")
        time.sleep(POLL_S)
    raise RuntimeError("the job did not end in time")


def per_minute(wall_s: float, video_s: float) -> dict:
    """Seconds of analysis per minute of video, and how many times faster than real time."""
    return {"s_per_video_min": round(wall_s * SECONDS_PER_MINUTE / video_s, 2), "x_real_time": round(video_s / wall_s, 2)}


def cpu_per_minute(direct: dict) -> float:
    """CPU seconds (user + system, every thread) per minute of video: what a busy shared machine does not inflate."""
    return round(direct["cpu_s"] * SECONDS_PER_MINUTE / direct["duration_s"], 2)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="clip length (default 60 s)")
    parser.add_argument("--cores", type=int, default=1, help="CPUs the direct analysis may use (default 1)")
    parser.add_argument("--long", type=float, default=0.0, help="also a clip this many times longer, at 320x240")
    parser.add_argument("--no-api", action="store_true", help="skip the job API measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(analyse_here(args.child, args.cores)), flush=True)
        return 0
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="painscope-bench-video-") as folder:
        clips = {}
        for size in SIZES:
            label = f"{size[0]}x{size[1]}"
            clips[label] = Path(folder) / f"{label}.mp4"
            log(f"writing a {args.seconds:g} s {label} clip")
            write_clip(clips[label], size, args.seconds)
            log(f"analysing {label} directly on {args.cores} core(s)")
            direct = analyse_in_child(clips[label], args.cores)
            results[label] = {"direct": {**per_minute(direct["wall_s"], direct["duration_s"]),
                                         "cpu_s_per_video_min": cpu_per_minute(direct),
                                         "frames": direct["frames"]},
                              "peak_rss_mb": direct["peak_rss_mb"], "mb": round(clips[label].stat().st_size / 2**20, 1)}
        if args.long > 1:
            long_clip = Path(folder) / "long.mp4"
            log(f"writing a {args.seconds * args.long:g} s 320x240 clip")
            write_clip(long_clip, SIZES[0], args.seconds * args.long)
            direct = analyse_in_child(long_clip, args.cores)
            results[f"320x240 x{args.long:g} long"] = {
                "direct": {**per_minute(direct["wall_s"], direct["duration_s"]), "cpu_s_per_video_min": cpu_per_minute(direct)},
                "peak_rss_mb": direct["peak_rss_mb"]}
        if not args.no_api:
            try:
                with ServerProcess() as server:
                    through_jobs(server.base_url, server.headers, clips["320x240"])  # warm-up: loads the models
                    for label, path in clips.items():
                        log(f"{label} through the job API")
                        wall = through_jobs(server.base_url, server.headers, path)
                        results[label]["job_api"] = per_minute(wall, args.seconds)
            except ServerNotHealthy as problem:
                log(f"FAILED: {problem}")
                return EXIT_UNHEALTHY
            except (requests.RequestException, RuntimeError) as problem:
                log(f"FAILED: {problem!r}")
                return EXIT_FAILED
    print(json.dumps({"bench": "video", "seconds": args.seconds, "fps": FPS, "cores": args.cores,
                      "machine_cores": os.cpu_count(), "sizes": results}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
