"""Test videos and awkward images made at test time."""
from __future__ import annotations

import io
import os
import tempfile
from typing import Sequence

import cv2
import numpy as np
from PIL import Image


def write_video(frames: Sequence[np.ndarray], fps: float, suffix: str = ".mp4", fourcc: str = "mp4v") -> bytes:
    """Encode RGB frames with OpenCV and return the file's bytes."""
    h, w = frames[0].shape[:2]
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)


def first_frame(video: bytes, suffix: str = ".mp4") -> np.ndarray:
    """The first frame of a video's bytes, RGB."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(video)
        capture = cv2.VideoCapture(path)
        ok, bgr = capture.read()
        capture.release()
        assert ok, "the video has no frame"
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        os.unlink(path)


def png_of_size(width: int, height: int) -> bytes:
    """A real PNG of the given size (flat grey compresses to almost nothing)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def jpeg_with_exif_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    """JPEG bytes whose EXIF says how to rotate the stored pixels for display."""
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two images next to each other (two people in one photo)."""
    h = min(left.shape[0], right.shape[0])
    return np.hstack([left[:h], right[:h]])


def png16_rgba_halves(side: int) -> bytes:
    """A ``side`` x ``side`` 16-bit RGBA PNG (colour type 6, bit depth 16), its top half reddish, written
    row by row so that making it never holds the decoded pixels (issue 25's 340 KB, 6300x6300 PNG)."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    top = b"\x00" + (b"\x75\x30\x00\x00\x00\x00\xff\xff" * side)  # filter 0, then R=30000, G=B=0, A=65535
    bottom = b"\x00" + (b"\x00\x00\x00\x00\x00\x00\xff\xff" * side)
    packer = zlib.compressobj(9)
    body = [packer.compress(top if row < side // 2 else bottom) for row in range(side)]
    body.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")
