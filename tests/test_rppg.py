"""Heart rate from skin colour: synthetic pulses are found, noise is not mistaken for one."""
import json
import subprocess
import sys

import numpy as np
import pytest

from server.vision.face import FaceTracker
from server.vitals import pulse_methods, region_fusion, rppg, rppg_tracker, spectrum
from server.vitals.skin import region_means
from tests import media
from tests.pulse import pulse_clip, skin_patch_clip
from tests.server_process import REPO_ROOT

TOLERANCE_BPM = 3.0


def _live_estimate(clip, method="pos"):
    """Feed a clip through face tracking, skin regions and the live tracker, as a stream does."""
    faces = FaceTracker(stream=True)
    tracker = rppg_tracker.RppgTracker(method)
    for t_s, frame in clip:
        found = faces.process(frame)
        if found:
            tracker.add(t_s, region_means(frame, found[0].landmarks))
    faces.close()
    return tracker.current()


@pytest.mark.parametrize("bpm", [50, 72, 110, 150])
def test_a_pulse_in_the_skin_is_measured_within_3_bpm(bpm):
    rate, waveform = _live_estimate(pulse_clip(bpm, seconds=12, seed=bpm))
    assert rate.bpm == pytest.approx(bpm, abs=TOLERANCE_BPM), rate
    assert rate.quality in ("high", "medium")
    assert waveform is not None and len(waveform) > 100


def test_a_clip_without_a_pulse_gives_no_heart_rate():
    rate, waveform = _live_estimate(pulse_clip(None, seconds=12, seed=7))
    assert rate.bpm is None or rate.quality == "low"
    assert waveform is None or rate.bpm is not None


def _trace(bpm, seconds, rng, amplitude=2.0, rate_hz=15.0):
    """A pulse of ``amplitude`` 8-bit levels on a 150-level skin, camera noise 1 level, uneven times."""
    t = np.sort(np.arange(0, seconds, 1 / rate_hz) + rng.uniform(-0.01, 0.01, int(np.ceil(seconds * rate_hz))))
    pulse = amplitude * np.sin(2 * np.pi * bpm / 60 * t)
    rgb = 150 + np.outer(pulse, [0.35, 1.0, 0.55]) + rng.normal(0, 1.0, (len(t), 3))
    return region_fusion.RegionTrace(t, rgb)


@pytest.mark.parametrize("method", pulse_methods.METHOD_NAMES)
def test_every_method_finds_a_clean_pulse_from_uneven_samples(method):
    rng = np.random.default_rng(3)
    rate = rppg.estimate([_trace(96, 10, rng)], method)
    assert rate.bpm == pytest.approx(96, abs=TOLERANCE_BPM)


def test_the_noise_floor_is_above_what_noise_alone_gives():
    rng = np.random.default_rng(11)
    snrs = []
    for trial in range(200):
        t = np.sort(np.arange(0, 10, 1 / 15) + rng.normal(0, 0.005, 150))
        noise = rng.normal(0, 1, (150, 3)) + (np.cumsum(rng.normal(0, 0.2, (150, 3)), axis=0) if trial % 2 else 0)
        fused = region_fusion.window_spectrum([region_fusion.RegionTrace(t, 150 + noise)], "pos")
        snrs.append(spectrum.spectral_peak(fused.freqs, fused.power)[1])
    assert np.percentile(snrs, 95) < spectrum.SNR_FLOOR_DB  # at most 1 in 20 noise windows even reads 'low'
    assert np.percentile(snrs, 99) < spectrum.SNR_MEDIUM_DB  # and hardly any reads 'medium'


def test_too_little_signal_or_too_much_motion_gives_null_with_a_reason():
    rng = np.random.default_rng(5)
    short = rppg.estimate([_trace(80, 4, rng)])
    assert short.bpm is None and "5 s" in short.reason
    moving = rppg.estimate([_trace(80, 10, rng)], motion_per_s=2.0)
    assert moving.bpm is None and moving.reason == "too much motion"


def test_regions_are_fused_by_quality():
    rng = np.random.default_rng(9)
    clean = _trace(70, 10, rng)
    noisy = region_fusion.RegionTrace(clean.t_s, 150 + rng.normal(0, 3.0, clean.rgb.shape))
    assert rppg.estimate([clean, noisy]).bpm == pytest.approx(70, abs=TOLERANCE_BPM)


def test_sliding_series_and_recording_estimate():
    rng = np.random.default_rng(13)
    trace = _trace(64, 30, rng)
    series = rppg.estimate_series([trace])
    assert len(series) >= 20
    assert all(rate.bpm == pytest.approx(64, abs=TOLERANCE_BPM) for _, rate in series)
    assert rppg.estimate_recording([trace]).bpm == pytest.approx(64, abs=TOLERANCE_BPM)


def test_command_line_on_a_pre_cropped_skin_clip(tmp_path):
    clip = tmp_path / "forehead.avi"
    clip.write_bytes(media.write_video(skin_patch_clip(84, seconds=20), fps=15, suffix=".avi", fourcc="MJPG"))
    out = subprocess.run(
        [sys.executable, "-m", "server.vitals.rppg", str(clip), "--roi", "full", "--method", "chrom", "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    )
    result = json.loads(out.stdout)
    assert result["heart_rate_bpm"] == pytest.approx(84, abs=TOLERANCE_BPM)
    assert result["quality"] in ("high", "medium")


def test_command_line_rejects_a_missing_file(tmp_path):
    out = subprocess.run([sys.executable, "-m", "server.vitals.rppg", str(tmp_path / "none.avi")],
                         cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "cannot be opened" in out.stderr


def test_the_tracker_restarts_after_the_face_was_lost_and_refuses_a_moving_face():
    rng = np.random.default_rng(21)
    trace = _trace(75, 8, rng)
    steady = rppg_tracker.RppgTracker()
    for t, rgb in zip(trace.t_s, trace.rgb):
        steady.add(t, {"cheek": rgb}, (100, 100, 200, 200))
    assert steady.current()[0].bpm == pytest.approx(75, abs=TOLERANCE_BPM)
    steady.add(trace.t_s[-1] + 2.0, {"cheek": trace.rgb[-1]}, (100, 100, 200, 200))  # seen again after 2 s
    assert len(steady) == 1
    moving = rppg_tracker.RppgTracker()
    for i, (t, rgb) in enumerate(zip(trace.t_s, trace.rgb)):
        moving.add(t, {"cheek": rgb}, (100 + (i % 2) * 100, 100, 200, 200))  # jumps half a face every frame
    assert moving.current()[0].reason == "too much motion"
