"""The FACS pain estimator (``geometry``): each PSPI action unit from two sources, against a neutral face.

1. **Landmark geometry.** For each action unit a distance in the frontalised
   face frame shrinks as the muscle acts (``server/pain/face/landmarks.py``). Its
   relative change from the same person's neutral face, less a dead zone for
   landmark noise, is scaled so that a maximal movement reads 5 (FACS E).
2. **Learned blendshapes** (``server/pain/face/blendshapes.py``): Face Landmarker's
   scores for the same muscles, as a rise above the same neutral face.

Each source's dead zone and full scale, and how the two are fused per AU, are
the pain head's (``server/pain/facs/pain_head.py``): fitted on real labelled clips
(``python -m server.training.fit_pain_head``; docs/validation.md "How well it reads
pain"), applied in one place (:func:`GeometryEstimator.fuse_sources`). Then the
look-alikes of pain (smile, speech, blink) are handled in the form the head
says (``server/pain/facs/context.py``). PSPI follows from the fused AUs; the result
keeps both sources per AU so a clinician can see why.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from server.pain.face import blendshapes as bs
from server.pain import scale
from server.pain.face.baseline import NeutralBaseline
from server.pain.facs.pain_head import FITTED_UNITS, PainHead, shipped_pain_head
from server.pain.facs.context import (
    ExpressionHistory,
    ExpressionTrack,
    FaceFrame,
    closed_for_s,
    discount_look_alikes,
    smile_strength,
    speech_strength,
)
from server.pain.estimate import PainEstimate, make_estimate
from server.pain.face.landmarks import FEATURES, frontalise, measure, procrustes_align
from server.vision.face import Face

_F = {name: i for i, name in enumerate(FEATURES)}


# Brows drawn together (the corrugator part of AU4) add to the brow drop with
# this weight: Face Mesh follows the inward pull weakly, so it is a minor term.
AU4_BROW_GAP_WEIGHT = 0.5
# The feature whose relative shrink each AU's geometry source reads (AU4 adds the brow gap, above).
GEOMETRY_FEATURE = {"AU4": "brow_eye", "AU6": "cheek_eye", "AU7": "lower_lid", "AU9": "ala_eye", "AU10": "lip_nose"}
# AU43 eyes closed: Face Mesh reports ~55 % loss of lid aperture for a lid
# lowered over 85 % of the eye, and at most ~40 % for strong narrowing (AU7).
EYES_CLOSED_APERTURE_LOSS = 0.5

# Without the person's own neutral face, facial proportions differ between
# adults by about as much as the movements measured (anthropometric ratios vary
# ~5-10 % between people, Farkas 1994): every dead zone widens by this much.
POPULATION_EXTRA_TOLERANCE = 0.10

# Eyes count as closed when one source sees them closed (closure share >= 1: the geometry has lost
# EYES_CLOSED_APERTURE_LOSS of the neutral aperture, or eyeBlink reached EYE_BLINK_CLOSED) and the
# other sees them at least this far closed. One source alone is fooled too easily: a downward gaze
# lowers the lids in the geometry, and the blendshape model under-reads lids in shadow or warped.
EYES_CLOSED_OTHER_SOURCE = 0.5
# Two sources that disagree on an AU by this many intensity points halve the confidence they lend
# (FACS intensity steps are one point apart: two steps is a real disagreement).
SOURCE_DISAGREEMENT_HALF = 2.0

# Confidence = face quality x baseline trust x stability x reference agreement x source agreement.
BASELINE_TRUST = {"reference": 1.0, "calibration": 1.0, "rolling": 0.85, "population": 0.5}
# Neutral references that disagree by this mean relative spread halve the trust.
REFERENCE_SPREAD_HALF = 0.10


def eyes_closed(by_geometry: float, by_blendshapes: float | None, tolerance: float = 0.0) -> bool:
    """Both sources' closure shares (1 = closed) read as eyes closed, by the rule of EYES_CLOSED_OTHER_SOURCE."""
    closed_mark = 1.0 + tolerance / EYES_CLOSED_APERTURE_LOSS
    if by_blendshapes is None:
        return by_geometry >= closed_mark
    return (max(by_geometry, by_blendshapes) >= closed_mark
            and min(by_geometry, by_blendshapes) >= EYES_CLOSED_OTHER_SOURCE * closed_mark)


class GeometryEstimator:
    """The default estimator: needs no trained weights."""

    name = "geometry"
    needs_sequence = False

    def __init__(self, thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS, head: PainHead | None = None) -> None:
        self.thresholds = tuple(thresholds)
        self.head = head if head is not None else shipped_pain_head()

    def features(self, face: Face, baseline: NeutralBaseline | None = None) -> np.ndarray:
        """Feature vector of a face, aligned to the baseline's neutral shape when it has one."""
        shape = frontalise(face.landmarks)
        if baseline is not None and baseline.shape is not None:
            shape = procrustes_align(shape, baseline.shape)
        return measure(shape)

    @staticmethod
    def geometry_changes(features: np.ndarray, baseline: NeutralBaseline) -> dict[str, float]:
        """Each fitted AU's geometry input: its feature's relative shrink from neutral (>0: toward the AU)."""
        change = (baseline.features - features) / baseline.features
        out = {au: float(change[_F[name]]) for au, name in GEOMETRY_FEATURE.items()}
        out["AU4"] += AU4_BROW_GAP_WEIGHT * max(float(change[_F["brow_gap"]]), 0.0)
        return out

    def geometry_action_units(self, features: np.ndarray, baseline: NeutralBaseline) -> dict[str, float]:
        """AU intensities (0-5) that the landmark geometry reads, and AU43's closure share under ``"closure"``."""
        tolerance = 0.0 if baseline.calibrated else POPULATION_EXTRA_TOLERANCE
        changes = self.geometry_changes(features, baseline)
        units = {au: self.head.rules[au]["geometry"].intensity(changes[au], tolerance) for au in FITTED_UNITS}
        return {**units, "closure": self.geometry_closure(features[_F["eye_open"]], baseline)}

    @staticmethod
    def geometry_closure(eye_open: float, baseline: NeutralBaseline) -> float:
        """Lid aperture lost against neutral, as a share of the "closed" mark (1 = closed)."""
        neutral = baseline.features[_F["eye_open"]]
        return float(max(0.0, (neutral - eye_open) / neutral) / EYES_CLOSED_APERTURE_LOSS)

    def eye_open(self, face: Face) -> float:
        """The lid aperture of a face in the frontal frame (what AU43 reads)."""
        return float(measure(frontalise(face.landmarks))[_F["eye_open"]])

    def track(self) -> ExpressionTrack:
        """Per-stream state: the last seconds of the face, for the blink and speech rules."""
        return ExpressionTrack(self.eye_open)

    def fuse_sources(
        self, face: Face, baseline: NeutralBaseline, history: ExpressionHistory | None
    ) -> tuple[dict[str, float], dict[str, dict[str, float | None]], list[str], float]:
        """The one place the two AU sources meet: fused AUs, both sources per AU, context, source agreement."""
        features = self.features(face, baseline)
        geo = self.geometry_action_units(features, baseline)
        scores = bs.vector(face.blendshapes)
        neutral = baseline.blendshapes if baseline.blendshapes is not None else bs.POPULATION_NEUTRAL
        tolerance = 0.0 if baseline.calibrated else POPULATION_EXTRA_TOLERANCE
        learned = None if scores is None else {
            au: self.head.rules[au]["blendshapes"].intensity(rise, tolerance)
            for au, rise in bs.rises(scores, neutral).items()}

        closed_mark = 1.0 + tolerance / EYES_CLOSED_APERTURE_LOSS

        def closed(frame_eye_open: float, frame_scores: np.ndarray | None) -> bool:
            by_blendshapes = None if frame_scores is None else bs.eye_closure(frame_scores, neutral)
            return eyes_closed(self.geometry_closure(frame_eye_open, baseline), by_blendshapes, tolerance)

        closed_now = closed(features[_F["eye_open"]], scores)
        fused: dict[str, float] = {}
        sources: dict[str, dict[str, float | None]] = {}
        for au in FITTED_UNITS:
            sources[au] = {"geometry": geo[au], "blendshapes": learned[au] if learned is not None else None}
            fused[au] = self.head.fuse(au, sources[au])
        sources["AU43"] = {
            "geometry": float(geo["closure"] >= closed_mark),
            "blendshapes": None if scores is None else float(bs.eye_closure(scores, neutral) >= 1.0),
        }
        fused["AU43"] = 0.0
        still = history is None or history.still
        closed_s = 0.0
        if not still:
            current = FaceFrame(history.frames[-1].t_s, float(features[_F["eye_open"]]), scores)
            frames = ExpressionHistory(history.frames[:-1] + (current,))
            closed_s = closed_for_s(frames, lambda f: closed(f.eye_open, f.blendshapes))
        aus, context = discount_look_alikes(
            fused, smile_strength(scores, neutral), speech_strength(history), closed_now, closed_s, still,
            # Without the person's own neutral a resting smile and a grimace's lip pull look alike, so the
            # smile is discounted then; with it, the fitted head decides (pain/facs/pain_head.py).
            self.head.discount_smile or not baseline.calibrated, self.head.discount_speech,
        )
        gaps = [abs(s["geometry"] - s["blendshapes"]) for au, s in sources.items()
                if au != "AU43" and s["blendshapes"] is not None]
        agreement = 1.0 / (1.0 + (max(gaps) if gaps else 0.0) / SOURCE_DISAGREEMENT_HALF)
        return aus, sources, context, agreement

    def estimate(
        self, face: Face, baseline: NeutralBaseline, stability: float = 1.0, evidence: Any = None
    ) -> PainEstimate:
        """Pain estimate of one face against a neutral baseline.

        ``stability`` in [0, 1] says how steady recent estimates were (1 for a
        single photo); it scales the confidence. ``evidence`` is the face's
        recent history (:class:`ExpressionHistory`) in a stream, None for a photo.
        """
        history = evidence if isinstance(evidence, ExpressionHistory) else None
        aus, sources, context, source_agreement = self.fuse_sources(face, baseline, history)
        agreement = 1.0 / (1.0 + baseline.spread / REFERENCE_SPREAD_HALF)
        confidence = face.quality * BASELINE_TRUST[baseline.kind] * stability * agreement * source_agreement
        return make_estimate(aus, confidence, self.name, baseline.kind, self.thresholds, sources, context)
