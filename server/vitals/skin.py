"""Skin regions for rPPG: forehead and both cheeks from face landmarks, their mean colour per frame.

Eyes, brows, nostrils, mouth and hair are outside the regions; pixels inside a
region whose colour is far from the region's median (a strand of hair, a
specular highlight, a shadow) are left out of its mean.
"""
from __future__ import annotations

import cv2
import numpy as np

from server.vision.frames import VideoLimits, VideoSource
from server.vitals.region_fusion import RegionTrace, traces_from_rows
from server.vitals.rppg import VIDEO_MAX_FPS

# Landmark sets whose convex hulls are the regions (MediaPipe face mesh topology).
REGIONS: dict[str, list[int]] = {
    "forehead": [109, 10, 338, 108, 151, 337, 69, 299, 9],
    "right_cheek": [118, 117, 123, 147, 187, 205, 50, 101, 100],  # subject's right
    "left_cheek": [347, 346, 352, 376, 411, 425, 280, 330, 329],
}
SHRINK = 0.85  # hulls are scaled about their centre to stay clear of region borders
# A pixel counts as skin when every channel is within this many robust standard
# deviations (1.4826 x MAD) of the region's median colour.
SKIN_TOLERANCE_SIGMA = 2.5
MIN_SKIN_PIXELS = 25  # fewer pixels than this give a mean dominated by noise
UINT8_VALUES = 256
# Pre-cropped skin clips are split into a grid of this many patches per side. On
# the real clips of ../shared/data/rppg-roi (bench/bench_rppg.py, POS) the mean
# absolute error fell steadily with finer grids: 1x1 13.0, 2x2 13.1, 3x3 11.9,
# 4x4 9.0, 8x8 8.2 bpm. 8 is the finest tried; nothing was tuned per subject.
FULL_FRAME_GRID = 8
# Files read from disk (command line, benchmarks) are the user's own: no length cap.
FILE_LIMITS = VideoLimits(max_bytes=0, max_seconds=float("inf"), sample_fps=VIDEO_MAX_FPS, max_pixels=40_000_000)


def region_polygons(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel polygons (K x 2, int32) of each skin region."""
    polygons = {}
    for name, indices in REGIONS.items():
        points = landmarks[indices, :2]
        hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
        centre = hull.mean(axis=0)
        polygons[name] = np.round(centre + (hull - centre) * SHRINK).astype(np.int32)
    return polygons


def region_means(rgb: np.ndarray, landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Mean skin RGB of each region that has enough skin pixels in this frame."""
    out = {}
    height, width = rgb.shape[:2]
    for name, polygon in region_polygons(landmarks).items():
        x, y, w, h = cv2.boundingRect(polygon)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [polygon - (x0, y0)], 1)
        pixels = rgb[y0:y1, x0:x1][mask.astype(bool)]
        mean = skin_mean(pixels)
        if mean is not None:
            out[name] = mean
    return out


def skin_mean(pixels: np.ndarray) -> np.ndarray | None:
    """Mean colour of the pixels near the median colour (N x 3 uint8 in), or None if too few."""
    if len(pixels) < MIN_SKIN_PIXELS:
        return None
    # Medians of 8-bit values by counting them, and whole-number comparisons: np.median's medians and
    # the same pixels kept, ~4x faster (this runs on every frame of a video, three regions each).
    channels = np.ascontiguousarray(pixels.T)
    median = [_median_of_counts(np.bincount(channel, minlength=UINT8_VALUES)) for channel in channels]
    # |value - median| doubled is a whole number (a median may end in .5), as is its limit rounded down.
    doubled = [np.abs(2 * channel.astype(np.int16) - int(2 * m)) for channel, m in zip(channels, median)]
    keep = np.ones(len(pixels), bool)
    for deviation in doubled:
        mad = _median_of_counts(np.bincount(deviation, minlength=2 * UINT8_VALUES)) / 2.0
        spread = 1.4826 * mad + 1.0  # +1: 8-bit quantisation
        keep &= deviation <= int(np.floor(2.0 * SKIN_TOLERANCE_SIGMA * spread))
    kept = int(np.count_nonzero(keep))
    if kept < MIN_SKIN_PIXELS:
        return None
    weights = keep.astype(np.float64)
    return np.array([float(np.dot(weights, channel)) for channel in channels]) / kept


def _median_of_counts(counts: np.ndarray) -> float:
    """The median of whole numbers given as counts per value (the mean of the middle two for an even total)."""
    total = int(counts.sum())
    cumulative = np.cumsum(counts)
    low = int(np.searchsorted(cumulative, (total - 1) // 2, side="right"))
    high = int(np.searchsorted(cumulative, total // 2, side="right"))
    return (low + high) / 2.0


def full_frame_patches(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """A pre-cropped all-skin frame as a grid of patches, each one region (its mean colour).

    Block-wise compression noise differs from patch to patch while the pulse is
    the same in all, so the quality-weighted fusion of many small patches beats
    one whole-frame mean (see FULL_FRAME_GRID).
    """
    grid = cv2.resize(rgb, (FULL_FRAME_GRID, FULL_FRAME_GRID), interpolation=cv2.INTER_AREA).astype(np.float64)
    return {f"patch_{r}_{c}": grid[r, c] for r in range(FULL_FRAME_GRID) for c in range(FULL_FRAME_GRID)}


def traces_from_video_file(path: str, roi: str = "face") -> list[RegionTrace]:
    """Region traces of a video file: ``face`` finds skin regions by landmarks, ``full`` uses every pixel (in patches)."""
    from server.vision.face import FaceTracker

    tracker = FaceTracker(stream=True) if roi == "face" else None
    samples: dict[str, list[tuple[float, np.ndarray]]] = {}
    source = VideoSource(path, "file", FILE_LIMITS)
    try:
        for frame in source.frames(VIDEO_MAX_FPS):
            if tracker is None:
                means = full_frame_patches(frame.rgb)
            else:
                faces = tracker.process(frame.rgb, frame.t_s)
                means = region_means(frame.rgb, faces[0].landmarks) if faces else {}
            for name, mean in means.items():
                samples.setdefault(name, []).append((frame.t_s, mean))
    finally:
        source.close()
        if tracker is not None:
            tracker.close()
    return traces_from_rows(samples)
