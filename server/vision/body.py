"""Body parts and their movement, from MediaPipe Pose (landmarks + person segmentation).

Behavioural pain scales for people who cannot self-report (FLACC's "legs" and
"activity" items, for example) look at the body, not only the face: legs
kicking or drawn up, squirming, rigid or arching. This module finds *where*
the head, arms, torso and legs are in an image and how fast they move over a
video; it does not score those items.

Method: MediaPipe Pose (legacy ``mp.solutions``, whose model ships in the
mediapipe 0.10.21 wheel) gives 33 landmarks with a visibility each and a
person segmentation mask. Every person pixel is given the class of its nearest
pose "bone" (segments between visible landmarks): head = face landmarks 0-10,
arm = shoulder-elbow-wrist-hand, torso = the shoulders-hips quadrilateral,
leg = hip-knee-ankle-foot. Pure numpy / OpenCV; nothing here knows of Flask.

The label mask can come from elsewhere: :class:`MaskPartFinder` wraps any
function from an image to a label mask (the learned segmenter of
``server/vision/segmenter.py``), and everything after the mask (boxes,
centroids, areas, overlay, tracks, movement index) is the same code.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Callable, Iterable, Protocol

import cv2
import numpy as np

from server.problems import InputProblem
from server.vision.frames import ImageLimits, VideoLimits, decode_image, downscale, open_video

# Class values in the label mask.
BACKGROUND, HEAD, ARM, TORSO, LEG = 0, 1, 2, 3, 4
PART_NAMES: dict[int, str] = {HEAD: "head", ARM: "arm", TORSO: "torso", LEG: "leg"}
CLASS_NAMES: dict[int, str] = {BACKGROUND: "background", **PART_NAMES}

# Overlay colours (RGB), one per class; background is left unpainted.
CLASS_COLOURS: dict[int, tuple[int, int, int]] = {
    HEAD: (255, 200, 0),  # amber
    ARM: (0, 170, 255),  # sky blue
    TORSO: (60, 200, 60),  # green
    LEG: (230, 60, 200),  # magenta
}
OVERLAY_ALPHA = 0.5  # half colour, half photo: the person stays recognisable under the tint
OVERLAY_MAX_SIDE = 1024  # px; an overlay is for looking at, a 12 MP PNG would be ~20 MB of JSON

# MediaPipe Pose landmark indices (the BlazePose 33-point topology).
NOSE, MOUTH_LEFT, MOUTH_RIGHT = 0, 9, 10
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 11, 12, 23, 24
HEAD_POINTS = tuple(range(0, 11))  # nose, eyes, ears, mouth corners
HEAD_BONES = ((7, 8), (2, 5), (0, 2), (0, 5), (3, 7), (6, 8), (9, 10), (0, 9), (0, 10))
ARM_BONES = (
    (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),  # left shoulder-elbow-wrist-hand
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),  # right
)
TORSO_BONES = ((11, 12), (12, 24), (24, 23), (23, 11))
LEG_BONES = (
    (23, 25), (25, 27), (27, 29), (27, 31), (29, 31),  # left hip-knee-ankle-heel-toe
    (24, 26), (26, 28), (28, 30), (28, 32), (30, 32),  # right
)
ARM_POINTS = tuple(range(13, 23))
LEG_POINTS = tuple(range(25, 33))
BONES_BY_CLASS: dict[int, tuple[tuple[int, int], ...]] = {
    HEAD: HEAD_BONES, ARM: ARM_BONES, TORSO: TORSO_BONES, LEG: LEG_BONES,
}
# Landmarks that stand alone for their class when none of their bones is usable
# (e.g. a wrist whose elbow is hidden still marks the arm).
POINTS_BY_CLASS: dict[int, tuple[int, ...]] = {
    HEAD: HEAD_POINTS, ARM: ARM_POINTS, TORSO: (LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP), LEG: LEG_POINTS,
}

# A landmark counts when its visibility is at least this; 0.5 is the threshold
# MediaPipe's own drawing utility uses (drawing_utils._VISIBILITY_THRESHOLD).
VISIBILITY_MIN = 0.5
# A pixel is the person's when the segmentation probability exceeds this: the
# even-odds decision boundary (MediaPipe's demo uses 0.1 for a generous cut-out).
SEGMENTATION_MIN = 0.5
MIN_DETECTION_CONFIDENCE = 0.5  # MediaPipe's documented default
MIN_TRACKING_CONFIDENCE = 0.5  # MediaPipe's documented default
MODEL_COMPLEXITY = 1  # 0 lite / 1 full / 2 heavy: "full" is MediaPipe's default, ~30 ms per frame on a CPU
# Torso height (shoulder to hip) over shoulder width when the hips are out of view
# (a portrait): Drillis & Contini segment fractions of stature, as tabulated in
# Winter, "Biomechanics and Motor Control of Human Movement": shoulder height 0.818 H,
# hip (greater trochanter) 0.530 H, shoulder width 0.259 H -> (0.818 - 0.530) / 0.259.
TORSO_HEIGHT_PER_SHOULDER_WIDTH = (0.818 - 0.530) / 0.259
# Parts are assigned on a copy of the mask at most this size; 320 px keeps the
# nearest-bone search to ~0.1 M pixels and loses only detail finer than the mask's
# own (MediaPipe's segmentation runs at 256 x 256).
LABEL_MAX_SIDE = 320
# Body video: frames analysed per second. Limb movements that matter on a pain
# scale (kicking, squirming, withdrawing) last a second or more, so 2 per second
# sees them while a 2-minute video costs ~240 pose runs.
BODY_VIDEO_FPS = 2.0


@dataclass(frozen=True)
class PartStats:
    """Where one body part is: box ``(x, y, w, h)``, centroid ``(x, y)`` and area, in image pixels."""

    box: tuple[int, int, int, int]
    centroid: tuple[float, float]
    area_px: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"box": list(self.box), "centroid": [round(c, 1) for c in self.centroid], "area_px": self.area_px}


@dataclass(frozen=True)
class BodyParts:
    """One image's body parts: the class mask (H x W uint8, values 0-4) and the parts seen.

    ``parts`` holds only the parts with at least one pixel; ``person_box`` is the
    box of all person pixels (None when no person was found).
    """

    labels: np.ndarray
    parts: dict[str, PartStats]
    person_box: tuple[int, int, int, int] | None
    # Pose only: the shoulder line's height (mean y of both shoulders, pixels) and its width, when
    # both shoulders are visible; what breathing lifts (server/vitals/respiration.py).
    shoulders: tuple[float, float] | None = None

    @property
    def person_found(self) -> bool:
        """True when a person (any part) was found."""
        return bool(self.parts)

    @property
    def person_size_px(self) -> float | None:
        """The diagonal of the person's box: the yardstick for movement."""
        if self.person_box is None:
            return None
        return math.hypot(self.person_box[2], self.person_box[3])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the mask)."""
        return {
            "person_found": self.person_found,
            "person_box": list(self.person_box) if self.person_box else None,
            "parts": {name: stats.to_dict() for name, stats in self.parts.items()},
        }


class PartFinder(Protocol):
    """Finds body parts in RGB images: :class:`BodyTracker` (pose) or :class:`MaskPartFinder`."""

    method: str  # how the parts are found, as the API reports it

    def process(self, rgb: np.ndarray) -> BodyParts: ...


class BodyTracker:
    """MediaPipe Pose with segmentation, static (photos, sampled video) or stream (live) mode.

    One MediaPipe graph is not thread-safe, so calls are serialised by a lock.
    """

    method = "pose"

    def __init__(self, stream: bool = False, max_side: int = 1280) -> None:
        import mediapipe as mp  # imported here: loading the graph costs ~0.3 s, only when needed

        self.stream = stream
        self.max_side = max_side
        self._lock = threading.Lock()
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=not stream,
            model_complexity=MODEL_COMPLEXITY,
            enable_segmentation=True,
            smooth_segmentation=stream,  # smoothing across frames only makes sense for a stream
            min_detection_confidence=MIN_DETECTION_CONFIDENCE,
            min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
        )

    def process(self, rgb: np.ndarray) -> BodyParts:
        """The body parts in an RGB uint8 image (``person_found`` false when there is nobody)."""
        _check_rgb(rgb)
        height, width = rgb.shape[:2]
        small = downscale(rgb, self.max_side)
        with self._lock:
            result = self._pose.process(small)
        if result.pose_landmarks is None or result.segmentation_mask is None:
            return BodyParts(np.zeros((height, width), np.uint8), {}, None)
        landmarks = np.array(
            [(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float64
        )
        person = np.asarray(result.segmentation_mask) > SEGMENTATION_MIN
        return dataclasses.replace(body_parts(person, landmarks, (height, width)), shoulders=shoulder_line(landmarks))

    def close(self) -> None:
        """Release the MediaPipe graph."""
        with self._lock:
            self._pose.close()

    def __enter__(self) -> "BodyTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MaskPartFinder:
    """Body parts from a label-mask function: ``label_mask(rgb)`` gives H x W uint8 class values 0-4."""

    def __init__(self, label_mask: Callable[[np.ndarray], np.ndarray], method: str) -> None:
        self.label_mask = label_mask
        self.method = method

    def process(self, rgb: np.ndarray) -> BodyParts:
        """The body parts in an RGB uint8 image (``person_found`` false when no pixel is a part)."""
        _check_rgb(rgb)
        labels = self.label_mask(rgb)
        if labels.shape != rgb.shape[:2]:
            raise ValueError(f"the label mask is {labels.shape}, the image {rgb.shape[:2]}")
        return parts_from_labels(labels)


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputProblem("bad_frame", "Expected an RGB image.")


def body_parts(person: np.ndarray, landmarks: np.ndarray, shape: tuple[int, int]) -> BodyParts:
    """Label the ``person`` mask (any size, bool) by nearest bone; stats in an image of ``shape``.

    ``landmarks`` is 33 x 3: x, y in pixels of the ``shape`` image, and visibility.
    """
    height, width = shape
    scale = min(1.0, LABEL_MAX_SIDE / max(height, width))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    person_small = cv2.resize(person.astype(np.uint8), (work_w, work_h), interpolation=cv2.INTER_NEAREST) > 0
    points = landmarks[:, :2] * (work_w / width, work_h / height)
    visible = landmarks[:, 2] >= VISIBILITY_MIN
    labels_small = _label_by_nearest_bone(person_small, points, visible)
    return parts_from_labels(cv2.resize(labels_small, (width, height), interpolation=cv2.INTER_NEAREST))


def shoulder_line(landmarks: np.ndarray) -> tuple[float, float] | None:
    """(mean y, width) of the two shoulders in pixels, or None unless both are visible."""
    left, right = landmarks[LEFT_SHOULDER], landmarks[RIGHT_SHOULDER]
    if min(left[2], right[2]) < VISIBILITY_MIN:
        return None
    return float((left[1] + right[1]) / 2), float(math.hypot(left[0] - right[0], left[1] - right[1]))


def parts_from_labels(labels: np.ndarray) -> BodyParts:
    """Box, centroid and area of each part in a label mask (H x W uint8 class values), and the person's box."""
    parts: dict[str, PartStats] = {}
    for value, name in PART_NAMES.items():
        stats = _part_stats(labels == value)
        if stats is not None:
            parts[name] = stats
    everyone = _part_stats(labels > 0)
    return BodyParts(labels, parts, everyone.box if everyone else None)


def _label_by_nearest_bone(person: np.ndarray, points: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Each person pixel gets the class (1-4) of the nearest bone; 0 elsewhere."""
    labels = np.zeros(person.shape, np.uint8)
    ys, xs = np.nonzero(person)
    if xs.size == 0:
        return labels
    pixels = np.stack([xs, ys], axis=1).astype(np.float64)
    points, visible = _with_torso_from_shoulders(points, visible)
    distance = np.full((xs.size, len(PART_NAMES)), np.inf)
    for column, cls in enumerate(PART_NAMES):
        segments = [(points[a], points[b]) for a, b in BONES_BY_CLASS[cls] if visible[a] and visible[b]]
        used = {i for pair in BONES_BY_CLASS[cls] if visible[pair[0]] and visible[pair[1]] for i in pair}
        segments += [(points[i], points[i]) for i in POINTS_BY_CLASS[cls] if visible[i] and i not in used]
        for a, b in segments:
            distance[:, column] = np.minimum(distance[:, column], _segment_distance(pixels, a, b))
    torso_corners = (LEFT_SHOULDER, RIGHT_SHOULDER, RIGHT_HIP, LEFT_HIP)
    if all(visible[i] for i in torso_corners):
        # Inside the shoulders-hips quadrilateral is torso, however far from its edges.
        quad = np.zeros(person.shape, np.uint8)
        cv2.fillPoly(quad, [np.round(points[list(torso_corners)]).astype(np.int32)], 1)
        distance[quad[ys, xs] > 0, list(PART_NAMES).index(TORSO)] = 0.0
    seen = np.isfinite(distance).any(axis=1)
    nearest = np.argmin(distance, axis=1)
    classes = np.array(list(PART_NAMES), np.uint8)
    labels[ys[seen], xs[seen]] = classes[nearest[seen]]
    return labels


def _with_torso_from_shoulders(points: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in hips when both shoulders are seen and both hips are not (a portrait or a bed sheet).

    The hips are put a typical torso height below the shoulders, perpendicular to
    the shoulder line on the side away from the head, so the torso keeps its
    area instead of the arms claiming the chest.
    """
    if not (visible[LEFT_SHOULDER] and visible[RIGHT_SHOULDER]) or visible[LEFT_HIP] or visible[RIGHT_HIP]:
        return points, visible
    left, right = points[LEFT_SHOULDER], points[RIGHT_SHOULDER]
    across = left - right
    width = float(np.hypot(*across))
    if width == 0:
        return points, visible
    down = np.array([-across[1], across[0]]) / width
    head = [i for i in HEAD_POINTS if visible[i]]
    mid = (left + right) / 2
    reference = points[head].mean(axis=0) - mid if head else np.array([0.0, -1.0])  # no head: image up
    if np.dot(down, reference) > 0:
        down = -down
    drop = down * width * TORSO_HEIGHT_PER_SHOULDER_WIDTH
    points, visible = points.copy(), visible.copy()
    points[LEFT_HIP], points[RIGHT_HIP] = left + drop, right + drop
    visible[LEFT_HIP] = visible[RIGHT_HIP] = True
    return points, visible


def _segment_distance(pixels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pixel (N x 2) to the segment a-b (a point when a == b)."""
    ab = b - a
    length2 = float(ab @ ab)
    t = np.zeros(len(pixels)) if length2 == 0 else np.clip((pixels - a) @ ab / length2, 0.0, 1.0)
    nearest = a + t[:, None] * ab
    return np.hypot(pixels[:, 0] - nearest[:, 0], pixels[:, 1] - nearest[:, 1])


def _part_stats(mask: np.ndarray) -> PartStats | None:
    """Box, centroid and area of a boolean mask, or None when it is empty."""
    binary = mask.astype(np.uint8)
    moments = cv2.moments(binary, binaryImage=True)
    area = int(moments["m00"])
    if area == 0:
        return None
    x, y, w, h = cv2.boundingRect(binary)
    return PartStats((int(x), int(y), int(w), int(h)), (moments["m10"] / area, moments["m01"] / area), area)


def overlay_png(rgb: np.ndarray, labels: np.ndarray, max_side: int = OVERLAY_MAX_SIDE) -> bytes:
    """The image with each body part tinted in its ``CLASS_COLOURS`` colour, as PNG bytes."""
    image = downscale(rgb, max_side)
    if image.shape[:2] != labels.shape:
        labels = cv2.resize(labels, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    palette = np.zeros((256, 3), np.float32)
    for cls, colour in CLASS_COLOURS.items():
        palette[cls] = colour
    tint = palette[labels]
    painted = labels > 0
    out = image.astype(np.float32)
    out[painted] = (1.0 - OVERLAY_ALPHA) * out[painted] + OVERLAY_ALPHA * tint[painted]
    ok, png = cv2.imencode(".png", cv2.cvtColor(out.astype(np.uint8), cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - encoding an in-memory uint8 array does not fail
        raise RuntimeError("PNG encoding failed")
    return png.tobytes()


def movement_tracks(
    frames_with_times: Iterable[tuple[float, np.ndarray]], tracker: PartFinder | None = None
) -> dict[str, Any]:
    """Per-part centroid tracks and movement index over frames ``(t_seconds, rgb)``.

    Returns ``tracks`` ({part: [[t, x, y], ...]}, pixels, only frames where the
    part was seen), ``movement_index`` ({part: float or None}), ``body_size_px``,
    ``frames_analysed`` and ``frames_with_person``.

    The movement index of a part is its mean centroid speed in **body sizes per
    second**: the speed between consecutive analysed frames in which the part is
    seen, divided by the person's size (the median diagonal of the person's box
    over the video), averaged. Dividing by size makes a near and a far patient
    comparable; 0.1 means the part's centre travels a tenth of the body's size
    each second. A part seen in fewer than two frames has ``None``. A centroid
    also shifts when a part is partly hidden or uncovered, so the index measures
    visible movement, not muscle activity.

    Uses ``tracker`` when given (a static-mode BodyTracker suits sampled frames,
    or a MaskPartFinder), else a static-mode BodyTracker of its own, closed at the end.
    """
    own = tracker is None
    tracker = tracker or BodyTracker(stream=False)
    observations: list[tuple[float, BodyParts]] = []
    try:
        for t, rgb in frames_with_times:
            observations.append((float(t), tracker.process(rgb)))
    finally:
        if own:
            tracker.close()
    return movement_summary(observations)


def movement_summary(observations: list[tuple[float, BodyParts]]) -> dict[str, Any]:
    """Tracks and movement indices from already analysed frames (see :func:`movement_tracks`)."""
    sizes = [parts.person_size_px for _, parts in observations if parts.person_size_px]
    body_size = float(np.median(sizes)) if sizes else None
    tracks: dict[str, list[list[float]]] = {}
    index: dict[str, float | None] = {}
    for name in PART_NAMES.values():
        track = [
            [round(t, 3), round(parts.parts[name].centroid[0], 1), round(parts.parts[name].centroid[1], 1)]
            for t, parts in observations
            if name in parts.parts
        ]
        tracks[name] = track
        index[name] = _movement_index(observations, name, body_size)
    return {
        "tracks": tracks,
        "movement_index": index,
        "body_size_px": round(body_size, 1) if body_size else None,
        "frames_analysed": len(observations),
        "frames_with_person": sum(1 for _, parts in observations if parts.person_found),
    }


def _movement_index(observations: list[tuple[float, BodyParts]], name: str, body_size: float | None) -> float | None:
    """Mean speed of part ``name`` in body sizes per second between consecutive frames that both see it."""
    if not body_size:
        return None
    speeds = []
    for (t0, before), (t1, after) in pairwise(observations):
        if name in before.parts and name in after.parts and t1 > t0:
            (x0, y0), (x1, y1) = before.parts[name].centroid, after.parts[name].centroid
            speeds.append(math.hypot(x1 - x0, y1 - y0) / (t1 - t0))
    if not speeds:
        return None
    return round(float(np.mean(speeds)) / body_size, 4)


def analyze_body_image(
    tracker: PartFinder, data: bytes | str, limits: ImageLimits, overlay: bool = True
) -> tuple[BodyParts, bytes | None, dict[str, float]]:
    """An uploaded photo -> its body parts, the overlay PNG (when asked and a person is seen) and timings (ms)."""
    start = time.perf_counter()
    rgb = decode_image(data, limits)
    decoded = time.perf_counter()
    parts = tracker.process(rgb)
    analysed = time.perf_counter()
    png = overlay_png(rgb, parts.labels) if overlay and parts.person_found else None
    done = time.perf_counter()
    timing = {
        "decode": round((decoded - start) * 1000, 1),
        "body": round((analysed - decoded) * 1000, 1),
        "overlay": round((done - analysed) * 1000, 1),
        "total": round((done - start) * 1000, 1),
    }
    return parts, png, timing


def analyze_body_video(
    tracker: PartFinder, data: bytes, limits: VideoLimits, fps: float = BODY_VIDEO_FPS
) -> dict[str, Any]:
    """An uploaded video -> :func:`movement_tracks` at ``fps`` (never above the limits' rate) plus timing."""
    start = time.perf_counter()
    rate = min(fps, limits.sample_fps)
    with open_video(data, limits) as video:
        summary = movement_tracks(((f.t_s, f.rgb) for f in video.frames(rate)), tracker)
        duration = video.info.duration_s
    summary["sample_fps"] = rate
    summary["duration_s"] = round(duration, 3)
    summary["timing_ms"] = {"total": round((time.perf_counter() - start) * 1000, 1)}
    return summary
