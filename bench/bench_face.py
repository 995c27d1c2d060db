"""Per-frame cost of the face path on this CPU: Face Mesh, Face Landmarker (blendshapes), both, and the estimate.

A 640x480 camera frame of the synthetic astronaut, in stream (tracking) mode as
on the live camera, and in static mode as for photos. Reports the median and
p95 milliseconds of: legacy Face Mesh alone (what PainScope ran before the
blendshapes), Face Landmarker alone (what one model per frame would cost),
``FaceTracker`` (both, as served now), and the FACS estimate (geometry +
blendshapes fusion and the look-alike rules). Prints one JSON line.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.common import log, percentile  # noqa: E402

FRAMES = 150  # 10 s at 15 fps
WARM_UP = 10


def _timed(step, frames) -> list[float]:
    times = []
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        step(frame, i)
        times.append((time.perf_counter() - start) * 1000.0)
    return times[WARM_UP:]


def _figures(times: list[float]) -> dict[str, float | None]:
    return {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)}


def main() -> int:
    """Time each stage and print the figures."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from server.pain.face.baseline import baseline_from_faces
    from server.pain.facs.geometry import GeometryEstimator
    from server.vision.face import FaceTracker
    from server.vision.face_model import DEFAULT_PATH
    from tests.synthetic import astronaut_face, camera_frame

    frame = camera_frame(astronaut_face())
    rng = np.random.default_rng(0)
    frames = [np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8) for _ in range(FRAMES)]
    log(f"timing {FRAMES} frames of 640x480 in stream mode")

    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=4, refine_landmarks=True)
    mesh_ms = _timed(lambda f, i: mesh.process(f), frames)
    mesh.close()
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(DEFAULT_PATH)), running_mode=vision.RunningMode.VIDEO,
        num_faces=4, output_face_blendshapes=True,
    )
    landmarker = vision.FaceLandmarker.create_from_options(options)
    landmarker_ms = _timed(
        lambda f, i: landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=f), 33 * (i + 1)),
        frames,
    )
    landmarker.close()
    tracker = FaceTracker(stream=True)
    both_ms = _timed(lambda f, i: tracker.process(f, i / 15.0), frames)
    face = tracker.process(frame, FRAMES / 15.0)[0]
    tracker.close()
    static = FaceTracker()
    static_ms = _timed(lambda f, i: static.process(f), frames[: WARM_UP + 40])
    estimator = GeometryEstimator()
    baseline = baseline_from_faces([face], "reference")
    estimate_ms = _timed(lambda f, i: estimator.estimate(face, baseline), frames)
    static.close()
    print(json.dumps({
        "benchmark": "face", "frame": "640x480", "frames": FRAMES - WARM_UP,
        "face_mesh_stream": _figures(mesh_ms),
        "face_landmarker_stream": _figures(landmarker_ms),
        "face_tracker_stream_both": _figures(both_ms),
        "face_tracker_static_both": _figures(static_ms),
        "facs_estimate": _figures(estimate_ms),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
