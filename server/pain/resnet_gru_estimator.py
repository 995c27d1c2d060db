"""The ``resnet_gru`` estimator: a pain class from the last seconds of aligned face crops, by a trained checkpoint."""
from __future__ import annotations

from typing import Any

import numpy as np

from server.pain.estimator import Observation
from server.pain.inference import Runner
from server.pain.resnet import to_batch
from server.pain.sequence_estimator import WindowClassifier
from server.vision.align import aligned_crop


class ResnetGruEstimator(WindowClassifier):
    """Class and level probabilities from a ResNet-18 + GRU checkpoint over its label set.

    The window is filled on the model's frame clock (5-10 frames/s, its
    checkpoint says which) with aligned crops of the patient's face, so a
    video, a live stream and the training tool all hand the network the same.
    """

    name = "resnet_gru"

    def __init__(self, runner: Runner, metadata: dict[str, Any], model_name: str) -> None:
        super().__init__(runner, metadata, model_name)
        self.image_size = int(metadata["input"]["image_size"])

    def frame_value(self, observation: Observation) -> np.ndarray:
        """The aligned ``image_size`` crop of the patient's face (uint8, H x W x 3)."""
        return aligned_crop(observation.rgb, observation.face.landmarks, self.image_size)

    def inputs(self, values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """Crops T x H x W x 3 -> normalised frames 1 x T x 3 x H x W, and the mask 1 x T."""
        frames = to_batch(values).reshape(1, len(values), 3, self.image_size, self.image_size)
        return frames, mask[None]
