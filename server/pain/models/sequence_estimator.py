"""The ``lstm`` estimator: a pain class from the last seconds of landmarks, by a trained checkpoint."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from server.pain.models import sequence
from server.pain.face.baseline import NeutralBaseline
from server.pain.estimate import PainEstimate, estimate_from_levels
from server.pain.estimator import Observation
from server.pain.models.inference import Runner
from server.pain.scale import softmax
from server.vision.face import Face

# The window must be at least this full (fraction of its frames with a face)
# before the model is asked: a grimace's onset takes ~0.5 s, so 20 % of a
# 5.5 s window (1.1 s) is the least that can hold one.
MIN_WINDOW_FILL = 0.2


@dataclass
class _Slot:
    """One slot of a window: its index on the frame clock, the frame's value and (once asked for) its encoding."""

    index: int
    value: np.ndarray
    encoded: np.ndarray | None = None


class WindowTrack:
    """The frames of the last window on the model's frame clock; slots without a face stay masked.

    Each frame falls in the slot nearest its time (slot = round(t x fps)); a
    later frame in the same slot replaces the earlier, so a 30 fps camera and
    a 10 fps model meet without dropping or doubling time. ``frame_value``
    turns a frame into what the model reads of it (a landmark feature vector,
    an aligned face crop). ``encode``, when given, turns a batch of those
    values into what the window model reads (a crop into its ResNet-18
    features); each slot is encoded once, when a window first needs it, and
    kept, so a window costs only the frames that are new since the last one
    and a frame replaced in its slot before then costs nothing.
    """

    def __init__(
        self,
        fps: float,
        frames: int,
        frame_value: Callable[[Observation], np.ndarray],
        encode: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.fps, self.frames = fps, frames
        self.frame_value = frame_value
        self.encode = encode
        self._slots: deque[_Slot] = deque()

    def _slot(self, t_s: float) -> int:
        return int(round(t_s * self.fps))

    def add(self, observation: Observation) -> None:
        """Put this frame's value in its slot and forget slots older than the window."""
        slot = self._slot(observation.t_s)
        if self._slots and self._slots[-1].index == slot:
            self._slots.pop()
        elif self._slots and self._slots[-1].index > slot:
            self._slots.clear()  # time went backwards: a new clip or a restarted camera clock
        value = self.frame_value(observation)
        self._slots.append(_Slot(slot, value, None if self.encode else value))
        while self._slots and self._slots[0].index <= slot - self.frames:
            self._slots.popleft()

    def _encode_new_slots(self) -> None:
        pending = [s for s in self._slots if s.encoded is None]
        if pending and self.encode is not None:
            for slot, encoded in zip(pending, self.encode(np.stack([s.value for s in pending]))):
                slot.encoded = encoded

    def evidence(self, observation: Observation) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(values T x ..., mask T, fill) for the window ending at this frame; None while too little is seen."""
        end = self._slot(observation.t_s)
        placed = [(self.frames - 1 - (end - slot.index), slot) for slot in self._slots]
        placed = [(index, slot) for index, slot in placed if 0 <= index < self.frames]
        fill = len(placed) / self.frames
        if not placed or fill < MIN_WINDOW_FILL:
            return None
        self._encode_new_slots()
        sample = placed[-1][1].encoded
        values = np.zeros((self.frames, *sample.shape), dtype=sample.dtype)
        mask = np.zeros(self.frames, dtype=np.float32)
        for index, slot in placed:
            values[index], mask[index] = slot.encoded, 1.0
        return values, mask, fill


class WindowClassifier:
    """Class and level probabilities from a checkpoint that reads a window of frames over a label set.

    Subclasses say what a frame is to the model (``frame_value``) and how a
    window becomes the network's inputs (``inputs``).
    """

    name = "window"
    needs_sequence = True

    def __init__(self, runner: Runner, metadata: dict[str, Any], model_name: str) -> None:
        self.runner = runner
        self.metadata = metadata
        self.model_name = model_name
        self.label_set = metadata["label_set"]
        self.labels = sequence.label_names(self.label_set)
        self.fps = float(metadata["input"]["fps"])
        self.window_frames = int(metadata["input"]["window_frames"])

    def frame_value(self, observation: Observation) -> np.ndarray:
        """What the model reads of one frame."""
        raise NotImplementedError

    def inputs(self, values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """The network's inputs (batch of one) for a window of frame values and its mask."""
        return values[None], mask[None]

    def track(self) -> WindowTrack:
        """Per-stream state: the window of frame values."""
        return WindowTrack(self.fps, self.window_frames, self.frame_value)

    def estimate(
        self, face: Face, baseline: NeutralBaseline, steadiness: float = 1.0, evidence: Any = None
    ) -> PainEstimate | None:
        """Class and level probabilities for the window in ``evidence``; None until the window is full enough.

        Confidence = face quality x window fill x steadiness x the probability of the chosen level.
        """
        if evidence is None:
            return None
        values, mask, fill = evidence
        (logits,) = self.runner(*self.inputs(values, mask))
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
            label_logits=logits[0].tolist(),
        )


class SequenceEstimator(WindowClassifier):
    """Level probabilities from an LSTM-family checkpoint over its label set."""

    name = "lstm"

    def __init__(self, runner: Runner, metadata: dict[str, Any], model_name: str) -> None:
        super().__init__(runner, metadata, model_name)
        self.spec = sequence.FeatureSpec(**metadata["input"])

    def frame_value(self, observation: Observation) -> np.ndarray:
        """The frame's landmark feature vector."""
        return sequence.frame_features(observation.face.landmarks, self.spec)
