"""Aligned face crops: the face rotated upright and scaled so the eyes land on fixed points.

Image models (the ResNet-18 estimator and its training tool) see every face
the same way whatever the head roll, distance or image size, so they learn
expressions rather than poses.
"""
from __future__ import annotations

import cv2
import numpy as np

from server.vision.face import LEFT_EYE_INNER, LEFT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER

# Where the eye centres land in the crop, as fractions of its side. These are
# the positions of the usual 112 px face-recognition alignment template
# (eyes ~38 / 74 px across, 52 px down): the crop then holds the brows, eyes,
# nose and upper lip that PSPI's action units move, with the mouth inside.
RIGHT_EYE_AT = (0.34, 0.46)  # subject's right eye, image left
LEFT_EYE_AT = (0.66, 0.46)
# Outside the image the crop is filled with mid grey, not black, so a face at
# the frame edge does not gain a dark border that a model could learn from.
FILL_GREY = 128
# A similarity warp samples the source at one point per crop pixel; shrinking
# a face by more than this factor that way aliases (a large photo's face to
# 160 px), so the image is first reduced with area averaging to about twice
# the crop's resolution.
MAX_DIRECT_SHRINK = 0.5


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right eye, left eye) centres in pixels, each the midpoint of its eye corners."""
    right = (landmarks[RIGHT_EYE_OUTER, :2] + landmarks[RIGHT_EYE_INNER, :2]) / 2.0
    left = (landmarks[LEFT_EYE_INNER, :2] + landmarks[LEFT_EYE_OUTER, :2]) / 2.0
    return right, left


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 similarity transform taking image pixels to a ``size`` x ``size`` aligned crop."""
    src_right, src_left = eye_centres(landmarks)
    dst_right = np.array(RIGHT_EYE_AT) * size
    dst_left = np.array(LEFT_EYE_AT) * size
    src_vec, dst_vec = src_left - src_right, dst_left - dst_right
    scale = float(np.linalg.norm(dst_vec) / max(np.linalg.norm(src_vec), 1e-6))
    angle = float(np.arctan2(dst_vec[1], dst_vec[0]) - np.arctan2(src_vec[1], src_vec[0]))
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    offset = dst_right - rotation @ src_right
    return np.hstack([rotation, offset[:, None]])


def aligned_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """The face as a ``size`` x ``size`` x 3 uint8 RGB crop, upright, eyes on fixed points."""
    matrix = alignment_matrix(landmarks, size)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale < MAX_DIRECT_SHRINK:
        factor = scale / MAX_DIRECT_SHRINK
        height, width = rgb.shape[:2]
        small = (max(1, round(width * factor)), max(1, round(height * factor)))
        rgb = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
        reduced = landmarks.copy()
        reduced[:, :2] *= np.array([small[0] / width, small[1] / height])
        matrix = alignment_matrix(reduced, size)
    return cv2.warpAffine(
        rgb,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(FILL_GREY, FILL_GREY, FILL_GREY),
    )
