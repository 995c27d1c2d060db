"""Figures of a body-part segmentation: the confusion of classes, per-class IoU, mean IoU, pixel accuracy.

Numpy only; every figure is a plain number or ``None`` when it is undefined, so it goes straight into JSON.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from server.training.segment_data import NUM_CLASSES
from server.vision.body import BACKGROUND
from server.vision.segmenter import CLASSES


def confusion(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """NUM_CLASSES x NUM_CLASSES pixel counts, rows true class, columns predicted."""
    pairs = truth.astype(np.int64).ravel() * NUM_CLASSES + predicted.astype(np.int64).ravel()
    return np.bincount(pairs, minlength=NUM_CLASSES * NUM_CLASSES).reshape(NUM_CLASSES, NUM_CLASSES)


def iou_figures(counts: np.ndarray) -> dict[str, Any]:
    """Per-class IoU, mean IoU, pixel accuracy and the pixels counted, from a confusion matrix.

    A class neither true nor predicted anywhere has IoU ``None`` and is left out
    of the mean (it says nothing about the model). ``all_background_miou`` is
    the mean IoU of answering background everywhere: the floor to beat.
    """
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    if total == 0:
        return {"pixels": 0, "miou": None, "iou": dict.fromkeys(CLASSES), "pixel_accuracy": None,
                "all_background_miou": None}
    true_pixels = counts.sum(axis=1)
    background_only = np.zeros_like(counts)
    background_only[:, BACKGROUND] = true_pixels
    per_class = _iou(counts)
    defined = [v for v in per_class if v is not None]
    baseline = [v for v in _iou(background_only) if v is not None]
    return {
        "pixels": total,
        "miou": float(np.mean(defined)) if defined else None,
        "iou": dict(zip(CLASSES, per_class)),
        "pixel_accuracy": float(np.trace(counts) / total),
        "all_background_miou": float(np.mean(baseline)) if baseline else None,
    }


def _iou(counts: np.ndarray) -> list[float | None]:
    hits = np.diag(counts)
    union = counts.sum(axis=0) + counts.sum(axis=1) - hits
    return [float(h / u) if u else None for h, u in zip(hits, union)]
