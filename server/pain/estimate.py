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
    """PSPI, level, level probabilities, AU intensities and how much to trust them."""

    pspi: float
    level: str
    confidence: float
    probabilities: dict[str, float]
    action_units: dict[str, float]
    estimator: str
    baseline: str
    calibrated: bool


def make_estimate(
    action_units: Mapping[str, float],
    confidence: float,
    estimator: str,
    baseline: str,
    thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS,
) -> PainEstimate:
    """Build a PainEstimate from AU intensities (PSPI, level and probabilities follow)."""
    pspi = round(scale.pspi_from_action_units(action_units), 2)
    confidence = round(min(max(confidence, 0.0), 1.0), 3)
    sigma = SIGMA_MIN + (1.0 - confidence) * SIGMA_SPAN
    return PainEstimate(
        pspi=pspi,
        level=scale.level_for_pspi(pspi, thresholds),
        confidence=confidence,
        probabilities=scale.level_probabilities(pspi, sigma, thresholds),
        action_units={name: round(float(action_units[name]), 2) for name in scale.ACTION_UNITS},
        estimator=estimator,
        baseline=baseline,
        calibrated=baseline != "population",
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
