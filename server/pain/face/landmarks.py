"""Frontalised face geometry: a head-pose-free frame and the distances the AUs change.

All distances are in units of the face scale (RMS radius of the rigid anchor
points), measured in a frame whose x axis runs from the subject's right to left
temple and whose y axis runs down the nose bridge, so roll, yaw, pitch, camera
distance and image size cancel out.
"""
from __future__ import annotations

import numpy as np

# Rigid anchors: forehead, nose bridge, temples and the face sides next to the
# ears. None of them is moved by AU4/6/7/9/10/43 or by opening the jaw.
ANCHORS = [10, 151, 9, 8, 168, 6, 197, 195, 127, 356, 234, 454, 162, 389, 21, 251, 109, 338, 67, 297]
_RIGHT_SIDE, _LEFT_SIDE = [127, 234, 162, 21], [356, 454, 389, 251]
_FOREHEAD, _NOSE_BRIDGE = [10, 151, 9], [6, 197, 195]

# Feature landmarks (MediaPipe face mesh topology). "Right" is the subject's right.
RIGHT_BROW_LOWER = [46, 53, 52, 65, 55]
LEFT_BROW_LOWER = [276, 283, 282, 295, 285]
INNER_BROWS = (55, 285)
RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS = (33, 133), (362, 263)
RIGHT_LID_PAIRS = [(173, 155), (157, 154), (158, 153), (159, 145), (160, 144), (161, 163), (246, 7)]
LEFT_LID_PAIRS = [(398, 382), (384, 381), (385, 380), (386, 374), (387, 373), (388, 390), (466, 249)]
RIGHT_LOWER_LID, LEFT_LOWER_LID = [145, 144, 153], [374, 373, 380]
RIGHT_CHEEK, LEFT_CHEEK = [118, 117, 119], [347, 346, 348]  # infraorbital cheek, lifted by AU6
NOSE_ALAE = [98, 327, 64, 294]  # nostril wings, lifted by AU9
UPPER_LIP_TOP = [0, 37, 267]  # vermilion border, lifted by AU10
SUBNASALE = 2

FEATURES: tuple[str, ...] = ("brow_eye", "brow_gap", "eye_open", "lower_lid", "cheek_eye", "ala_eye", "lip_nose")


def frontalise(points: np.ndarray) -> np.ndarray:
    """Landmarks (N x 3, pixels) in the face frame: centred, rotated frontal, unit scale."""
    right = points[_LEFT_SIDE].mean(axis=0) - points[_RIGHT_SIDE].mean(axis=0)
    down = points[_NOSE_BRIDGE].mean(axis=0) - points[_FOREHEAD].mean(axis=0)
    x_axis = right / np.linalg.norm(right)
    down = down - x_axis * float(down @ x_axis)
    y_axis = down / np.linalg.norm(down)
    z_axis = np.cross(x_axis, y_axis)
    anchors = points[ANCHORS]
    origin = anchors.mean(axis=0)
    scale = float(np.sqrt(((anchors - origin) ** 2).sum(axis=1).mean()))
    return (points - origin) @ np.stack([x_axis, y_axis, z_axis]).T / scale


def procrustes_align(shape: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``shape`` moved by the similarity transform that best maps its anchors onto ``reference``'s."""
    a, b = shape[ANCHORS], reference[ANCHORS]
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - mu_a, b - mu_b
    u, sigma, vt = np.linalg.svd(a0.T @ b0)
    d = np.sign(np.linalg.det(u @ vt))  # no reflections (Kabsch)
    correction = np.diag([1.0, 1.0, d])
    rotation = u @ correction @ vt
    scale = float((sigma * np.diag(correction)).sum() / (a0**2).sum())
    return (shape - mu_a) @ rotation * scale + mu_b


def measure(shape: np.ndarray) -> np.ndarray:
    """The FEATURES vector of a frontalised shape (each shrinks as its AU grows)."""
    y = shape[:, 1]
    corner_r = y[list(RIGHT_EYE_CORNERS)].mean()
    corner_l = y[list(LEFT_EYE_CORNERS)].mean()
    brow_eye = np.mean([corner_r - y[RIGHT_BROW_LOWER].mean(), corner_l - y[LEFT_BROW_LOWER].mean()])
    brow_gap = np.linalg.norm(shape[INNER_BROWS[0]] - shape[INNER_BROWS[1]])
    eye_open = np.mean([y[lower] - y[upper] for upper, lower in RIGHT_LID_PAIRS + LEFT_LID_PAIRS])
    lower_lid = np.mean([y[RIGHT_LOWER_LID].mean() - corner_r, y[LEFT_LOWER_LID].mean() - corner_l])
    cheek_eye = np.mean([y[RIGHT_CHEEK].mean() - corner_r, y[LEFT_CHEEK].mean() - corner_l])
    inner_corners = (y[RIGHT_EYE_CORNERS[1]] + y[LEFT_EYE_CORNERS[0]]) / 2
    ala_eye = y[NOSE_ALAE].mean() - inner_corners
    lip_nose = y[UPPER_LIP_TOP].mean() - y[SUBNASALE]
    return np.array([brow_eye, brow_gap, eye_open, lower_lid, cheek_eye, ala_eye, lip_nose], dtype=np.float64)
