"""The learned ECG model in use: an ECG Transformer checkpoint's class for the last window of a recording.

With an ``ecg_transformer`` checkpoint loaded, an ECG upload (alone or sent
with a photo or video) is also read by the network: band-passed
(:mod:`server.vitals.ecg_bandpass`), its last window resampled and
standardised (:func:`server.pain.models.ecg_transformer.to_input`), classified over
the checkpoint's label set. The heuristic arousal (:mod:`server.pain.physiology.arousal`)
is still computed and stays what fusion uses without the model; with it, the
fusion estimator adds the network's logits to the ResNet-18 + GRU's
(:mod:`server.pain.physiology.fusion`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from server.pain.models import ecg_transformer
from server.pain import scale
from server.pain.physiology.ecg_reading import ECG_MODEL, EcgModelReading
from server.pain.models.inference import Runner
from server.pain.scale import softmax
from server.vitals.ecg_files import EcgSignal
from server.vitals.ecg_bandpass import bandpass


class EcgClassifier:
    """An ``ecg_transformer`` checkpoint ready to read recordings."""

    name = ECG_MODEL

    def __init__(self, runner: Runner, metadata: dict[str, Any], model_name: str) -> None:
        self.runner = runner
        self.metadata = metadata
        self.model_name = model_name
        self.label_set = metadata["label_set"]
        self.labels = scale.label_names(self.label_set)
        self.window_s = float(metadata["input"]["window_s"])

    def read(self, signal: EcgSignal, quality: float | None) -> EcgModelReading:
        """The class of ``signal``'s last window; ``quality`` (0..1, None: unknown) scales the confidence."""
        filtered = bandpass(signal.values, signal.sampling_rate_hz)
        x = ecg_transformer.to_input(filtered, signal.sampling_rate_hz, self.window_s)
        (logits,) = self.runner(x[None])
        probs = softmax(logits[0])
        levels = scale.label_level_probabilities(self.label_set, probs)
        label = self.labels[int(np.argmax(probs))]
        trust = 0.0 if quality is None else float(np.clip(quality, 0.0, 1.0))
        return EcgModelReading(
            model=self.model_name,
            label_set=self.label_set,
            label=label,
            level=scale.level_for_label(self.label_set, label),
            label_probabilities={lb: round(float(p), 4) for lb, p in zip(self.labels, probs)},
            label_logits=[round(float(z), 4) for z in logits[0]],
            probabilities=levels,
            confidence=round(trust * max(levels.values()), 3),
            window_s=min(self.window_s, round(signal.duration_s, 2)),
        )


