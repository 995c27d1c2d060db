"""The ``resnet18`` estimator: PSPI regressed from the aligned face crop by a trained checkpoint."""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from server.pain import scale
from server.pain.face.baseline import NeutralBaseline
from server.pain.estimate import SIGMA_MIN, PainEstimate, estimate_from_pspi
from server.pain.estimator import Observation
from server.pain.models.inference import Runner
from server.pain.scale import softmax
from server.pain.models.resnet import to_batch
from server.vision.align import aligned_crop
from server.vision.face import Face

# For normally distributed errors MAE = sigma * sqrt(2 / pi), so the checkpoint's
# validation MAE gives the spread of its estimates.
SIGMA_PER_MAE = math.sqrt(math.pi / 2.0)
# A validation MAE of this many PSPI points halves the confidence: half the
# width of the mild band (0.5-5.5), i.e. the model is right about the band
# only about half the time.
MAE_HALF_CONFIDENCE = 2.5


class CropTrack:
    """Hands the estimator the aligned crop of each assessed frame."""

    def __init__(self, size: int) -> None:
        self.size = size

    def add(self, observation: Observation) -> None:
        """Single frames only: nothing to remember."""

    def evidence(self, observation: Observation) -> np.ndarray:
        """The aligned ``size`` x ``size`` crop of the patient's face."""
        return aligned_crop(observation.rgb, observation.face.landmarks, self.size)


class ResnetEstimator:
    """PSPI from a ResNet-18 checkpoint; confidence from face quality and the checkpoint's validation error."""

    name = "resnet18"
    needs_sequence = False

    def __init__(self, runner: Runner, metadata: dict[str, Any], model_name: str, thresholds: Sequence[float]) -> None:
        self.runner = runner
        self.metadata = metadata
        self.model_name = model_name
        self.thresholds = tuple(thresholds)
        self.image_size = int(metadata["input"]["image_size"])
        mae = (metadata.get("metrics") or {}).get("validation", {}).get("mae")
        # Without a validation error the model's accuracy is unknown: it is
        # trusted as little as a model that is wrong by a whole band.
        self.validation_mae = float(mae) if mae is not None else 2.0 * MAE_HALF_CONFIDENCE
        self.sigma = max(SIGMA_MIN, self.validation_mae * SIGMA_PER_MAE)
        self.reliability = 1.0 / (1.0 + self.validation_mae / MAE_HALF_CONFIDENCE)

    def track(self) -> CropTrack:
        """Per-stream state: the crop size."""
        return CropTrack(self.image_size)

    def estimate(
        self, face: Face, baseline: NeutralBaseline, steadiness: float = 1.0, evidence: Any = None
    ) -> PainEstimate | None:
        """PSPI of the crop in ``evidence`` (the baseline is not used: the model is person-independent)."""
        if evidence is None:
            return None
        pspi, level_logits = self.runner(to_batch(evidence[None]))
        estimate = estimate_from_pspi(
            float(pspi[0]), self.sigma, face.quality * steadiness * self.reliability,
            self.name, self.model_name, self.thresholds,
        )
        if level_logits.shape[1] == 0:
            return estimate
        # The optional classification head's view of the level, shown next to the regression.
        probs = softmax(level_logits[0])
        return replace(estimate, label_probabilities={k: round(float(p), 4) for k, p in zip(scale.LEVELS, probs)})

