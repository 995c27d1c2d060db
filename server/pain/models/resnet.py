"""ResNet-18 regressing PSPI from an aligned face crop (optionally also classifying the level).

The network is torchvision's ResNet-18 with its ImageNet head replaced by a
one-output regression head and, when asked, a second head over the four
PainScope levels. Weights are random unless a local file is given: nothing is
downloaded, and nothing here is a trained pain model until someone trains it
on licensed data (``python -m server.training.resnet``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

from server.pain import scale

ARCHITECTURE = "resnet18"
DEFAULT_IMAGE_SIZE = 160  # px; the default, enough for brow and lid detail at 2 threads
# Channel statistics of ImageNet, which torchvision's ResNet weights expect; a
# random start does not care, an --init from ImageNet weights does.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
FEATURE_WIDTH = 512  # ResNet-18's pooled feature size


class PspiResNet(nn.Module):
    """ResNet-18 trunk, a PSPI regression head and an optional level-classification head.

    ``forward`` returns ``(pspi, level_logits)``; ``level_logits`` has zero
    columns when there is no classification head, so the exported graph always
    has the same two outputs.
    """

    def __init__(self, classify: bool = False) -> None:
        super().__init__()
        trunk = torchvision.models.resnet18(weights=None)
        trunk.fc = nn.Identity()
        self.trunk = trunk
        self.regression = nn.Linear(FEATURE_WIDTH, 1)
        self.classifier = nn.Linear(FEATURE_WIDTH, len(scale.LEVELS)) if classify else None

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` N x 3 x H x W normalised -> (PSPI N, level logits N x L)."""
        features = self.trunk(images)
        pspi = self.regression(features).squeeze(1)
        if self.classifier is None:
            return pspi, features.new_zeros((features.shape[0], 0))
        return pspi, self.classifier(features)


def build(classify: bool = False, init: Path | None = None) -> PspiResNet:
    """A fresh network; ``init`` is a local torchvision ResNet-18 state dict for the trunk."""
    model = PspiResNet(classify)
    if init is not None:
        state = torch.load(init, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        trunk_state = {k: v for k, v in state.items() if k in model.trunk.state_dict()}
        if not trunk_state:
            raise ValueError(f"{init} holds no ResNet-18 weights (none of its keys match).")
        model.trunk.load_state_dict(trunk_state, strict=False)
    return model


def to_batch(crops: np.ndarray) -> np.ndarray:
    """uint8 crops N x H x W x 3 -> float32 N x 3 x H x W, normalised as the network expects."""
    x = crops.astype(np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
