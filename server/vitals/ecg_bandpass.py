"""The ECG band-pass the learned ECG model reads through: baseline wander and muscle noise removed. NumPy + SciPy."""
from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

# 0.5 Hz removes breathing and electrode drift while keeping the ST segment
# (the monitoring-mode low cut-off of IEC 60601-2-27); 40 Hz keeps the QRS
# complex, whose energy lies under ~40 Hz (Pan & Tompkins 1985), and drops
# muscle noise and the 50/60 Hz mains.
LOW_HZ = 0.5
HIGH_HZ = 40.0
ORDER = 3  # Butterworth order per pass; run forwards and backwards (zero phase), so effectively 6


def bandpass(values: np.ndarray, rate_hz: float) -> np.ndarray:
    """Zero-phase Butterworth band-pass LOW_HZ-HIGH_HZ of an ECG at ``rate_hz`` (float64, same length).

    Below 2 x HIGH_HZ the upper edge is set just under the Nyquist frequency.
    """
    values = np.asarray(values, dtype=np.float64)
    nyquist = rate_hz / 2.0
    high = min(HIGH_HZ, 0.9 * nyquist)
    sos = butter(ORDER, [LOW_HZ / nyquist, high / nyquist], btype="bandpass", output="sos")
    return sosfiltfilt(sos, values)
