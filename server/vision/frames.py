"""Decode and validate still images and videos into RGB ``uint8`` arrays.

The content is sniffed from its first bytes; file names and declared content
types are never trusted. Every way an input can be unusable raises
:class:`~server.problems.InputProblem` with a stable code.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from server.problems import InputProblem

# Magic numbers of the accepted still-image formats (their format specifications).
_IMAGE_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("jpeg", 0, b"\xff\xd8\xff"),
    ("png", 0, b"\x89PNG\r\n\x1a\n"),
    ("bmp", 0, b"BM"),
    ("webp", 8, b"WEBP"),  # RIFF container: "RIFF" <size> "WEBP"
)
# Video containers: ISO-BMFF (mp4/mov) has "ftyp" at offset 4; AVI is RIFF "AVI ";
# Matroska/WebM starts with the EBML magic.
_VIDEO_SIGNATURES: tuple[tuple[str, int, bytes], ...] = (
    ("mp4", 4, b"ftyp"),
    ("avi", 8, b"AVI "),
    ("webm", 0, b"\x1a\x45\xdf\xa3"),
)
_DATA_URL = re.compile(r"^data:[\w.+/-]*(;[\w=.+-]+)*;base64,", re.IGNORECASE)

# Pillow refuses images above its own bomb limit before we can say why; our own
# pixel cap (Settings.max_image_pixels) is checked from the header first.
Image.MAX_IMAGE_PIXELS = None
EXIF_ORIENTATION = 0x0112  # the EXIF tag saying how to rotate the image upright (1: as stored)


@dataclass(frozen=True)
class ImageLimits:
    """Caps applied to every decoded still image.

    ``decode_max_side``: a larger image is reduced while it is decoded so that its
    longer side is at most this (None: full size). Analysis looks at 1280 px
    anyway, and a 40 MP photo at full size costs ~120 MB per copy of its pixels.
    """

    max_bytes: int
    max_pixels: int
    min_side: int
    decode_max_side: int | None = None


@dataclass(frozen=True)
class VideoLimits:
    """Caps applied to every uploaded video."""

    max_bytes: int
    max_seconds: float
    sample_fps: float
    max_pixels: int


@dataclass(frozen=True)
class VideoFrame:
    """One decoded video frame: presentation time in seconds, index in the file, RGB pixels."""

    t_s: float
    index: int
    rgb: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video."""

    container: str
    fps: float
    frame_count: int
    duration_s: float
    width: int
    height: int


def sniff_image_format(data: bytes) -> str | None:
    """Return ``jpeg``/``png``/``bmp``/``webp`` from the leading bytes, or None."""
    return _sniff(data, _IMAGE_SIGNATURES)


def sniff_video_format(data: bytes) -> str | None:
    """Return ``mp4``/``avi``/``webm`` from the leading bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] != b"AVI ":
        return None
    return _sniff(data, _VIDEO_SIGNATURES)


def _sniff(data: bytes, signatures: tuple[tuple[str, int, bytes], ...]) -> str | None:
    for name, offset, magic in signatures:
        if data[offset : offset + len(magic)] == magic:
            return name
    return None


def bytes_from_text(text: str, max_bytes: int) -> bytes:
    """Decode a base64 string or ``data:`` URL into bytes."""
    if not isinstance(text, str):
        raise InputProblem("bad_field_type", "Images in JSON must be base64 strings or data URLs.")
    text = text.strip()
    text = _DATA_URL.sub("", text, count=1)
    if not text:
        raise InputProblem("empty", "The image string is empty.")
    # base64 inflates by 4/3: refuse before allocating the decoded copy.
    if len(text) * 3 // 4 > max_bytes:
        raise InputProblem("too_large", f"The image is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputProblem("bad_base64", "The image string is not valid base64.") from None


def decode_image(data: bytes | str, limits: ImageLimits) -> np.ndarray:
    """Decode JPEG/PNG/WebP/BMP bytes (or base64 / data URL text) to RGB uint8.

    EXIF orientation is applied, so the array is upright as a viewer shows it.
    """
    if isinstance(data, str):
        data = bytes_from_text(data, limits.max_bytes)
    if not data:
        raise InputProblem("empty", "The image is empty (0 bytes).")
    if len(data) > limits.max_bytes:
        raise InputProblem("too_large", f"The image is larger than {limits.max_bytes // (1024 * 1024)} MB.")
    if sniff_image_format(data) is None:
        raise InputProblem("unsupported_media_type", "This is not a JPEG, PNG, WebP or BMP image.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            _check_dimensions(width, height, limits)
            rgb = _decode_lean(img, limits.decode_max_side)
    except InputProblem:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputProblem("corrupt_image", "The image data is damaged or truncated and cannot be decoded.") from None
    return np.ascontiguousarray(rgb)


def _decode_lean(img: Image.Image, max_side: int | None) -> np.ndarray:
    """Decode with as few full-size copies of the pixels as possible: upright, RGB, reduced to ``max_side``.

    A JPEG is reduced inside the decoder (``draft``: 1/2 to 1/8 scale, so a big photo
    never exists at full size); other formats are decoded once at full size and
    reduced at once (``thumbnail``), before any other copy is made. Each step below
    runs only when it changes something, since each makes a copy.
    """
    if max_side is not None and max(img.size) > max_side:
        # The box is square, so reducing before the EXIF rotation gives the same size as after it.
        img.thumbnail((max_side, max_side), Image.Resampling.BOX)
    if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
        img = ImageOps.exif_transpose(img)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """The image shrunk (area averaging) so its longer side is at most ``max_side``; unchanged if already smaller."""
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise InputProblem(
            "too_large",
            f"The image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {limits.max_pixels / 1e6:.0f} megapixels.",
        )
    if min(width, height) < limits.min_side:
        raise InputProblem(
            "image_too_small",
            f"The image is {width}x{height}; a face needs at least {limits.min_side} px on each side.",
        )


def read_video(data: bytes, limits: VideoLimits) -> tuple[VideoInfo, list[VideoFrame]]:
    """A video's info and its frames sampled at ``limits.sample_fps`` (short clips; tests)."""
    with open_video(data, limits) as video:
        return video.info, list(video.frames(limits.sample_fps))


# A RAM-backed filesystem on Linux; where it is missing the system's temporary folder is used.
MEMORY_DIR = "/dev/shm"


def scratch_dir() -> str | None:
    """Where an upload may be put for a decoder that needs a path: memory if possible (None: the default)."""
    return MEMORY_DIR if os.path.isdir(MEMORY_DIR) and os.access(MEMORY_DIR, os.W_OK) else None


@contextlib.contextmanager
def open_video(data: "bytes | Path", limits: VideoLimits) -> Iterator["VideoSource"]:
    """Validate a video (its bytes, or the path of a file holding them) and open it for streaming its frames.

    Bytes go to a private temporary file only while OpenCV reads them (its
    FFmpeg backend needs a path); the file is removed when the block ends. It
    is made in memory (``/dev/shm``) where the system has that, so an upload
    never reaches a disk (docs/ARCHITECTURE.md "One upload": an upload is not stored unless asked).
    A path (a job's spool file, server/assess/spool.py) is read in place, frame by frame.
    """
    if isinstance(data, Path):
        source = open_video_file(data, limits)
        try:
            yield source
        finally:
            source.close()
        return
    container = check_video_head(data, len(data), limits)
    fd, path = tempfile.mkstemp(suffix="." + container, dir=scratch_dir())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        source = VideoSource(path, container, limits)
        try:
            yield source
        finally:
            source.close()
    finally:
        os.unlink(path)


# Enough leading bytes to tell every accepted container (the AVI tag sits at offset 8).
SNIFF_BYTES = 16


def check_video_head(head: bytes, size: int, limits: VideoLimits) -> str:
    """The container of a video from its first bytes and its size; InputProblem when empty, too big or not a video."""
    if size == 0 or not head:
        raise InputProblem("empty", "The video is empty (0 bytes).")
    if size > limits.max_bytes:
        raise InputProblem("too_large", f"The video is larger than {limits.max_bytes // (1024 * 1024)} MB.")
    container = sniff_video_format(head)
    if container is None:
        raise InputProblem("unsupported_media_type", "This is not an MP4, MOV, AVI or WebM video.")
    return container


def open_video_file(path: Path, limits: VideoLimits) -> "VideoSource":
    """A video file opened in place: its head, size, container header, pixel and length caps checked."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    container = check_video_head(head, os.path.getsize(path), limits)
    return VideoSource(str(path), container, limits)


def check_video_file(path: Path, limits: VideoLimits) -> VideoInfo:
    """What can be told of a video file without decoding it (cheap: the container's header); raises as
    :func:`open_video_file` does. A file that passes may still fail later (a truncated stream)."""
    source = open_video_file(path, limits)
    try:
        return source.info
    finally:
        source.close()


class VideoSource:
    """An opened, validated video file: its info and its decoded frames, in order."""

    def __init__(self, path: str, container: str, limits: VideoLimits) -> None:
        self.path = path
        self.limits = limits
        self._capture = cv2.VideoCapture(path)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputProblem("corrupt_video", "The video is damaged or truncated and cannot be opened.")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        declared = count / fps if fps > 0 and count > 0 else 0.0
        self.info = VideoInfo(container, fps, count, declared, width, height)
        if width * height > limits.max_pixels:
            self.close()
            raise InputProblem("too_large", f"The video frames are {width}x{height}, above the pixel limit.")
        if declared > limits.max_seconds:
            self.close()
            raise InputProblem("too_long", f"The video lasts {declared:.0f} s; the limit is {limits.max_seconds:.0f} s.")

    def frames(self, max_fps: float) -> Iterator[VideoFrame]:
        """Decoded frames, at most ``max_fps`` per second of video; raises if none decodes."""
        step_s = 1.0 / max_fps
        next_t = 0.0
        index = -1
        yielded = 0
        while self._capture.grab():
            index += 1
            # Presentation time from the frame index when the container states a rate
            # (exact for constant-rate files); from the decoder's clock otherwise.
            fps = self.info.fps
            t = index / fps if fps > 0 else self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if t > self.limits.max_seconds:
                raise InputProblem("too_long", f"The video is longer than {self.limits.max_seconds:.0f} s.")
            if t + 1e-6 < next_t:
                continue
            ok, bgr = self._capture.retrieve()
            if not ok or bgr is None:
                continue
            next_t = (np.floor(t / step_s + 1e-6) + 1) * step_s
            yielded += 1
            yield VideoFrame(t, index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if yielded == 0:
            raise InputProblem("corrupt_video", "No frame of the video could be decoded (damaged or truncated file).")

    def frame_at(self, index: int) -> np.ndarray:
        """Frame ``index`` (RGB), decoded again: by a seek to it when the decoder lands exactly there
        (FFmpeg seeks to the keyframe before it and decodes forward), else from the start of the file.
        A seek keeps a long video's peak frame from costing a second decode of everything before it."""
        capture = cv2.VideoCapture(self.path)
        try:
            ok, bgr = False, None
            if index > 0 and capture.set(cv2.CAP_PROP_POS_FRAMES, index):
                if int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == index:
                    ok, bgr = capture.read()
            if not ok:
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                for _ in range(index):
                    capture.grab()
                ok, bgr = capture.read()
        finally:
            capture.release()
        if not ok:
            raise InputProblem("corrupt_video", f"Frame {index} of the video cannot be decoded again.")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        """Release the decoder."""
        self._capture.release()
