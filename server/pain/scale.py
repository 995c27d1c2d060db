"""The pain scale: PSPI from action units, PSPI to levels, level probabilities.

PSPI (Prkachin & Solomon Pain Intensity, Prkachin & Solomon 2008, Pain 139:267)
= AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43, range 0-16, with AU intensities
0-5 (FACS A-E) and AU43 (eyes closed) 0/1. This module is the one place that
maps PSPI, or a sequence model's label, to a PainScope level.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

LEVELS: tuple[str, ...] = ("none", "mild", "moderate", "severe")
PSPI_MAX = 16.0
AU_MAX = 5.0  # FACS intensity E
ACTION_UNITS: tuple[str, ...] = ("AU4", "AU6", "AU7", "AU9", "AU10", "AU43")
AU_NAMES: Mapping[str, str] = {
    "AU4": "brow lowerer",
    "AU6": "cheek raiser",
    "AU7": "lid tightener",
    "AU9": "nose wrinkler",
    "AU10": "upper lip raiser",
    "AU43": "eyes closed",
}
# Default cut points between none|mild|moderate|severe (docs/ARCHITECTURE.md; configurable
# through Settings.level_thresholds).
DEFAULT_THRESHOLDS: tuple[float, float, float] = (0.5, 5.5, 10.5)

# Label sets of sequence models and the PainScope level each label means.
# BioVid Heat Pain: BL1 baseline, PA1-PA4 rising heat (PA1 = pain threshold,
# PA4 = tolerance; Walter et al. 2013).
LABEL_SETS: Mapping[str, Mapping[str, str]] = {
    "binary": {"NO_PAIN": "none", "PAIN": "moderate"},
    "biovid4": {"BL1": "none", "PA1": "mild", "PA2": "moderate", "PA3": "severe"},
    "biovid5": {"BL1": "none", "PA1": "mild", "PA2": "mild", "PA3": "moderate", "PA4": "severe"},
}


def pspi_from_action_units(aus: Mapping[str, float]) -> float:
    """PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43 (0-16)."""
    value = aus["AU4"] + max(aus["AU6"], aus["AU7"]) + max(aus["AU9"], aus["AU10"]) + aus["AU43"]
    return float(min(max(value, 0.0), PSPI_MAX))


def level_for_pspi(pspi: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> str:
    """The level a PSPI value falls in (``none`` below the first cut point)."""
    for level, cut in zip(LEVELS, thresholds):
        if pspi < cut:
            return level
    return LEVELS[-1]


def level_for_label(label_set: str, label: str) -> str:
    """The PainScope level of a sequence model's class label."""
    try:
        return LABEL_SETS[label_set][label]
    except KeyError:
        raise ValueError(f"unknown label {label!r} in label set {label_set!r}") from None


def label_names(label_set: str) -> list[str]:
    """The class labels of a label set, in a classifier's output order."""
    if label_set not in LABEL_SETS:
        raise ValueError(f"label set must be one of {tuple(LABEL_SETS)}, not {label_set!r}")
    return list(LABEL_SETS[label_set])


def label_level_probabilities(label_set: str, label_probs: Sequence[float]) -> dict[str, float]:
    """Class probabilities summed into PainScope levels through LABEL_SETS."""
    levels = {level: 0.0 for level in LEVELS}
    for label, p in zip(label_names(label_set), label_probs):
        levels[level_for_label(label_set, label)] += float(p)
    return {level: round(p, 4) for level, p in levels.items()}


def softmax(logits: Sequence[float]) -> np.ndarray:
    """Class probabilities from one row of logits."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def median_level(probabilities: Mapping[str, float]) -> str:
    """The level at which the cumulative probability first reaches one half.

    Levels are ordered, so the median is the fitting summary of a distribution
    over them (the most probable level ignores order and band widths).
    """
    total = sum(probabilities.get(level, 0.0) for level in LEVELS)
    cumulative = 0.0
    for level in LEVELS:
        cumulative += probabilities.get(level, 0.0)
        if cumulative >= total / 2.0:
            return level
    return LEVELS[-1]


def level_probabilities(
    pspi: float, sigma: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> dict[str, float]:
    """Probability of each level if the true PSPI is normal around ``pspi`` with std ``sigma``.

    The scale is censored at its ends, not truncated: an estimate that could
    lie below 0 reads as "none" and one above 16 as "severe", as a face cannot
    show less than no pain or more than the maximum. (Truncating instead would
    renormalise the mass above 0, so a relaxed face at PSPI 0 would read mostly
    "mild".) The four probabilities sum to 1.
    """
    if sigma <= 0:
        level = level_for_pspi(pspi, thresholds)
        return {name: float(name == level) for name in LEVELS}
    cdf = [0.0, *(_normal_cdf(edge, pspi, sigma) for edge in thresholds), 1.0]
    return {name: round(cdf[i + 1] - cdf[i], 4) for i, name in enumerate(LEVELS)}


def _normal_cdf(x: float, mean: float, sigma: float) -> float:
    return 0.5 * (1.0 + math.erf((x - mean) / (sigma * math.sqrt(2.0))))
