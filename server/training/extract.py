"""Turning training files into model inputs once: aligned face crops of images and videos, landmarks of videos.

Both are cached (``--cache DIR``) under a key made of the file's path, size
and modification time, so a second run, or the evaluation of the same data,
does not run Face Mesh again.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from server.config import Settings
from server.vision.align import FILL_GREY, aligned_crop
from server.vision.face import LANDMARK_COUNT, FaceTracker
from server.vision.frames import ImageLimits, VideoLimits, VideoSource, decode_image, sniff_video_format

# Training files are the user's own licensed data on their own disk: a BioVid
# sample is 5.5 s, an UNBC sequence a few hundred frames; these caps only keep a
# stray huge file from exhausting memory.
TRAINING_VIDEO_MAX_SECONDS = 600.0
TRAINING_VIDEO_MAX_BYTES = 2 * 1024**3


def _cache_key(path: Path, purpose: str) -> str:
    stat = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{purpose}".encode()).hexdigest()


def _image_limits() -> ImageLimits:
    defaults = Settings()
    return ImageLimits(defaults.max_image_bytes, defaults.max_image_pixels, defaults.min_image_side)


def face_crops(paths: Sequence[Path], size: int, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(crops K x size x size x 3 uint8, indices of ``paths`` they come from); images without a face are left out."""
    tracker = FaceTracker(stream=False, max_faces=1)
    crops, kept = [], []
    limits = _image_limits()
    try:
        for index, path in enumerate(tqdm(paths, desc="face crops", unit="image")):
            cached = cache_dir / f"crop-{_cache_key(path, str(size))}.npy" if cache_dir else None
            if cached is not None and cached.exists():
                crop = np.load(cached)
            else:
                rgb = decode_image(path.read_bytes(), limits)
                faces = tracker.process(rgb)
                crop = aligned_crop(rgb, faces[0].landmarks, size) if faces else np.zeros((0,), np.uint8)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    np.save(cached, crop)
            if crop.size:
                crops.append(crop)
                kept.append(index)
    finally:
        tracker.close()
    if not crops:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.int64)
    return np.stack(crops), np.array(kept, dtype=np.int64)


def _video_faces(path: Path, fps: float) -> Iterator[tuple[np.ndarray, list]]:
    """(RGB frame, faces) of a video sampled at ``fps``; Face Mesh in stream mode, as the server reads a video."""
    head = path.open("rb").read(64)
    container = sniff_video_format(head)
    if container is None:
        raise ValueError(f"{path} is not an MP4, MOV, AVI or WebM video")
    limits = VideoLimits(TRAINING_VIDEO_MAX_BYTES, TRAINING_VIDEO_MAX_SECONDS, fps, Settings().max_image_pixels)
    source = VideoSource(str(path), container, limits)
    tracker = FaceTracker(stream=True, max_faces=1)
    try:
        for frame in source.frames(fps):
            yield frame.rgb, tracker.process(frame.rgb, frame.t_s)
    finally:
        tracker.close()
        source.close()


def video_landmarks(path: Path, fps: float, cache_dir: Path | None) -> np.ndarray:
    """T x 478 x 3 landmarks of a video sampled at ``fps`` (rows of NaN where no face was found)."""
    cached = cache_dir / f"landmarks-{_cache_key(path, f'{fps:g}')}.npy" if cache_dir else None
    if cached is not None and cached.exists():
        return np.load(cached)
    rows = [faces[0].landmarks if faces else np.full((LANDMARK_COUNT, 3), np.nan)
            for _, faces in _video_faces(path, fps)]
    landmarks = np.stack(rows).astype(np.float32)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, landmarks)
    return landmarks


def video_crops(path: Path, fps: float, size: int, cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(T x size x size x 3 uint8 aligned face crops, T mask of frames with a face) of a video sampled at ``fps``.

    Frames without a face hold mid grey. Cached once per file, rate and size.
    """
    cached = cache_dir / f"crops-{_cache_key(path, f'{fps:g}:{size}')}.npz" if cache_dir else None
    if cached is not None and cached.exists():
        with np.load(cached) as stored:
            return stored["crops"], stored["mask"]
    crops, mask = [], []
    for rgb, faces in _video_faces(path, fps):
        blank = np.full((size, size, 3), FILL_GREY, np.uint8)
        crops.append(aligned_crop(rgb, faces[0].landmarks, size) if faces else blank)
        mask.append(1.0 if faces else 0.0)
    if not crops:
        raise ValueError(f"{path} has no frames")
    result = np.stack(crops), np.array(mask, dtype=np.float32)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, crops=result[0], mask=result[1])
    return result


def load_landmarks(path: Path, fps: float, cache_dir: Path | None) -> np.ndarray:
    """A manifest row's landmarks: a ``.npy`` array (T x 478 x 3, taken to be at ``fps``) or a video."""
    if path.suffix.lower() == ".npy":
        array = np.load(path)
        if array.ndim != 3 or array.shape[1:] != (LANDMARK_COUNT, 3):
            raise ValueError(f"{path} holds an array of shape {array.shape}, not T x {LANDMARK_COUNT} x 3")
        return array.astype(np.float32)
    return video_landmarks(path, fps, cache_dir)
