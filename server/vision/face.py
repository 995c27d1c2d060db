"""Face landmarks (MediaPipe Face Mesh) and blendshapes (MediaPipe Face Landmarker) of every face.

``FaceTracker`` runs two MediaPipe graphs on each frame: legacy Face Mesh for
the 478 landmarks every analysis uses (geometry, rPPG skin regions, aligned
crops), and the Face Landmarker (Tasks API, the ``face_landmarker.task``
bundle of ``server/vision/face_model.py``) for its 52 blendshape scores learned
from many real faces (browDownLeft, eyeSquintRight, eyeBlinkLeft,
mouthSmileLeft, jawOpen, ...), matched to the Face Mesh face by position.

Why not the Landmarker's own landmarks alone (one model per frame)? Measured
here (docs/validation.md "Benchmarks"): it would save Face Mesh's few milliseconds, but
its landmarks lower the rPPG signal-to-noise ratio of the synthetic 84 bpm
pulse clip from +0.7 dB to -1.3 dB (medium -> low quality), with or without
temporal smoothing, and every AU, rPPG and crop constant here was measured on
Face Mesh's. That trade is left for a change with real rPPG recordings of
whole faces to measure it on.

Static mode detects in every image (photos); stream mode tracks a face from
frame to frame and needs non-decreasing frame times. A live stream
(``background_blendshapes=True``) does not wait for the Face Landmarker: it
starts on the frame that is due and the frames after it read its scores once it
has finished (one or two frames, 30-70 ms, later), so a frame's answer costs
Face Mesh alone. The graphs are not
thread-safe: one tracker serves one caller at a time (``FaceTracker`` holds a lock).
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from server.problems import InputProblem
from server.vision.face_model import resolve, verify
from server.vision.frames import downscale

LANDMARK_COUNT = 478  # Face Mesh topology: 468 + 2 x 5 iris points

# Landmark indices (MediaPipe canonical face mesh topology).
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133  # subject's right eye: image left on a frontal face
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
FOREHEAD_TOP, CHIN = 10, 152
RIGHT_FACE_SIDE, LEFT_FACE_SIDE = 234, 454

# MediaPipe detector settings. 0.5 is MediaPipe's documented default for all three.
MIN_DETECTION_CONFIDENCE = 0.5
MIN_PRESENCE_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5
# Stream mode without capture times: frames are taken as this far apart (a 30 fps camera).
DEFAULT_FRAME_STEP_MS = 33
# Stream mode reads blendshapes at most this often (10 Hz); the frames in between reuse the last
# scores. Facial actions last 0.5 s and more and the verdicts hold a level for 1 s, so 10 Hz
# misses nothing they judge. Measured (bench_live, one stream paced at 30 fps): 15 Hz gave a
# server p50 of 24.5 ms and ack p95 65 ms, 10 Hz 17.2 ms and 60 ms.
BLENDSHAPES_STREAM_INTERVAL_MS = 1000.0 / 10.0 - 5.0  # less a little for capture-time jitter
# Background blendshapes older than this (a stream that paused, or a first frame) are not reused:
# that frame waits for fresh scores instead. Three intervals: two missed runs are tolerated.
BLENDSHAPES_STALE_MS = 3.0 * 1000.0 / 10.0
# A Face Landmarker face belongs to the Face Mesh face whose landmark centroid is
# nearer than this share of that face's eye distance (the same face: ~0.02).
SAME_FACE_IOD_SHARE = 0.5
# The landmarks whose centroid places a face for that match (eye corners, nose tip, chin, forehead):
# spread over the face, and few, since reading all 478 from MediaPipe's Python objects costs ~1 ms.
MATCH_POINTS = [RIGHT_EYE_OUTER, LEFT_EYE_OUTER, 1, CHIN, FOREHEAD_TOP]
DEFAULT_MAX_FACES = 4  # a patient with a carer or two in view; more only costs time

# Quality model: each factor maps one measurable property to [0, 1]; quality is
# their product, so one bad property (tiny, blurred, dark, turned away) is enough
# to make the figure low.
# Inter-ocular distance (outer corners) in pixels. Face Mesh runs on a 192 px
# crop where the eyes are ~70 px apart; below ~12 px in the source the eyelids
# and brows are a few pixels tall and landmark error dominates.
IOD_UNUSABLE_PX = 12.0
IOD_GOOD_PX = 45.0
# Sharpness: variance of the Laplacian of the face crop resized to 128 px wide.
# ~100 is the usual blur threshold for that measure; crisp webcam faces give 200+.
SHARPNESS_CROP_WIDTH = 128
SHARPNESS_GOOD = 100.0
# Exposure: mean 8-bit luma of the face box. Outside roughly 60-200 skin detail
# clips (ITU-R BT.601 luma); below 15 or above 245 there is nothing to measure.
LUMA_DARK, LUMA_LOW, LUMA_HIGH, LUMA_BRIGHT = 15.0, 60.0, 200.0, 245.0
# Head turn: the geometry is frontalised, but beyond ~20 deg one side of the face
# is foreshortened and landmarks there are guessed; at ~60 deg one eye is hidden.
TURN_GOOD_DEG, TURN_UNUSABLE_DEG = 20.0, 60.0


@dataclass(frozen=True)
class Face:
    """One face: box ``(x, y, w, h)`` in image pixels, 478x3 landmarks and a quality in [0, 1].

    Landmarks are pixel coordinates; ``z`` uses the same pixel scale as ``x``
    (MediaPipe's convention), smaller ``z`` being nearer the camera.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    quality: float
    turn_deg: float
    # Face Landmarker's 52 blendshape scores (0-1) by name; empty when a caller built a Face without them.
    blendshapes: Mapping[str, float] = field(default_factory=dict)

    @property
    def area(self) -> int:
        """Box area in pixels (the largest face is taken as the patient)."""
        return self.box[2] * self.box[3]


def load_mediapipe() -> None:
    """Import every part of MediaPipe the trackers use, once, before the server takes requests.

    Issue 25: the first uploads after a start raced on this import (green threads
    of the event loop and analysis threads importing the package at once); one got
    an ImportError from a half-loaded module, a 500. ``Services.build`` calls this
    at start, so a tracker's own imports below only ever find loaded modules.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision  # noqa: F401  (the Face Landmarker)

    mp.solutions.face_mesh.FaceMesh  # noqa: B018  (the solution modules load lazily on first access)
    mp.solutions.pose.Pose  # noqa: B018  (BodyTracker, server/vision/body.py)


class FaceTracker:
    """MediaPipe Face Landmarker, static (photos) or stream (live, video) mode."""

    def __init__(
        self, stream: bool = False, max_faces: int = DEFAULT_MAX_FACES, max_side: int = 1280,
        model_path: str | Path = "", background_blendshapes: bool = False,
    ) -> None:
        """``model_path``: the bundle (default ``models/face_landmarker.task``); missing or altered raises.

        ``background_blendshapes`` (stream mode only; the live camera): a frame never waits for the
        Face Landmarker while reasonably recent scores exist (``BLENDSHAPES_STALE_MS``); the
        Landmarker runs beside the following frames instead. Other stream callers (training's landmark
        extraction) keep it off, so that every frame's blendshapes do not depend on thread timing;
        uploaded videos use a static tracker on their sampled frames (server/assess/analysis.py).
        """
        import mediapipe as mp  # imported here: loading the graph costs ~0.1 s, only when needed
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        self.stream = stream
        self.max_side = max_side
        self._lock = threading.Lock()
        self._last_ms = -1
        self.blendshapes_ms = 0.0  # what the last process() spent in Face Landmarker (a stage of timing_ms)
        self._scored: list = []  # the last Face Landmarker faces (match points, blendshapes), stream mode
        self._scored_ms = float("-inf")
        self.background = stream and background_blendshapes
        self._pending: threading.Thread | None = None  # a background Face Landmarker run, if one is going
        self._pending_answer: list = []
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not stream,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=MIN_DETECTION_CONFIDENCE,
            min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
        )
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(verify(resolve(str(model_path))))),
            running_mode=vision.RunningMode.VIDEO if stream else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=MIN_DETECTION_CONFIDENCE,
            min_face_presence_confidence=MIN_PRESENCE_CONFIDENCE,
            min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
            output_face_blendshapes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def process(self, rgb: np.ndarray, t_s: float | None = None) -> list[Face]:
        """All faces in an RGB uint8 image, largest first (empty list: no face).

        ``t_s`` is the frame's capture time in stream mode (seconds); frames
        must come in time order, and a time that does not move forward is
        taken as one millisecond after the last (the tracker needs increasing times).
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InputProblem("bad_frame", "Expected an RGB image.")
        height, width = rgb.shape[:2]
        small = np.ascontiguousarray(downscale(rgb, self.max_side))
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=small)
        with self._lock:
            if self.stream:
                wanted = self._last_ms + DEFAULT_FRAME_STEP_MS if t_s is None else int(round(t_s * 1000.0))
                self._last_ms = max(self._last_ms + 1, wanted)
            scale = (width, height, width)  # normalised -> pixels; z shares x's scale
            due = not self.stream or self._last_ms - self._scored_ms >= BLENDSHAPES_STREAM_INTERVAL_MS
            self._collect_background()
            fresh_enough = self._last_ms - self._scored_ms < BLENDSHAPES_STALE_MS
            if due and self.background and fresh_enough:
                if self._pending is None:  # else the last run is still going: this frame skips its turn
                    self._start_background(image, scale)
                mesh = self._mesh.process(small)
                self.blendshapes_ms = 0.0  # this frame did not wait for them
            elif due:
                self._wait_background()  # a stale background run: its timestamp must come first
                answer: list = []
                # The two graphs run side by side, one per core: measured here (bench/bench_face.py)
                # a frame then costs about the slower graph rather than the sum of both.
                landmarker = _os_thread(lambda: answer.append(self._detect(image, self._last_ms)))
                landmarker.start()
                mesh = self._mesh.process(small)
                landmarker.join()
                self.blendshapes_ms = self._keep_scores(answer[0], scale, self._last_ms)
            else:
                mesh = self._mesh.process(small)
                self.blendshapes_ms = 0.0
            scored = self._scored
        faces = []
        for face_landmarks in mesh.multi_face_landmarks or ():
            points = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float64) * scale
            faces.append(_make_face(points, rgb, _blendshapes_of(points, scored)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def _detect(self, image, t_ms: int) -> tuple:
        """Face Landmarker on one image: its result, its milliseconds and the frame time,
        or the exception it raised (handed to the caller's thread)."""
        started = time.perf_counter()
        try:
            if self.stream:
                learned = self._landmarker.detect_for_video(image, t_ms)
            else:
                learned = self._landmarker.detect(image)
        except Exception as problem:  # noqa: BLE001 - re-raised in the caller's thread
            return problem
        return learned, (time.perf_counter() - started) * 1000.0

    def _keep_scores(self, answer, scale: tuple[int, int, int], t_ms: float) -> float:
        """Keep one Face Landmarker answer as the scores later frames match; return what the run took
        in milliseconds (the caller holds the lock)."""
        if isinstance(answer, BaseException):
            raise answer
        learned, run_ms = answer
        self._scored = [
            (np.array([(points[j].x, points[j].y) for j in MATCH_POINTS]) * scale[:2],
             {c.category_name: float(c.score)
              for c in (learned.face_blendshapes[i] if learned.face_blendshapes else ())})
            for i, points in enumerate(learned.face_landmarks or ())
        ]
        self._scored_ms = t_ms
        return run_ms

    def _start_background(self, image, scale: tuple[int, int, int]) -> None:
        """Run the Face Landmarker on this frame beside the next ones (the caller holds the lock)."""
        t_ms, answer = self._last_ms, []
        self._pending_answer = [answer, scale, t_ms]
        self._pending = _os_thread(lambda: answer.append(self._detect(image, t_ms)))
        self._pending.start()

    def _collect_background(self) -> None:
        """Take a finished background run's scores, if there is one (the caller holds the lock)."""
        if self._pending is not None and not self._pending.is_alive():
            self._wait_background()

    def _wait_background(self) -> None:
        """Wait for a background run and keep its scores (the caller holds the lock)."""
        if self._pending is None:
            return
        self._pending.join()
        answer, scale, t_ms = self._pending_answer
        self._pending, self._pending_answer = None, []
        self._keep_scores(answer[0], scale, t_ms)  # its cost is not this frame's wait: not a timing stage

    def close(self) -> None:
        """Release the MediaPipe graph."""
        with self._lock:
            try:
                self._wait_background()
            except Exception:  # noqa: BLE001 - closing: a failed last run has no one left to tell
                pass
            self._landmarker.close()
            self._mesh.close()


def _os_thread(target) -> threading.Thread:
    """A real OS thread, also under eventlet's monkey-patching (a green thread would not use the other core)."""
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("thread"):
        return eventlet.patcher.original("threading").Thread(target=target, daemon=True)
    return threading.Thread(target=target, daemon=True)


def _blendshapes_of(points: np.ndarray, scored: list[tuple[np.ndarray, dict[str, float]]]) -> dict[str, float]:
    """The blendshapes of the Face Landmarker face that is this Face Mesh face ({} when none is)."""
    iod = float(np.linalg.norm(points[RIGHT_EYE_OUTER, :2] - points[LEFT_EYE_OUTER, :2]))
    centre = points[MATCH_POINTS, :2].mean(axis=0)
    best, best_distance = {}, SAME_FACE_IOD_SHARE * iod
    for other, blendshapes in scored:
        distance = float(np.linalg.norm(other.mean(axis=0) - centre))
        if distance < best_distance:
            best, best_distance = blendshapes, distance
    return best


def _make_face(points: np.ndarray, rgb: np.ndarray, blendshapes: Mapping[str, float]) -> Face:
    height, width = rgb.shape[:2]
    x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    box = (int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0)))
    turn = head_turn_deg(points)
    quality = face_quality(points, rgb, box, turn)
    return Face(box=box, landmarks=points, quality=quality, turn_deg=turn, blendshapes=blendshapes)


def head_turn_deg(points: np.ndarray) -> float:
    """Angle in degrees between the face's forward direction and the camera axis."""
    right = points[LEFT_FACE_SIDE] - points[RIGHT_FACE_SIDE]
    up = points[CHIN] - points[FOREHEAD_TOP]  # image y grows downwards
    normal = np.cross(right, up)
    norm = np.linalg.norm(normal)
    if norm == 0:
        return 90.0
    # A frontal face has its normal along +z in these coordinates (right x down = +z).
    cos_angle = float(np.clip(normal[2] / norm, -1.0, 1.0))
    return float(np.degrees(np.arccos(cos_angle)))


def face_quality(points: np.ndarray, rgb: np.ndarray, box: tuple[int, int, int, int], turn_deg: float) -> float:
    """Product of size, sharpness, exposure, head-turn and in-frame factors, in [0, 1]."""
    height, width = rgb.shape[:2]
    iod = float(np.linalg.norm(points[RIGHT_EYE_OUTER, :2] - points[LEFT_EYE_OUTER, :2]))
    size_q = ramp(iod, IOD_UNUSABLE_PX, IOD_GOOD_PX)
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    in_frame_q = float(inside.mean())
    x, y, w, h = box
    if w < 2 or h < 2:
        return 0.0
    crop = cv2.cvtColor(rgb[y : y + h, x : x + w], cv2.COLOR_RGB2GRAY)
    luma = float(crop.mean())
    exposure_q = min(ramp(luma, LUMA_DARK, LUMA_LOW), 1.0 - ramp(luma, LUMA_HIGH, LUMA_BRIGHT))
    scaled = cv2.resize(crop, (SHARPNESS_CROP_WIDTH, max(2, round(h * SHARPNESS_CROP_WIDTH / w))))
    sharp_q = ramp(float(cv2.Laplacian(scaled, cv2.CV_64F).var()), 0.0, SHARPNESS_GOOD)
    turn_q = 1.0 - ramp(turn_deg, TURN_GOOD_DEG, TURN_UNUSABLE_DEG)
    return round(size_q * in_frame_q * exposure_q * sharp_q * turn_q, 3)


def ramp(value: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high``, linear between, clipped."""
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))
