"""The LSTM family: pain classes from sequences of MediaPipe face landmarks.

Per frame, the landmarks are frontalised (head pose removed, unit face scale)
and turned into a feature vector: the 3D coordinates of a landmark subset, or
each landmark's distance to the nose tip. A window of such vectors, padded on
the left when it is short (the newest frame is always last) and masked, goes
through one of three networks:

- ``bi_lstm``: bidirectional LSTM, masked mean over time;
- ``attention_lstm``: bidirectional LSTM, learned attention over time;
- ``sta_lstm``: spatial attention over landmarks in each frame, then the LSTM
  with attention over time (spatio-temporal attention).

Each returns logits over a label set of :mod:`server.pain.scale`. Nothing here
is trained; ``python -m server.training.sequence`` trains on licensed data.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from server.pain import scale
from server.pain.face.landmarks import (
    ANCHORS,
    INNER_BROWS,
    LEFT_BROW_LOWER,
    LEFT_CHEEK,
    LEFT_EYE_CORNERS,
    LEFT_LID_PAIRS,
    NOSE_ALAE,
    RIGHT_BROW_LOWER,
    RIGHT_CHEEK,
    RIGHT_EYE_CORNERS,
    RIGHT_LID_PAIRS,
    SUBNASALE,
    UPPER_LIP_TOP,
    frontalise,
)
from server.vision.face import LANDMARK_COUNT

ARCHITECTURES = ("bi_lstm", "attention_lstm", "sta_lstm")
FEATURE_KINDS = ("coords", "distances")
NOSE_TIP = 1  # MediaPipe face mesh: pronasale, the reference point of "distances"


def _pain_subset() -> tuple[int, ...]:
    """The landmarks PSPI's action units move (those the geometry estimator reads) plus the rigid anchors."""
    lids = [i for pair in RIGHT_LID_PAIRS + LEFT_LID_PAIRS for i in pair]
    points = (
        RIGHT_BROW_LOWER + LEFT_BROW_LOWER + list(INNER_BROWS) + list(RIGHT_EYE_CORNERS) + list(LEFT_EYE_CORNERS)
        + lids + RIGHT_CHEEK + LEFT_CHEEK + NOSE_ALAE + UPPER_LIP_TOP + [SUBNASALE, NOSE_TIP] + ANCHORS
    )
    return tuple(sorted(set(points)))


LANDMARK_SUBSETS: dict[str, tuple[int, ...]] = {
    "all": tuple(range(LANDMARK_COUNT)),
    "pain": _pain_subset(),
}

# Window defaults: BioVid Heat Pain samples are 5.5 s long (Walter et al. 2013);
# 10 frames per second keeps the ~0.5 s onset of a grimace in several frames.
DEFAULT_WINDOW_S = 5.5
DEFAULT_FPS = 10.0
HIDDEN_SIZE = 64  # LSTM units per direction: enough for a few hundred inputs, quick on a CPU
ATTENTION_SIZE = 32
# Attention scores of padded steps are pushed to this before the softmax so
# they get (numerically) zero weight; -inf would give NaN for an all-padding row.
MASKED_SCORE = -1e4


@dataclass(frozen=True)
class FeatureSpec:
    """How landmarks become one frame's feature vector, and the window a model reads."""

    kind: str = "coords"
    subset: str = "pain"
    fps: float = DEFAULT_FPS
    window_frames: int = round(DEFAULT_WINDOW_S * DEFAULT_FPS)

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"feature kind must be one of {FEATURE_KINDS}, not {self.kind!r}")
        if self.subset not in LANDMARK_SUBSETS:
            raise ValueError(f"landmark subset must be one of {tuple(LANDMARK_SUBSETS)}, not {self.subset!r}")
        if self.fps <= 0 or self.window_frames < 2:
            raise ValueError("fps must be positive and the window at least 2 frames")

    @property
    def points(self) -> int:
        """Landmarks per frame."""
        return len(LANDMARK_SUBSETS[self.subset])

    @property
    def per_point(self) -> int:
        """Numbers per landmark (3 coordinates or 1 distance)."""
        return 3 if self.kind == "coords" else 1

    @property
    def width(self) -> int:
        """Length of one frame's feature vector."""
        return self.points * self.per_point

    def to_dict(self) -> dict:
        """JSON-ready form (stored in checkpoints)."""
        return asdict(self)


def frame_features(landmarks: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """One frame's feature vector (float32, ``spec.width``) from 478 x 3 pixel landmarks."""
    shape = frontalise(np.asarray(landmarks, dtype=np.float64))
    if spec.kind == "coords":
        values = shape[list(LANDMARK_SUBSETS[spec.subset])]
    else:
        values = np.linalg.norm(shape[list(LANDMARK_SUBSETS[spec.subset])] - shape[NOSE_TIP], axis=1)
    return values.astype(np.float32).reshape(-1)


def sequence_features(landmarks: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """T x 478 x 3 landmarks (NaN rows: no face) -> (T x width features, T mask of frames with a face)."""
    features = np.zeros((len(landmarks), spec.width), dtype=np.float32)
    mask = np.zeros(len(landmarks), dtype=np.float32)
    for i, points in enumerate(landmarks):
        if np.isfinite(points).all():
            features[i] = frame_features(points, spec)
            mask[i] = 1.0
    return features, mask


def fit_window(features: np.ndarray, mask: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``frames`` steps (of features, crops, ...), left-padded with zeros (mask 0) when shorter."""
    features, mask = features[-frames:], mask[-frames:]
    pad = frames - len(features)
    if pad > 0:
        features = np.concatenate([np.zeros((pad, *features.shape[1:]), features.dtype), features])
        mask = np.concatenate([np.zeros(pad, np.float32), mask])
    return features, mask


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.softmax(scores.masked_fill(mask <= 0, MASKED_SCORE), dim=1)


class _TemporalAttention(nn.Module):
    """Additive attention over time steps (Bahdanau-style scores), masked."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.project = nn.Linear(width, ATTENTION_SIZE)
        self.score = nn.Linear(ATTENTION_SIZE, 1, bias=False)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = _masked_softmax(self.score(torch.tanh(self.project(states))).squeeze(2), mask)
        return (states * weights.unsqueeze(2)).sum(dim=1)


class _SpatialAttention(nn.Module):
    """Per frame, a weight per landmark from the landmark's values and the frame's mean."""

    def __init__(self, per_point: int) -> None:
        super().__init__()
        self.project = nn.Linear(2 * per_point, ATTENTION_SIZE)
        self.score = nn.Linear(ATTENTION_SIZE, 1, bias=False)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        # points: N x T x P x D
        context = points.mean(dim=2, keepdim=True).expand_as(points)
        scores = self.score(torch.tanh(self.project(torch.cat([points, context], dim=3)))).squeeze(3)
        weights = torch.softmax(scores, dim=2)  # over landmarks
        # Scaled by P so that uniform attention leaves the inputs unchanged.
        return points * weights.unsqueeze(3) * points.shape[2]


class SequenceClassifier(nn.Module):
    """Normalise features, read the window with one of ARCHITECTURES, return class logits."""

    def __init__(self, arch: str, spec: FeatureSpec, classes: int, hidden: int = HIDDEN_SIZE) -> None:
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {arch!r}")
        self.arch = arch
        self.points, self.per_point = spec.points, spec.per_point
        # Training-set feature statistics, stored with the weights so inference normalises the same way.
        self.register_buffer("feature_mean", torch.zeros(spec.width))
        self.register_buffer("feature_std", torch.ones(spec.width))
        self.spatial = _SpatialAttention(spec.per_point) if arch == "sta_lstm" else None
        self.lstm = nn.LSTM(spec.width, hidden, batch_first=True, bidirectional=True)
        self.temporal = _TemporalAttention(2 * hidden) if arch != "bi_lstm" else None
        self.head = nn.Linear(2 * hidden, classes)

    def set_normalisation(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Store the training features' mean and standard deviation."""
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feature_std.copy_(torch.as_tensor(np.maximum(std, 1e-6), dtype=torch.float32))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``features`` N x T x F, ``mask`` N x T (1 = a frame with a face) -> logits N x classes."""
        x = (features - self.feature_mean) / self.feature_std * mask.unsqueeze(2)
        if self.spatial is not None:
            n, t = x.shape[0], x.shape[1]
            x = self.spatial(x.reshape(n, t, self.points, self.per_point)).reshape(n, t, -1)
        states, _ = self.lstm(x)
        if self.temporal is not None:
            pooled = self.temporal(states, mask)
        else:
            weights = mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
            pooled = (states * weights.unsqueeze(2)).sum(dim=1)
        return self.head(pooled)


# The label sets' classes and their levels live in scale.py (no torch); kept here under their old names.
label_names = scale.label_names
level_probabilities = scale.label_level_probabilities
