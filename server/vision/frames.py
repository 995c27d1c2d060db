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
from PIL import Image, UnidentifiedImageError

from server.problems import InputProblem
from server.vision.memory import give_back_freed_memory

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
# After freeing a decode this large the C heap's free pages are given back to the system
# (server/vision/memory.py): a phone photo's JPEG decode (draft-reduced) stays below it, a big PNG not.
TRIM_AFTER_BYTES = 32 * 1024 * 1024
EXIF_ORIENTATION = 0x0112  # the EXIF tag saying how to rotate the image upright (1: as stored)
# Orientation value -> the transpose that makes the image upright (EXIF 2.32, tag 0x0112; the same table
# as Pillow's ImageOps.exif_transpose).
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class ImageLimits:
    """Caps applied to every decoded still image.

    ``decode_max_side``: a larger image is reduced while it is decoded so that its
    longer side is at most this (None: full size). Analysis looks at 1280 px
    anyway, and a 40 MP photo at full size costs ~160 MB per copy of its pixels
    (Pillow keeps RGB at 4 bytes a pixel).
    """

    max_bytes: int
    max_pixels: int
    min_side: int
    decode_max_side: int | None = None
    # Memory the decode may take (pixels x bytes a pixel in the decoder, see decode_bytes()); beyond
    # it the image is refused 413 too_large with the reason. None: only the pixel cap applies.
    max_decode_bytes: int | None = None


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
        raise InputProblem("too_large", "The image is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024))
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
        raise InputProblem("too_large", "The image is larger than %(mb)s MB.", mb=limits.max_bytes // (1024 * 1024))
    if sniff_image_format(data) is None:
        raise InputProblem("unsupported_media_type", "This is not a JPEG, PNG, WebP or BMP image.")
    full_size_bytes = 0
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            _check_dimensions(width, height, limits)
            full_size_bytes = decode_bytes(img)
            rgb = _decode_lean(img, limits)
    except InputProblem:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputProblem("corrupt_image", "The image data is damaged or truncated and cannot be decoded.") from None
    finally:
        if full_size_bytes >= TRIM_AFTER_BYTES:
            give_back_freed_memory()  # the full-size decode is freed now: out of the RSS with it
    return np.ascontiguousarray(rgb)


# Bytes a decoded pixel takes in Pillow's memory, by mode (Pillow's Storage.c: every mode of 2 to 4
# 8-bit bands, RGB included, is kept as 4 bytes; "I;16" as 2; "I" and "F" as 4). A 16-bit PNG is
# decoded into these modes directly (16-bit RGB(A) to 8-bit RGB(A), 16-bit grey to "I;16" or "I").
_STORAGE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2, "LA": 4, "La": 4,
                  "PA": 4, "RGB": 4, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "YCbCr": 4, "LAB": 4, "HSV": 4,
                  "I": 4, "F": 4}
# Formats whose decoder holds a whole decoded copy of its own while it fills Pillow's image: libwebp
# decodes the whole picture into its own RGBA buffer first (Pillow's WebP plugin), so twice the pixels.
_DECODER_COPIES = {"WEBP": 2}
# A reduced image is made this many output rows at a time from its full-size decode (crop, convert to
# RGB, box-filter), so no second full-size copy exists; 64 rows of 1280 px is ~0.3 MB a strip.
STRIP_ROWS = 64


def decode_bytes(img: Image.Image) -> int:
    """What decoding ``img`` (opened, not loaded; a JPEG after ``draft``) costs in memory, in bytes."""
    width, height = img.size
    per_pixel = _STORAGE_BYTES.get(img.mode, 4)
    return width * height * per_pixel * _DECODER_COPIES.get(img.format or "", 1)


def _check_decode_bytes(img: Image.Image, limits: ImageLimits) -> None:
    """413 ``too_large`` when decoding would take more memory than ``limits.max_decode_bytes`` (issue 25:
    a 340 KB 16-bit RGBA PNG of 6300x6300 is within the pixel cap, yet cost 360 MB to decode)."""
    if limits.max_decode_bytes is None:
        return
    needed = decode_bytes(img)
    if needed > limits.max_decode_bytes:
        width, height = img.size
        raise InputProblem(
            "too_large",
            "The image is %(width)sx%(height)s %(format)s in mode %(mode)s: decoding it would take "
            "%(needed)s MB, above this server's %(most)s MB. Send it smaller, or as an 8-bit RGB JPEG.",
            width=width, height=height, format=img.format or "", mode=img.mode,
            needed=f"{needed / 2**20:.0f}", most=f"{limits.max_decode_bytes / 2**20:.0f}",
        )


def _decode_lean(img: Image.Image, limits: ImageLimits) -> np.ndarray:
    """Decode with one full-size copy of the pixels at most: upright, RGB, reduced to ``decode_max_side``.

    A JPEG is reduced inside the decoder (``draft``: 1/2 to 1/8 scale, so a big photo
    never exists at full size). Other formats are decoded once at full size, in the
    mode the file has (16-bit, alpha, palette, CMYK: Pillow's own), then reduced a strip
    of rows at a time, each strip converted to RGB on its own (:func:`_reduce_in_strips`):
    converting or resizing the whole image would make a second full-size copy (an RGBA
    one even a third, as Pillow premultiplies alpha before resizing). Each step below
    runs only when it changes something, since each makes a copy.
    """
    max_side = limits.decode_max_side
    target = _reduced_size(img.size, max_side) if max_side is not None else img.size
    if target != img.size and img.format == "JPEG":
        img.draft("RGB", target)  # the decoder scales by 1/2, 1/4 or 1/8, to at least the target
    _check_decode_bytes(img, limits)
    exif_orientation = img.getexif().get(EXIF_ORIENTATION, 1)
    if target != img.size:
        img.load()
        img = _reduce_in_strips(img, _reduced_size(img.size, max_side) if max_side is not None else img.size)
    turn = _EXIF_TRANSPOSE.get(exif_orientation)  # read before reducing: the reduced copy has no EXIF
    if turn is not None:
        img = img.transpose(turn)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def _reduced_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so its longer side is ``max_side`` (unchanged when already within it), as
    Pillow's ``thumbnail`` rounds it. The box is square, so it is the same before and after a rotation."""
    width, height = size
    if max(width, height) <= max_side:
        return size
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _reduce_in_strips(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``img`` box-filtered down to ``size`` in RGB, made ``STRIP_ROWS`` output rows at a time.

    Each strip of source rows is cropped (a small copy), converted to RGB and reduced
    with the exact source box of its output rows, so the result equals a whole-image
    box filter while memory holds the full-size decode plus one strip.
    """
    width, height = img.size
    out_w, out_h = size
    scale_y = height / out_h
    reduced = Image.new("RGB", size)
    for top in range(0, out_h, STRIP_ROWS):
        bottom = min(out_h, top + STRIP_ROWS)
        src_top, src_bottom = top * scale_y, bottom * scale_y
        first, last = int(src_top), min(height, int(np.ceil(src_bottom)))
        strip = img.crop((0, first, width, last))
        if strip.mode != "RGB":
            strip = strip.convert("RGB")
        part = strip.resize((out_w, bottom - top), Image.Resampling.BOX,
                            box=(0.0, src_top - first, float(width), src_bottom - first))
        reduced.paste(part, (0, top))
    return reduced


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
            "The image is %(width)sx%(height)s (%(megapixels)s megapixels); the limit is %(most)s megapixels.",
            width=width, height=height, megapixels=f"{width * height / 1e6:.0f}", most=f"{limits.max_pixels / 1e6:.0f}",
        )
    if min(width, height) < limits.min_side:
        raise InputProblem(
            "image_too_small",
            "The image is %(width)sx%(height)s; a face needs at least %(side)s px on each side.",
            width=width, height=height, side=limits.min_side,
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
        raise InputProblem("too_large", "The video is larger than %(mb)s MB.", mb=limits.max_bytes // (1024 * 1024))
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
            raise InputProblem("too_large", "The video frames are %(width)sx%(height)s, above the pixel limit.",
                               width=width, height=height)
        if declared > limits.max_seconds:
            self.close()
            raise InputProblem("too_long", "The video lasts %(seconds)s s; the limit is %(most)s s.",
                               seconds=f"{declared:.0f}", most=f"{limits.max_seconds:.0f}")

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
                raise InputProblem("too_long", "The video is longer than %(most)s s.",
                                   most=f"{self.limits.max_seconds:.0f}")
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
            raise InputProblem("corrupt_video", "Frame %(index)s of the video cannot be decoded again.", index=index)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        """Release the decoder."""
        self._capture.release()
