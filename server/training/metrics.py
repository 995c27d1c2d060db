"""Evaluation figures for training reports: regression, classification, a confusion image.

Every figure is a plain Python number or ``None`` when it is undefined
(never NaN), so results go straight into JSON. Nothing is rounded here.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ICC_RATERS = 2  # truth and prediction are the two "raters"

# confusion_png layout, in pixels.
FONT_SIZE = 14
TITLE_SIZE = 16
MIN_CELL = 64
CELL_PADDING = 12
MARGIN = 12
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
GRID = (160, 160, 160)
FULL_SHADE = (33, 102, 172)  # colour of a cell holding its whole row
LIGHT_TEXT_ABOVE = 0.5  # cells darker than this get white numbers


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict:
    """``n``, ``mae``, ``rmse``, ``pearson_r`` and ``icc_3_1`` of predictions against truth."""
    truth, pred = _paired_arrays(y_true, y_pred)
    n = int(truth.size)
    if n == 0:
        return {"n": 0, "mae": None, "rmse": None, "pearson_r": None, "icc_3_1": None}
    error = pred - truth
    return {
        "n": n,
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "pearson_r": _pearson_r(truth, pred),
        "icc_3_1": _icc_3_1(truth, pred),
    }


def classification_metrics(
    true_labels: Sequence[str], pred_labels: Sequence[str], labels: Sequence[str]
) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Precision is ``None`` for a class never predicted, recall for a class
    never true; a class that is neither true nor predicted anywhere has F1
    ``None`` and is left out of macro-F1 (it says nothing about the model).
    """
    labels = [str(label) for label in labels]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be a non-empty list without repeats, got {labels}")
    if len(true_labels) != len(pred_labels):
        raise ValueError(f"{len(true_labels)} true labels but {len(pred_labels)} predictions")
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({str(x) for x in (*true_labels, *pred_labels)} - index.keys())
    if unknown:
        raise ValueError(f"labels not in {labels}: {unknown}")

    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(true_labels, pred_labels, strict=True):
        confusion[index[str(t)], index[str(p)]] += 1

    n = int(confusion.sum())
    per_class = {}
    for i, label in enumerate(labels):
        tp = int(confusion[i, i])
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        wrong = (support - tp) + (predicted - tp)  # false negatives + false positives
        per_class[label] = {
            "precision": tp / predicted if predicted else None,
            "recall": tp / support if support else None,
            # 2TP / (2TP + FP + FN) equals 2PR / (P + R) and is 0, not undefined, when TP = 0.
            "f1": 2 * tp / (2 * tp + wrong) if support or predicted else None,
            "support": support,
        }
    f1s = [c["f1"] for c in per_class.values() if c["f1"] is not None]
    return {
        "n": n,
        "accuracy": float(np.trace(confusion)) / n if n else None,
        "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "labels": labels,
    }


def per_subject(
    subjects: Sequence[str],
    y_true: Sequence,
    y_pred: Sequence,
    kind: Literal["regression", "classification"],
    labels: Sequence[str] | None = None,
) -> dict[str, dict]:
    """The regression or classification metrics of each subject's items, keyed by subject (sorted)."""
    if not len(subjects) == len(y_true) == len(y_pred):
        raise ValueError(f"lengths differ: {len(subjects)} subjects, {len(y_true)} truths, {len(y_pred)} predictions")
    if kind not in ("regression", "classification"):
        raise ValueError(f"kind must be 'regression' or 'classification', got {kind!r}")
    if kind == "classification" and labels is None:
        raise ValueError("classification metrics per subject need labels")

    groups: dict[str, list[int]] = {}
    for i, subject in enumerate(subjects):
        groups.setdefault(str(subject), []).append(i)
    result = {}
    for subject in sorted(groups):
        truth = [y_true[i] for i in groups[subject]]
        pred = [y_pred[i] for i in groups[subject]]
        if kind == "regression":
            result[subject] = regression_metrics(truth, pred)
        else:
            result[subject] = classification_metrics(truth, pred, labels)
    return result


def confusion_png(confusion: Sequence[Sequence[int]], labels: Sequence[str], title: str) -> bytes:
    """A PNG of the confusion matrix: rows true, columns predicted, shaded by row share, counts in cells."""
    counts = np.asarray(confusion, dtype=np.int64)
    if not len(labels) or counts.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion must be a square matrix with one row per label ({len(labels)})")
    font = ImageFont.load_default(size=FONT_SIZE)
    title_font = ImageFont.load_default(size=TITLE_SIZE)
    names = [str(label) for label in labels]

    # Cells wide enough for the longest label, so column names never overlap.
    cell = max(MIN_CELL, max(_text_size(font, name)[0] for name in names) + CELL_PADDING)
    line = _text_size(font, "Ag")[1] + CELL_PADDING // 2
    row_names_width = max(_text_size(font, name)[0] for name in names)
    left = MARGIN + line + CELL_PADDING + row_names_width + CELL_PADDING  # "true" (rotated), row names
    top = MARGIN + _text_size(title_font, title)[1] + CELL_PADDING
    grid = cell * len(names)
    width = max(left + grid + MARGIN, MARGIN * 2 + _text_size(title_font, title)[0])
    height = top + grid + 2 * line + MARGIN  # column names + "predicted" below the grid

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, MARGIN), title, fill=INK, font=title_font)

    row_totals = counts.sum(axis=1)
    for r, name in enumerate(names):
        y = top + r * cell
        draw.text((left - CELL_PADDING, y + cell / 2), name, fill=INK, font=font, anchor="rm")
        for c in range(len(names)):
            x = left + c * cell
            share = counts[r, c] / row_totals[r] if row_totals[r] else 0.0
            draw.rectangle((x, y, x + cell, y + cell), fill=_shade(share), outline=GRID)
            ink = BACKGROUND if share > LIGHT_TEXT_ABOVE else INK
            draw.text((x + cell / 2, y + cell / 2), str(counts[r, c]), fill=ink, font=font, anchor="mm")
    for c, name in enumerate(names):
        draw.text((left + c * cell + cell / 2, top + grid + line / 2), name, fill=INK, font=font, anchor="mm")
    draw.text((left + grid / 2, top + grid + line * 1.5), "predicted", fill=INK, font=font, anchor="mm")
    _draw_vertical(image, "true", font, (MARGIN, top + grid // 2))

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _paired_arrays(y_true: Sequence[float], y_pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true, dtype=np.float64).ravel()
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if truth.shape != pred.shape:
        raise ValueError(f"{truth.size} true values but {pred.size} predictions")
    if not (np.isfinite(truth).all() and np.isfinite(pred).all()):
        # A NaN would silently turn every figure into NaN; fail where it is visible.
        raise ValueError("true values and predictions must all be finite")
    return truth, pred


def _pearson_r(truth: np.ndarray, pred: np.ndarray) -> float | None:
    # Undefined for n < 2 or a constant input; ptp is exact where a variance may be a tiny float.
    if truth.size < 2 or np.ptp(truth) == 0 or np.ptp(pred) == 0:
        return None
    dt, dp = truth - truth.mean(), pred - pred.mean()
    r = float(np.dot(dt, dp) / np.sqrt(np.dot(dt, dt) * np.dot(dp, dp)))
    return min(1.0, max(-1.0, r))  # float error can step just outside [-1, 1]


def _icc_3_1(truth: np.ndarray, pred: np.ndarray) -> float | None:
    """ICC(3,1), Shrout & Fleiss (1979): two-way mixed, consistency, single measures.

    (BMS - EMS) / (BMS + (k - 1) EMS) over the n x k table of targets by
    raters. Consistency ignores a constant offset between the raters, so a
    biased but perfectly ordered model scores 1; MAE shows the bias.
    """
    n, k = truth.size, ICC_RATERS
    # Undefined for n < 2, and 0/0 when both raters are constant.
    if n < 2 or (np.ptp(truth) == 0 and np.ptp(pred) == 0):
        return None
    table = np.column_stack((truth, pred))
    grand = table.mean()
    ss_targets = k * np.sum((table.mean(axis=1) - grand) ** 2)
    ss_raters = n * np.sum((table.mean(axis=0) - grand) ** 2)
    ss_error = np.sum((table - grand) ** 2) - ss_targets - ss_raters
    bms = ss_targets / (n - 1)
    ems = max(ss_error, 0.0) / ((n - 1) * (k - 1))  # clamp float error below zero
    return float((bms - ems) / (bms + (k - 1) * ems))


def _shade(share: float) -> tuple[int, int, int]:
    """Blend from the background (share 0) to FULL_SHADE (share 1)."""
    return tuple(round(b + (f - b) * share) for b, f in zip(BACKGROUND, FULL_SHADE, strict=True))


def _text_size(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(right - left), int(bottom - top)


def _draw_vertical(
    image: Image.Image, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, centre_left: tuple[int, int]
) -> None:
    """Paste ``text`` rotated 90 degrees, its left edge at x and centred on y."""
    w, h = _text_size(font, text)
    label = Image.new("RGB", (w + 4, h + 8), BACKGROUND)
    ImageDraw.Draw(label).text((2, 2), text, fill=INK, font=font)
    label = label.rotate(90, expand=True)
    x, y = centre_left
    image.paste(label, (x, y - label.height // 2))
