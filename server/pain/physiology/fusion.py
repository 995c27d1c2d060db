"""The ``fusion`` estimator: a weighted combination of the estimators that are loaded.

Each part gives level probabilities (and, when it has one, a PSPI). The fused
level probabilities are the weighted mean of the parts' probabilities, the
fused PSPI the weighted mean of the parts' PSPIs, the fused confidence the
weighted mean of their confidences. When every part has a PSPI the level is
that of the fused PSPI (as for a single estimator); otherwise it is the median
level of the fused probabilities. A part that has nothing to say for this
frame (a sequence model whose window is still filling, say) is left out and
the remaining weights are renormalised. The response lists every part with its
weight, so nobody has to guess where a level came from.

Physiology (a heart rate against the person's resting rate,
``server/pain/physiology/physiology.py``) joins the face with its own weight (default
0.2 against the face's 0.8, as in the face + ECG seed system). It is not a
second opinion on the pain but a pull: with arousal ``a`` and weight ``w`` the
fused reading moves the share ``w * a`` of the way from the face's reading to
the top of the scale. At the resting rate (``a = 0``) the face's level stands
unchanged; full arousal moves it at most ``w`` of the way; a heart rate below
the resting rate does not lower it (a slow pulse is no sign of comfort).

Logit fusion (the BioVid face + ECG system): when an ECG came with an
``ecg_transformer`` reading (``server/pain/models/ecg_classifier.py``) and the
``resnet_gru`` part answered over the same label set, the two networks'
logits are added, ``1 - e`` face and ``e`` ECG (``Settings.ecg_model_weight``,
0.2 by default), and the softmax of the sum replaces the ``resnet_gru`` part's
share of the level probabilities. The ECG model then speaks for the ECG: the
heuristic heart-rate pull is listed with weight 0. Without either network the
heuristic pull above applies as before.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from server.pain import scale
from server.pain.face.baseline import NeutralBaseline
from server.pain.estimate import PainEstimate, estimate_from_levels
from server.pain.estimator import Observation, PainEstimator
from server.pain.physiology.ecg_reading import ECG_MODEL, ModelPhysiology
from server.pain.physiology.physiology import Physiology
from server.problems import N_, Sentence
from server.vision.face import Face


def parse_weights(text: str) -> dict[str, float]:
    """``"geometry:1,resnet18:1"`` -> ``{"geometry": 1.0, "resnet18": 1.0}`` (weights must be >= 0)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition(":")
        weight = float(value)
        if weight < 0:
            raise ValueError(f"fusion weight of {name!r} is negative")
        weights[name.strip()] = weight
    return weights


def fuse(
    parts: Sequence[tuple[PainEstimate, float]], thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS
) -> PainEstimate:
    """One estimate from (estimate, weight) pairs; at least one with a positive weight."""
    total = sum(weight for _, weight in parts)
    if total <= 0:
        raise ValueError("fusion needs at least one part with a positive weight")
    probabilities = {
        level: sum(e.probabilities[level] * w for e, w in parts) / total for level in scale.LEVELS
    }
    with_pspi = [(e.pspi, w) for e, w in parts if e.pspi is not None]
    pspi_weight = sum(w for _, w in with_pspi)
    pspi = sum(p * w for p, w in with_pspi) / pspi_weight if pspi_weight > 0 else None
    confidence = sum(e.confidence * w for e, w in parts) / total
    described = [
        {
            "estimator": e.estimator,
            "weight": round(w / total, 3),
            "pspi": e.pspi,
            "level": e.level,
            "confidence": e.confidence,
            "model": e.model,
            **_class_of(e),
        }
        for e, w in parts
    ]
    if len(parts) == 1:  # one part alone keeps everything it measured (action units, baseline)
        return dataclasses.replace(parts[0][0], estimator="fusion", parts=described)
    all_pspi = len(with_pspi) == len(parts)
    level = scale.level_for_pspi(pspi, thresholds) if all_pspi and pspi is not None else None
    return estimate_from_levels(probabilities, confidence, "fusion", None, pspi=pspi, parts=described, level=level)


def _class_of(estimate: PainEstimate) -> dict[str, Any]:
    """A window classifier's class, its labels in output order and its logits (for the parts table and logit fusion)."""
    if estimate.label_logits is None or estimate.label_probabilities is None:
        return {}
    return {"label": estimate.label, "labels": list(estimate.label_probabilities),
            "label_logits": estimate.label_logits}


def add_physiology(
    face: PainEstimate,
    physiology: Physiology | None,
    weight: float,
    thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS,
) -> PainEstimate:
    """The face's fused estimate pulled toward the top of the scale by ``weight`` x arousal.

    Without a usable heart rate the physiology part is listed with weight 0
    and the reason, and the face's estimate stands.
    """
    usable = physiology is not None and physiology.arousal is not None and weight > 0
    share = weight if usable else 0.0
    pull = share * physiology.arousal if usable else 0.0
    pspi = None if face.pspi is None else round(face.pspi + pull * (scale.PSPI_MAX - face.pspi), 2)
    top = scale.LEVELS[-1]
    probabilities = {
        level: round((1.0 - pull) * p + (pull if level == top else 0.0), 4) for level, p in face.probabilities.items()
    }
    level = scale.level_for_pspi(pspi, thresholds) if pspi is not None else scale.median_level(probabilities)
    confidence = (1.0 - share) * face.confidence + (share * physiology.confidence if usable else 0.0)
    face_parts = face.parts or [{"estimator": face.estimator, "weight": 1.0, "pspi": face.pspi, "level": face.level,
                                 "confidence": face.confidence, "model": face.model}]
    parts = [{**part, "weight": round(part["weight"] * (1.0 - share), 3)} for part in face_parts]
    parts.append({
        "estimator": "heart_rate",
        "weight": round(share, 3),
        "pspi": None,
        "level": None,
        "confidence": None if physiology is None else round(physiology.confidence, 3),
        "model": None,
        "pspi_shift": None if face.pspi is None or pspi is None else round(pspi - face.pspi, 2),
        **(physiology.to_dict() if physiology else {"source": None, "reason": Sentence(N_("no heart rate was given"))}),
    })
    return dataclasses.replace(
        face, pspi=pspi, level=level, probabilities=probabilities, confidence=round(min(max(confidence, 0.0), 1.0), 3),
        estimator="fusion", parts=parts, face_level=face.level,
    )


def fuse_logits(face_logits: Sequence[float], ecg_logits: Sequence[float], ecg_weight: float) -> np.ndarray:
    """``(1 - ecg_weight) x face + ecg_weight x ECG`` logits over one label set (last axis)."""
    return (1.0 - ecg_weight) * np.asarray(face_logits, dtype=np.float64) + ecg_weight * np.asarray(
        ecg_logits, dtype=np.float64)


def add_ecg_model(face: PainEstimate, physiology: ModelPhysiology, ecg_weight: float) -> PainEstimate | None:
    """The face's fused estimate with its ``resnet_gru`` part logit-fused with the ECG model (module docstring).

    None when there is nothing to fuse: no ``resnet_gru`` part, or one over
    another label set than the ECG model's.
    """
    reading = physiology.reading
    labels = scale.label_names(reading.label_set)
    face_part = next(
        (p for p in face.parts or [] if p["estimator"] == "resnet_gru" and p.get("labels") == labels), None
    )
    if face_part is None or not 0.0 <= ecg_weight <= 1.0:
        return None
    # The heart-rate row stays in the table with weight 0: the network speaks for the ECG now.
    listed = add_physiology(face, physiology, 0.0)
    share = face_part["weight"]
    face_logits = np.asarray(face_part["label_logits"], dtype=np.float64)
    logits = fuse_logits(face_logits, reading.label_logits, ecg_weight)
    probs = scale.softmax(logits)
    before = scale.label_level_probabilities(reading.label_set, scale.softmax(face_logits))
    after = scale.label_level_probabilities(reading.label_set, probs)
    probabilities = {
        level: round(min(max(p + share * (after[level] - before[level]), 0.0), 1.0), 4)
        for level, p in listed.probabilities.items()
    }
    ecg_share = share * ecg_weight
    parts = []
    for part in listed.parts:
        if part["estimator"] == "resnet_gru" and part.get("labels") == labels:
            part = {**part, "weight": round(share - ecg_share, 3)}
        elif part["estimator"] == "heart_rate":
            part = {**part, "reason": Sentence(N_("the ECG Transformer read the ECG; its logits were fused with "
                                                   "resnet_gru's"))}
        parts.append(part)
    parts.insert(len(parts) - 1, {
        "estimator": ECG_MODEL, "weight": round(ecg_share, 3), "pspi": None, "level": reading.level,
        "confidence": reading.confidence, "model": reading.model, "label": reading.label, "labels": labels,
        "label_logits": reading.label_logits,
    })
    confidence = (1.0 - ecg_share) * face.confidence + ecg_share * reading.confidence
    return dataclasses.replace(
        listed, probabilities=probabilities, level=scale.median_level(probabilities),
        confidence=round(min(max(confidence, 0.0), 1.0), 3), parts=parts, label=labels[int(np.argmax(probs))],
        label_probabilities={lb: round(float(p), 4) for lb, p in zip(labels, probs)},
        label_logits=[round(float(z), 4) for z in logits],
    )


class FusionTrack:
    """The tracks of every part."""

    def __init__(self, tracks: Mapping[str, Any]) -> None:
        self.tracks = dict(tracks)

    def add(self, observation: Observation) -> None:
        """Every part sees the frame."""
        for track in self.tracks.values():
            track.add(observation)

    def evidence(self, observation: Observation) -> dict[str, Any]:
        """Each part's evidence, by part name."""
        return {name: track.evidence(observation) for name, track in self.tracks.items()}


class FusionEstimator:
    """Weighted combination of the loaded estimators."""

    name = "fusion"
    needs_sequence = False  # works on a photo with the parts that can judge one

    def __init__(
        self, parts: Sequence[tuple[PainEstimator, float]], thresholds: Sequence[float], physiology_weight: float = 0.0,
        ecg_model_weight: float = 0.0,
    ) -> None:
        self.parts = [(estimator, weight) for estimator, weight in parts if weight > 0]
        self.thresholds = tuple(thresholds)
        self.physiology_weight = physiology_weight
        self.ecg_model_weight = ecg_model_weight

    def track(self) -> FusionTrack:
        """Per-stream state of every part."""
        return FusionTrack({estimator.name: estimator.track() for estimator, _ in self.parts})

    def estimate(
        self, face: Face, baseline: NeutralBaseline, steadiness: float = 1.0, evidence: Any = None
    ) -> PainEstimate | None:
        """The fused estimate of the parts that have one for this frame."""
        evidence = evidence or {}
        results = []
        for estimator, weight in self.parts:
            part = estimator.estimate(face, baseline, steadiness, evidence.get(estimator.name))
            if part is not None:
                results.append((part, weight))
        return fuse(results, self.thresholds) if results else None

    def with_physiology(self, face: PainEstimate, physiology: Physiology | None) -> PainEstimate:
        """The face's fused estimate with the ECG model's logits or else the heart rate's pull (module docstring)."""
        if isinstance(physiology, ModelPhysiology) and physiology.reading is not None:
            fused = add_ecg_model(face, physiology, self.ecg_model_weight)
            if fused is not None:
                return fused
        return add_physiology(face, physiology, self.physiology_weight, self.thresholds)
