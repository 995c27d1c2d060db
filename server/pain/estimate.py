"""The pain estimate every estimator returns, built in one place."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from server.pain import scale

# Uncertainty of a PSPI estimate, used to spread it into level probabilities:
# at full confidence the standard deviation is SIGMA_MIN PSPI points (about the
# frame-to-frame jitter of the geometry estimator on a still face); it grows
# linearly to SIGMA_MIN + SIGMA_SPAN as confidence falls to zero.
SIGMA_MIN = 0.75
SIGMA_SPAN = 3.25


@dataclass(frozen=True)
class PainEstimate:
    """PSPI, level, level probabilities, AU intensities and how much to trust them.

    What an estimator cannot measure is None: a learned PSPI regressor gives no
    action units, a sequence classifier gives a class label rather than a PSPI,
    and neither uses a neutral baseline (``baseline``/``calibrated`` None).
    """

    pspi: float | None
    level: str
    confidence: float
    probabilities: dict[str, float]
    action_units: dict[str, float] | None
    estimator: str
    baseline: str | None
    calibrated: bool | None
    model: str | None = None  # checkpoint file of a learned estimator
    label: str | None = None  # sequence models: the most likely class of their label set
    label_probabilities: dict[str, float] | None = None
    # Window classifiers: their raw logits, in label_probabilities' order (fusion adds them, see fusion.py).
    label_logits: list[float] | None = None
    parts: list[dict] | None = None  # fusion: each estimator's contribution and weight
    face_level: str | None = None  # fusion: the level the face alone gave, before physiology
    # FACS estimator: each AU as the landmark geometry and the learned blendshapes read it, before fusion.
    action_unit_sources: dict[str, dict[str, float | None]] | None = None
    # Look-alikes of pain seen on the face and kept out of the reading ("smile", "speech", "blink").
    context: list[str] | None = None


def _clip_confidence(confidence: float) -> float:
    return round(min(max(confidence, 0.0), 1.0), 3)


def sigma_for_confidence(confidence: float) -> float:
    """The PSPI standard deviation a confidence stands for (SIGMA_MIN at 1, growing as it falls)."""
    return SIGMA_MIN + (1.0 - confidence) * SIGMA_SPAN


def make_estimate(
    action_units: Mapping[str, float],
    confidence: float,
    estimator: str,
    baseline: str,
    thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS,
    sources: Mapping[str, Mapping[str, float | None]] | None = None,
    context: Sequence[str] | None = None,
) -> PainEstimate:
    """Build a PainEstimate from AU intensities (PSPI, level and probabilities follow).

    ``sources``: each AU as each source read it; ``context``: look-alikes of pain that were discounted.
    """
    pspi = round(scale.pspi_from_action_units(action_units), 2)
    confidence = _clip_confidence(confidence)
    sigma = sigma_for_confidence(confidence)
    return PainEstimate(
        pspi=pspi,
        level=scale.level_for_pspi(pspi, thresholds),
        confidence=confidence,
        probabilities=scale.level_probabilities(pspi, sigma, thresholds),
        action_units={name: round(float(action_units[name]), 2) for name in scale.ACTION_UNITS},
        estimator=estimator,
        baseline=baseline,
        calibrated=baseline != "population",
        action_unit_sources=None if sources is None else {
            au: {name: None if v is None else round(float(v), 2) for name, v in by_source.items()}
            for au, by_source in sources.items()
        },
        context=None if context is None else list(context),
    )


def estimate_from_pspi(
    pspi: float,
    sigma: float,
    confidence: float,
    estimator: str,
    model: str,
    thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS,
) -> PainEstimate:
    """Build a PainEstimate from a regressed PSPI and its error spread ``sigma`` (no AUs, no baseline)."""
    pspi = round(min(max(float(pspi), 0.0), scale.PSPI_MAX), 2)
    return PainEstimate(
        pspi=pspi,
        level=scale.level_for_pspi(pspi, thresholds),
        confidence=_clip_confidence(confidence),
        probabilities=scale.level_probabilities(pspi, sigma, thresholds),
        action_units=None,
        estimator=estimator,
        baseline=None,
        calibrated=None,
        model=model,
    )


def estimate_from_levels(
    probabilities: Mapping[str, float],
    confidence: float,
    estimator: str,
    model: str | None,
    pspi: float | None = None,
    label: str | None = None,
    label_probabilities: Mapping[str, float] | None = None,
    parts: list[dict] | None = None,
    level: str | None = None,
    label_logits: Sequence[float] | None = None,
) -> PainEstimate:
    """Build a PainEstimate from level probabilities (sequence models, fusion).

    The level is ``level`` when given, else the median level of ``probabilities``.
    """
    level = level or scale.median_level(probabilities)
    return PainEstimate(
        pspi=None if pspi is None else round(float(pspi), 2),
        level=level,
        confidence=_clip_confidence(confidence),
        probabilities={name: round(float(probabilities.get(name, 0.0)), 4) for name in scale.LEVELS},
        action_units=None,
        estimator=estimator,
        baseline=None,
        calibrated=None,
        model=model,
        label=label,
        label_probabilities=None if label_probabilities is None else dict(label_probabilities),
        label_logits=None if label_logits is None else [round(float(z), 4) for z in label_logits],
        parts=parts,
    )


# A PSPI that swings by this standard deviation over the last second halves the
# confidence (a third of the width of the mild band).
STABILITY_HALF_PSPI_STD = 1.5


def stability(recent_pspi: Sequence[float]) -> float:
    """1 for a steady (or single) estimate, falling as recent PSPI values scatter."""
    if len(recent_pspi) < 2:
        return 1.0
    mean = sum(recent_pspi) / len(recent_pspi)
    std = (sum((p - mean) ** 2 for p in recent_pspi) / len(recent_pspi)) ** 0.5
    return 1.0 / (1.0 + std / STABILITY_HALF_PSPI_STD)
