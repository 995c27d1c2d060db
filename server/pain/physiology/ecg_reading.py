"""What the learned ECG model said about a recording, and the ECG's physiology carrying it to fusion. No torch.

Kept apart from :mod:`server.pain.models.ecg_classifier` (which runs the network) so
that the fusion estimator can recognise a reading without importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.pain.physiology.physiology import Physiology

ECG_MODEL = "ecg_transformer"  # the checkpoint kind, and the part's name in fusion


@dataclass(frozen=True)
class EcgModelReading:
    """The ECG model's answer for one recording's last window."""

    model: str  # checkpoint file
    label_set: str
    label: str
    level: str
    label_probabilities: dict[str, float]
    label_logits: list[float]
    probabilities: dict[str, float]  # per PainScope level
    confidence: float  # signal quality x the probability of the chosen level
    window_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "estimator": ECG_MODEL,
            "model": self.model,
            "label_set": self.label_set,
            "label": self.label,
            "level": self.level,
            "label_probabilities": self.label_probabilities,
            "label_logits": self.label_logits,
            "probabilities": self.probabilities,
            "confidence": self.confidence,
            "window_s": self.window_s,
        }


@dataclass(frozen=True)
class ModelPhysiology(Physiology):
    """An ECG's heuristic arousal together with the ECG model's reading of it (fusion uses the reading)."""

    reading: EcgModelReading | None = None


def with_reading(physiology: Physiology, reading: EcgModelReading) -> ModelPhysiology:
    """``physiology`` (the ECG's heuristic arousal) carrying the model's reading."""
    return ModelPhysiology(**vars(physiology), reading=reading)
