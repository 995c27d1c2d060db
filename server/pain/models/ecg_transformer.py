"""ECG Transformer: pain classes from a window of filtered ECG.

The ECG is resampled to ``INPUT_RATE_HZ``, standardised, cut into patches of
``PATCH_S`` seconds (each a token, a learned linear embedding plus a learned
position), read by a Transformer encoder and mean-pooled into logits over a
label set of :mod:`server.pain.scale`. This is the ECG half of the BioVid Part
A system the issue describes (fused 20 % with the ResNet-18 + GRU face model).
Nothing here is trained; a model is only a pain model once trained on licensed
data. The band-pass filtering is the caller's (the ECG readers in
:mod:`server.vitals`), so the network sees what the heuristic sees.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from server.pain.models import sequence

ARCHITECTURE = "ecg_transformer"
# 100 Hz keeps the QRS complex (its energy lies under ~40 Hz, Pan & Tompkins
# 1985) while a 5.5 s BioVid window (Walter et al. 2013) stays 550 samples.
INPUT_RATE_HZ = 100.0
DEFAULT_WINDOW_S = sequence.DEFAULT_WINDOW_S
PATCH_S = 0.25  # s per token: shorter than one beat at 200 bpm, so each token holds at most one R peak
MODEL_WIDTH = 64  # token width: small enough to train on a CPU in minutes
HEADS = 4
LAYERS = 2


def patches_for(window_s: float) -> int:
    """Tokens in a window of ``window_s`` seconds."""
    return max(1, int(round(window_s / PATCH_S)))


def patch_samples() -> int:
    """Samples per token at ``INPUT_RATE_HZ``."""
    return int(round(PATCH_S * INPUT_RATE_HZ))


def to_input(ecg: np.ndarray, rate_hz: float, window_s: float = DEFAULT_WINDOW_S) -> np.ndarray:
    """Filtered ECG at ``rate_hz`` -> float32 input of the network (the last ``window_s`` seconds).

    Resampled linearly to ``INPUT_RATE_HZ``, left-padded with zeros when short,
    standardised per window (electrode gain differs between recordings).
    """
    ecg = np.asarray(ecg, dtype=np.float64)
    if ecg.ndim != 1 or len(ecg) < 2 or rate_hz <= 0:
        raise ValueError("the ECG must be a 1-D signal of at least 2 samples at a positive rate")
    length = patches_for(window_s) * patch_samples()
    times = np.arange(len(ecg)) / rate_hz
    grid = np.arange(0.0, times[-1], 1.0 / INPUT_RATE_HZ)
    values = np.interp(grid, times, ecg)[-length:]
    values = (values - values.mean()) / max(float(values.std()), 1e-9)
    out = np.zeros(length, dtype=np.float32)
    out[length - len(values):] = values
    return out


class EcgTransformer(nn.Module):
    """Patch embedding, a Transformer encoder, mean pooling, a class head."""

    def __init__(self, classes: int, window_s: float = DEFAULT_WINDOW_S) -> None:
        super().__init__()
        self.tokens, self.patch = patches_for(window_s), patch_samples()
        self.embed = nn.Linear(self.patch, MODEL_WIDTH)
        self.position = nn.Parameter(torch.zeros(1, self.tokens, MODEL_WIDTH))
        layer = nn.TransformerEncoderLayer(
            MODEL_WIDTH, HEADS, dim_feedforward=2 * MODEL_WIDTH, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.head = nn.Linear(MODEL_WIDTH, classes)

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        """``ecg`` N x samples (:func:`to_input`) -> logits N x classes."""
        tokens = self.embed(ecg.reshape(ecg.shape[0], self.tokens, self.patch)) + self.position
        return self.head(self.encoder(tokens).mean(dim=1))


def build(label_set: str, window_s: float = DEFAULT_WINDOW_S) -> EcgTransformer:
    """A fresh (untrained) network for ``label_set``."""
    return EcgTransformer(len(sequence.label_names(label_set)), window_s)
