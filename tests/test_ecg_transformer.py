"""The ECG Transformer: its input, and that it learns a label carried by the heart rate of simulated ECG."""
from __future__ import annotations

import numpy as np
import torch

from server.pain.models import ecg_transformer, sequence

RATE_HZ = 250.0  # a common ECG recorder rate, resampled by to_input
SLOW_BPM, FAST_BPM = 60.0, 100.0  # label 0 / label 1 of the simulated recordings


def _ecg(bpm: float, rng: np.random.Generator, seconds: float = 6.0) -> np.ndarray:
    """A simulated ECG: narrow Gaussian R peaks at ``bpm`` with beat jitter and noise."""
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    beats = np.cumsum(60.0 / bpm * (1 + 0.03 * rng.standard_normal(int(seconds * bpm / 60) + 2)))
    beats -= rng.uniform(0, 60.0 / bpm)
    signal = sum(np.exp(-((t - b) ** 2) / (2 * 0.012**2)) for b in beats)
    return signal * rng.uniform(0.5, 2.0) + 0.05 * rng.standard_normal(len(t))


def test_input_is_the_standardised_last_window_at_the_model_rate():
    x = ecg_transformer.to_input(_ecg(70, np.random.default_rng(0)), RATE_HZ)
    tokens = ecg_transformer.patches_for(ecg_transformer.DEFAULT_WINDOW_S)
    assert x.shape == (tokens * ecg_transformer.patch_samples(),)
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1.0) < 1e-3
    short = ecg_transformer.to_input(_ecg(70, np.random.default_rng(0), seconds=2.0), RATE_HZ)
    assert short.shape == x.shape and np.all(short[:100] == 0)  # left-padded: the newest sample last


def test_learns_a_label_carried_by_the_heart_rate():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 24)
    x = np.stack([ecg_transformer.to_input(_ecg(FAST_BPM if y else SLOW_BPM, rng), RATE_HZ) for y in labels])
    model = ecg_transformer.build("binary")
    assert len(sequence.label_names("binary")) == 2
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(labels)
    for _ in range(60):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        optimiser.step()
    model.eval()
    held_out = np.array([0, 1] * 10)
    test_x = np.stack([ecg_transformer.to_input(_ecg(FAST_BPM if y else SLOW_BPM, rng), RATE_HZ) for y in held_out])
    with torch.no_grad():
        predicted = model(torch.from_numpy(test_x)).argmax(dim=1).numpy()
    assert (predicted == held_out).mean() >= 0.8
