"""The ``resnet_gru`` estimator: a pain class from the last seconds of aligned face crops, by a trained checkpoint."""
from __future__ import annotations

from typing import Any

import numpy as np

from server.pain.estimator import Observation
from server.pain.models.inference import SplitRunner
from server.pain.models.resnet import to_batch
from server.pain.models.sequence_estimator import WindowClassifier, WindowTrack
from server.vision.align import aligned_crop


class ResnetGruEstimator(WindowClassifier):
    """Class and level probabilities from a ResNet-18 + GRU checkpoint over its label set.

    The window is filled on the model's frame clock (5-10 frames/s, its
    checkpoint says which) with aligned crops of the patient's face, so a
    video, a live stream and the training tool all hand the network the same.
    Each crop goes through ResNet-18 once, when a window first holds it, and
    its features stay in the stream's track; judging a window runs only the
    GRU + head over them (the network's two served parts, :class:`SplitRunner`).
    """

    name = "resnet_gru"

    def __init__(self, runner: SplitRunner, metadata: dict[str, Any], model_name: str) -> None:
        super().__init__(runner.head, metadata, model_name)
        self.features = runner.features
        self.image_size = int(metadata["input"]["image_size"])

    def frame_value(self, observation: Observation) -> np.ndarray:
        """The aligned ``image_size`` crop of the patient's face (uint8, H x W x 3)."""
        return aligned_crop(observation.rgb, observation.face.landmarks, self.image_size)

    def encode(self, crops: np.ndarray) -> np.ndarray:
        """Crops N x H x W x 3 -> their ResNet-18 features N x 512 (what the window head reads)."""
        (features,) = self.features(to_batch(crops))
        return features

    def track(self) -> WindowTrack:
        """Per-stream state: the window of crops' ResNet-18 features."""
        return WindowTrack(self.fps, self.window_frames, self.frame_value, self.encode)
