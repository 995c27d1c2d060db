"""Synthetic rPPG clips: the astronaut's skin modulated by a known pulse, with realistic nuisances."""
from __future__ import annotations

import functools

import cv2
import numpy as np

from tests.synthetic import astronaut_face, astronaut_landmarks, camera_frame

FRAME_RATE_HZ = 30.0
TIMING_JITTER_S = 0.010  # browser frames arrive unevenly: +-10 ms around the nominal time
# Blood volume pulse: ~0.6 % of skin brightness in green, less in red and blue
# (haemoglobin absorbs green most; Verkruysse et al. 2008).
PULSE_AMPLITUDE = 0.006
PULSE_CHANNEL_WEIGHTS = np.array([0.35, 1.0, 0.55])
NOISE_SIGMA = 2.0  # camera noise, 8-bit levels
DRIFT_DEPTH, DRIFT_HZ = 0.03, 0.05  # slow lighting change: +-3 % over 20 s
MOTION_PX, MOTION_HZ = 3.0, 0.2  # small head sway
NOISE_POOL = 7  # prime, so the noise sequence does not lock to any pulse period


@functools.lru_cache(maxsize=1)
def _skin_mask() -> np.ndarray:
    """Float mask (480x640) of the face skin in the camera frame (face hull minus eyes and mouth)."""
    frame = camera_frame(astronaut_face())
    height, width = frame.shape[:2]
    scale = height / astronaut_face().shape[0]
    offset = ((width - height) // 2, 0)
    points = astronaut_landmarks()[:, :2] * scale + offset
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [cv2.convexHull(points.astype(np.int32))], 1)
    for hole in ([33, 160, 158, 133, 153, 144], [362, 385, 387, 263, 373, 380], [61, 0, 291, 17]):
        cv2.fillPoly(mask, [cv2.convexHull(points[hole].astype(np.int32))], 0)
    return mask.astype(np.float32)


def pulse_clip(bpm: float | None, seconds: float, seed: int = 0) -> list[tuple[float, np.ndarray]]:
    """(capture time s, RGB frame) pairs; ``bpm`` None gives noise and drift with no pulse."""
    rng = np.random.default_rng(seed)
    base = camera_frame(astronaut_face()).astype(np.float32)
    mask = (_skin_mask()[..., None] * PULSE_CHANNEL_WEIGHTS).astype(np.float32)
    # A pool of independent noise images, drawn in turn: generating fresh noise for
    # every frame costs more than the rest of the clip together.
    noise = rng.normal(0, NOISE_SIGMA, (NOISE_POOL,) + base.shape).astype(np.float32)
    frames = []
    for t in np.arange(0.0, seconds, 1.0 / FRAME_RATE_HZ):
        t_capture = t + rng.uniform(-TIMING_JITTER_S, TIMING_JITTER_S)
        pulse = 0.0 if bpm is None else np.sin(2 * np.pi * bpm / 60 * t_capture)
        image = base * (1 + PULSE_AMPLITUDE * pulse * mask)
        image *= 1 + DRIFT_DEPTH * np.sin(2 * np.pi * DRIFT_HZ * t_capture)
        image += noise[len(frames) % NOISE_POOL]
        shift = MOTION_PX * np.sin(2 * np.pi * MOTION_HZ * t_capture)
        image = cv2.warpAffine(image, np.float32([[1, 0, shift], [0, 1, 0]]), image.shape[1::-1],
                               borderMode=cv2.BORDER_REPLICATE)
        frames.append((float(t_capture), np.clip(image, 0, 255).astype(np.uint8)))
    return frames


def skin_patch_clip(bpm: float, seconds: float, fps: float = 15.0, seed: int = 0) -> list[np.ndarray]:
    """A pre-cropped all-skin clip (like ../shared/data/rppg-roi): 64x64 skin colour with a pulse."""
    rng = np.random.default_rng(seed)
    skin = np.array([190.0, 140.0, 120.0], np.float32)
    frames = []
    for t in np.arange(0.0, seconds, 1.0 / fps):
        colour = skin * (1 + PULSE_AMPLITUDE * np.sin(2 * np.pi * bpm / 60 * t) * PULSE_CHANNEL_WEIGHTS)
        image = colour + rng.normal(0, NOISE_SIGMA, (64, 64, 3))
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames
