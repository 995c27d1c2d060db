"""The ``lstm`` estimator: a pain class from the last seconds of landmarks, by a trained checkpoint."""
from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from server.pain import sequence
from server.pain.baseline import NeutralBaseline
from server.pain.estimate import PainEstimate, estimate_from_levels
from server.pain.estimator import Observation
from server.pain.inference import Runner, softmax
from server.vision.face import Face

# The window must be at least this full (fraction of its frames with a face)
# before the model is asked: a grimace's onset takes ~0.5 s, so 20 % of a
# 5.5 s window (1.1 s) is the least that can hold one.
MIN_WINDOW_FILL = 0.2


class WindowTrack:
    """The frames of the last window on the model's frame clock; slots without a face stay masked.

    Each frame falls in the slot nearest its time (slot = round(t x fps)); a
    later frame in the same slot replaces the earlier, so a 30 fps camera and
    a 10 fps model meet without dropping or doubling time.
    """

    def __init__(self, spec: sequence.FeatureSpec) -> None:
        self.spec = spec
        self._slots: deque[tuple[int, np.ndarray]] = deque()

    def _slot(self, t_s: float) -> int:
        return int(round(t_s * self.spec.fps))

    def add(self, observation: Observation) -> None:
        """Put this frame's features in its slot and forget slots older than the window."""
        slot = self._slot(observation.t_s)
        features = sequence.frame_features(observation.face.landmarks, self.spec)
        if self._slots and self._slots[-1][0] == slot:
            self._slots.pop()
        elif self._slots and self._slots[-1][0] > slot:
            self._slots.clear()  # time went backwards: a new clip or a restarted camera clock
        self._slots.append((slot, features))
        while self._slots and self._slots[0][0] <= slot - self.spec.window_frames:
            self._slots.popleft()

    def evidence(self, observation: Observation) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(features T x F, mask T, fill) for the window ending at this frame; None while too little is seen."""
        frames = self.spec.window_frames
        features = np.zeros((frames, self.spec.width), dtype=np.float32)
        mask = np.zeros(frames, dtype=np.float32)
        end = self._slot(observation.t_s)
        for slot, values in self._slots:
            index = frames - 1 - (end - slot)
            if 0 <= index < frames:
                features[index], mask[index] = values, 1.0
        fill = float(mask.mean())
        return (features, mask, fill) if fill >= MIN_WINDOW_FILL else None


class SequenceEstimator:
    """Level probabilities from an LSTM-family checkpoint over its label set."""

    name = "lstm"
    needs_sequence = True

    def __init__(self, runner: Runner, metadata: dict[str, Any], model_name: str) -> None:
        self.runner = runner
        self.metadata = metadata
        self.model_name = model_name
        self.spec = sequence.FeatureSpec(**metadata["input"])
        self.label_set = metadata["label_set"]
        self.labels = sequence.label_names(self.label_set)

    def track(self) -> WindowTrack:
        """Per-stream state: the landmark window."""
        return WindowTrack(self.spec)

    def estimate(
        self, face: Face, baseline: NeutralBaseline, steadiness: float = 1.0, evidence: Any = None
    ) -> PainEstimate | None:
        """Class and level probabilities for the window in ``evidence``; None until the window is full enough.

        Confidence = face quality x window fill x steadiness x the probability of the chosen level.
        """
        if evidence is None:
            return None
        features, mask, fill = evidence
        (logits,) = self.runner(features[None], mask[None])
        probs = softmax(logits[0])
        label_probs = {label: round(float(p), 4) for label, p in zip(self.labels, probs)}
        levels = sequence.level_probabilities(self.label_set, probs)
        top = max(levels.values())
        return estimate_from_levels(
            levels,
            face.quality * fill * steadiness * top,
            self.name,
            self.model_name,
            label=self.labels[int(np.argmax(probs))],
            label_probabilities=label_probs,
        )
