"""FACS-geometry pain estimator: AU intensities from landmark distances against a neutral face.

For each action unit a distance in the frontalised face frame shrinks as the
muscle acts (``server/pain/landmarks.py``). Its relative change from the same
person's neutral face, less a dead zone for landmark noise, is scaled so that a
maximal movement reads 5 (FACS intensity E). PSPI follows from the AUs.

The full-scale and dead-zone constants are engineering estimates, not a
validated clinical calibration: full scale is the relative change MediaPipe
reports for a strong movement of that kind, and each dead zone sits above the
change seen on the same still face under image noise and +-15 deg head roll
(both measured on the astronaut test face, see tests/test_geometry.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from server.pain import scale
from server.pain.baseline import NeutralBaseline
from server.pain.estimate import PainEstimate, make_estimate
from server.pain.estimator import StatelessTrack
from server.pain.landmarks import FEATURES, frontalise, measure, procrustes_align
from server.vision.face import Face

_F = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class AuRule:
    """Relative shrink of a feature -> intensity 0-5: ``(change - dead_zone) / full_scale * 5``."""

    dead_zone: float
    full_scale: float

    def intensity(self, change: float, extra_tolerance: float) -> float:
        """Intensity 0-5 for a relative change (positive = toward the AU)."""
        above = change - self.dead_zone - extra_tolerance
        return float(np.clip(above / self.full_scale * scale.AU_MAX, 0.0, scale.AU_MAX))


# AU4 brow lowerer: brow-to-eye-corner height. A 7 %-of-IOD brow drop (a strong
# frown) shrinks it by ~21 %; still-face noise stays under 2 %, lip raising
# drags it by up to 7 %.
AU4_RULE = AuRule(dead_zone=0.04, full_scale=0.25)
# Brows drawn together (the corrugator part of AU4) add to the brow drop with
# this weight: Face Mesh follows the inward pull weakly, so it is a minor term.
AU4_BROW_GAP_WEIGHT = 0.5
# AU6 cheek raiser: infraorbital cheek height below the eye corners.
AU6_RULE = AuRule(dead_zone=0.05, full_scale=0.30)
# AU7 lid tightener: the lower lid rising toward the eye corners. It is a short
# distance, so noise is larger (up to ~6 % on a still face, 10 % downward under roll).
AU7_RULE = AuRule(dead_zone=0.08, full_scale=0.40)
# AU9 nose wrinkler: nostril wings rising toward the inner eye corners.
AU9_RULE = AuRule(dead_zone=0.03, full_scale=0.15)
# AU10 upper lip raiser: upper-lip border to subnasale; +-15 deg roll moves it by up to 4.3 %.
AU10_RULE = AuRule(dead_zone=0.05, full_scale=0.40)
# AU43 eyes closed: Face Mesh reports ~55 % loss of lid aperture for a lid
# lowered over 85 % of the eye, and at most ~40 % for strong narrowing (AU7).
EYES_CLOSED_APERTURE_LOSS = 0.5

# Without the person's own neutral face, facial proportions differ between
# adults by about as much as the movements measured (anthropometric ratios vary
# ~5-10 % between people, Farkas 1994): every dead zone widens by this much.
POPULATION_EXTRA_TOLERANCE = 0.10

# Confidence = face quality x baseline trust x stability x reference agreement.
BASELINE_TRUST = {"reference": 1.0, "calibration": 1.0, "rolling": 0.85, "population": 0.5}
# Neutral references that disagree by this mean relative spread halve the trust.
REFERENCE_SPREAD_HALF = 0.10


class GeometryEstimator:
    """The default estimator: needs no trained weights."""

    name = "geometry"
    needs_sequence = False

    def __init__(self, thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS) -> None:
        self.thresholds = tuple(thresholds)

    def features(self, face: Face, baseline: NeutralBaseline | None = None) -> np.ndarray:
        """Feature vector of a face, aligned to the baseline's neutral shape when it has one."""
        shape = frontalise(face.landmarks)
        if baseline is not None and baseline.shape is not None:
            shape = procrustes_align(shape, baseline.shape)
        return measure(shape)

    def action_units(self, features: np.ndarray, baseline: NeutralBaseline) -> dict[str, float]:
        """AU intensities (0-5; AU43 0/1) of features against a neutral baseline."""
        change = (baseline.features - features) / baseline.features  # >0: shrunk, toward the AU
        tolerance = 0.0 if baseline.calibrated else POPULATION_EXTRA_TOLERANCE
        brow = change[_F["brow_eye"]] + AU4_BROW_GAP_WEIGHT * max(change[_F["brow_gap"]], 0.0)
        return {
            "AU4": AU4_RULE.intensity(brow, tolerance),
            "AU6": AU6_RULE.intensity(change[_F["cheek_eye"]], tolerance),
            "AU7": AU7_RULE.intensity(change[_F["lower_lid"]], tolerance),
            "AU9": AU9_RULE.intensity(change[_F["ala_eye"]], tolerance),
            "AU10": AU10_RULE.intensity(change[_F["lip_nose"]], tolerance),
            "AU43": float(change[_F["eye_open"]] >= EYES_CLOSED_APERTURE_LOSS + tolerance),
        }

    def track(self) -> StatelessTrack:
        """Per-stream state: none (the baseline is kept by the caller)."""
        return StatelessTrack()

    def estimate(
        self, face: Face, baseline: NeutralBaseline, stability: float = 1.0, evidence: Any = None
    ) -> PainEstimate:
        """Pain estimate of one face against a neutral baseline.

        ``stability`` in [0, 1] says how steady recent estimates were (1 for a
        single photo); it scales the confidence.
        """
        aus = self.action_units(self.features(face, baseline), baseline)
        agreement = 1.0 / (1.0 + baseline.spread / REFERENCE_SPREAD_HALF)
        confidence = face.quality * BASELINE_TRUST[baseline.kind] * stability * agreement
        return make_estimate(aus, confidence, self.name, baseline.kind, self.thresholds)
