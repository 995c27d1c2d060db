"""Synthetic test faces: the public-domain astronaut photo and expressions made by warping it.

``skimage.data.astronaut()`` (Eileen Collins, NASA, public domain) ships with
scikit-image. An expression is made by moving Face Mesh landmark groups by a
known amount (a fraction of the inter-ocular distance) and warping the image
piecewise-affinely so the pixels follow: the expected action-unit change is
known by construction. Used by tests and benchmarks, never by the server.
"""
from __future__ import annotations

import functools
import io

import cv2
import numpy as np
from skimage import data as skdata
from scipy.interpolate import LinearNDInterpolator, RBFInterpolator

from server.vision.face import FaceTracker

FACE_SIZE = 480  # px: the face crop side; the face fills about half of it

RIGHT_BROW = [70, 63, 105, 66, 107, 46, 53, 52, 65, 55]
LEFT_BROW = [300, 293, 334, 296, 336, 276, 283, 282, 295, 285]
INNER_BROW = [107, 55, 65, 66, 336, 285, 295, 296]
# Eyelid contour pairs (upper, lower), medial to lateral per eye.
RIGHT_LIDS = [(173, 155), (157, 154), (158, 153), (159, 145), (160, 144), (161, 163), (246, 7)]
LEFT_LIDS = [(398, 382), (384, 381), (385, 380), (386, 374), (387, 373), (388, 390), (466, 249)]
UPPER_LIP = [185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415]
LOWER_LIP = [146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324]
MOUTH_CORNERS = [61, 291, 78, 308]
NOSE = [1, 2, 4, 5, 6, 94, 97, 98, 326, 327, 168, 195, 197, 129, 358, 49, 279, 48, 278]
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
MOVEMENTS = ("brow_lower", "eye_narrow", "eye_close", "lip_raise")


@functools.lru_cache(maxsize=1)
def astronaut_face() -> np.ndarray:
    """The astronaut's face, cropped square with margin and resized to FACE_SIZE (RGB uint8)."""
    image = skdata.astronaut()
    face = FaceTracker().process(image)[0]
    x, y, w, h = face.box
    cx, cy, side = x + w / 2, y + h / 2, max(w, h) * 1.6
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    crop = image[y0 : int(y0 + side), x0 : int(x0 + side)]
    return cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_CUBIC)


@functools.lru_cache(maxsize=1)
def astronaut_landmarks() -> np.ndarray:
    """Face Mesh landmarks (478x3, pixels) of :func:`astronaut_face`."""
    return FaceTracker().process(astronaut_face())[0].landmarks


def moved_landmarks(points: np.ndarray, movement: str, strength: float) -> np.ndarray:
    """Landmarks (468x2) after ``movement`` at ``strength`` in [0, 1] (iris points dropped)."""
    src = points[:468, :2].copy()
    iod = np.linalg.norm(src[33] - src[263])
    lids = [i for pair in RIGHT_LIDS + LEFT_LIDS for i in pair]
    handles: dict[int, np.ndarray] = {}
    if movement == "brow_lower":
        # AU4: brows down by up to 7 % IOD, inner ends drawn together by up to 4 % IOD
        # (a strong frown moves the brows ~6 mm; outer eye corners are ~90 mm apart).
        midline = src[168, 0]
        for i in RIGHT_BROW + LEFT_BROW:
            dx = np.sign(midline - src[i, 0]) * 0.04 * iod if i in INNER_BROW else 0.0
            handles[i] = np.array([dx, 0.07 * iod]) * strength
        pinned = lids + NOSE + FACE_OVAL
    elif movement in ("eye_narrow", "eye_close"):
        # AU7: both lids close in, losing up to 60 % of the aperture.
        # AU43: the upper lid comes down over 85 % of the aperture (a closed eye).
        for upper, lower in RIGHT_LIDS + LEFT_LIDS:
            gap = src[lower, 1] - src[upper, 1]
            if movement == "eye_narrow":
                handles[upper] = np.array([0.0, 0.35 * gap * strength])
                handles[lower] = np.array([0.0, -0.25 * gap * strength])
            else:
                handles[upper] = np.array([0.0, 0.85 * gap * strength])
                handles[lower] = np.zeros(2)
        pinned = RIGHT_BROW + LEFT_BROW + NOSE + FACE_OVAL + [33, 133, 362, 263]
    elif movement == "lip_raise":
        # AU10: upper lip up by up to 45 % of the lip-to-nose distance.
        lip_nose = src[0, 1] - src[2, 1]
        for i in UPPER_LIP:
            handles[i] = np.array([0.0, -0.45 * lip_nose * strength])
        pinned = NOSE + LOWER_LIP + MOUTH_CORNERS + FACE_OVAL + lids
    else:
        raise ValueError(f"unknown movement {movement!r}")
    return src + _spread(src, handles, pinned)


def _spread(src: np.ndarray, handles: dict[int, np.ndarray], pinned: list[int]) -> np.ndarray:
    """Displacement of every point: the handles' own, zero at pinned points, smooth between.

    A thin-plate spline keeps the skin between a moved and a fixed feature
    compressing evenly, so the piecewise-affine warp never folds.
    """
    fixed = [i for i in pinned if i not in handles]
    index = list(handles) + fixed
    values = np.vstack([np.array(list(handles.values())), np.zeros((len(fixed), 2))])
    spline = RBFInterpolator(src[index], values, kernel="thin_plate_spline", smoothing=0.0)
    moved = spline(src)
    moved[index] = values
    return moved


@functools.lru_cache(maxsize=64)
def expression(movement: str, strength: float) -> np.ndarray:
    """The astronaut face with ``movement`` applied at ``strength`` (0 = unchanged)."""
    image = astronaut_face()
    if strength == 0:
        return image
    src = astronaut_landmarks()[:468, :2]
    return _warp(image, src, moved_landmarks(astronaut_landmarks(), movement, strength))


def _warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Move the pixels at ``src`` landmarks to ``dst``, piecewise affinely in between."""
    h, w = image.shape[:2]
    border = _border_points(w, h)
    # Piecewise-affine inverse map (output pixel -> source pixel) over the
    # Delaunay triangles of the moved landmarks, then one bilinear remap.
    inverse = LinearNDInterpolator(np.vstack([dst, border]), np.vstack([src, border]))
    grid_y, grid_x = np.mgrid[0:h, 0:w]
    source = inverse(np.c_[grid_x.ravel(), grid_y.ravel()]).astype(np.float32).reshape(h, w, 2)
    return cv2.remap(image, source[..., 0], source[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=16)
def grimace(strength: float) -> np.ndarray:
    """A pain face: brows lowered, eyes narrowed and upper lip raised together at ``strength``."""
    image = astronaut_face()
    src = astronaut_landmarks()[:468, :2]
    moves = [moved_landmarks(astronaut_landmarks(), m, strength) - src for m in ("brow_lower", "eye_narrow", "lip_raise")]
    return _warp(image, src, src + np.sum(moves, axis=0))


def _border_points(w: int, h: int, per_side: int = 8) -> np.ndarray:
    xs = np.linspace(0, w - 1, per_side)
    ys = np.linspace(0, h - 1, per_side)
    top = np.c_[xs, np.zeros_like(xs)]
    bottom = np.c_[xs, np.full_like(xs, h - 1)]
    left = np.c_[np.zeros_like(ys), ys]
    right = np.c_[np.full_like(ys, w - 1), ys]
    return np.vstack([top, bottom, left, right])


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """The image rotated in its plane about its centre (head roll), edges replicated."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


CAMERA_SIZE = (640, 480)  # a webcam's VGA frame
CAMERA_BACKGROUND = 110  # grey


def camera_frame(face: np.ndarray) -> np.ndarray:
    """A square face image scaled to the frame height and centred on a grey 640x480 camera frame."""
    width, height = CAMERA_SIZE
    canvas = np.full((height, width, 3), CAMERA_BACKGROUND, np.uint8)
    left = (width - height) // 2
    canvas[:, left : left + height] = cv2.resize(face, (height, height), interpolation=cv2.INTER_AREA)
    return canvas


def blurred(image: np.ndarray, kernel: int) -> np.ndarray:
    """The image with a Gaussian blur of odd ``kernel`` size (an out-of-focus camera)."""
    return cv2.GaussianBlur(image, (kernel, kernel), 0)


def encode(image: np.ndarray, fmt: str = "JPEG", quality: int = 92) -> bytes:
    """Encode an RGB array as JPEG/PNG/WEBP/BMP bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()
