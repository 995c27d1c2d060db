"""The ECG arousal score: a heart-rate rise and an RMSSD fall against the baseline, each on a stated ramp."""
import numpy as np
import pytest

from server.pain.physiology.arousal import arousal_score, arousal_within, heart_rate_rise_score
from server.vitals.ecg import EcgAnalysis, SegmentStats


def _stretch(bpm: float, rmssd_ms: float | None) -> SegmentStats:
    return SegmentStats(0.0, 10.0, 10, heart_rate_bpm=bpm, rmssd_ms=rmssd_ms, sdnn_ms=40.0)


def test_no_change_scores_nothing_and_a_full_rise_with_a_full_fall_scores_one():
    assert arousal_score(_stretch(70, 40), _stretch(70, 40)) == 0.0
    assert arousal_score(_stretch(70, 40), _stretch(70 * 1.25, 40 * 0.2)) == pytest.approx(1.0)


def test_each_part_counts_half_and_small_changes_count_nothing():
    assert arousal_score(_stretch(70, 40), _stretch(70 * 1.25, 40)) == pytest.approx(0.5)  # the rate alone
    assert arousal_score(_stretch(70, 40), _stretch(70, 40 * 0.2)) == pytest.approx(0.5)  # the RMSSD alone
    assert arousal_score(_stretch(70, 40), _stretch(70 * 1.04, 40 * 0.7)) == 0.0  # within what chance does
    assert heart_rate_rise_score(70, 70 * 1.15) == pytest.approx(0.5)  # halfway up the 5-25 % ramp


def test_a_stretch_without_a_heart_rate_has_no_score():
    assert arousal_score(_stretch(70, 40), SegmentStats(10.0, 12.0, 2, None, None, None)) is None


def _steady_recording(bpm: float, seconds: float) -> EcgAnalysis:
    beats = np.arange(0.0, seconds, 60.0 / bpm)
    rr = np.diff(beats)
    valid = np.ones(len(rr), bool)
    overall = SegmentStats(0.0, seconds, len(rr), bpm, 0.0, 0.0)
    return EcgAnalysis(beats, rr, valid, seconds, 0.95, True, overall)


def test_a_recording_is_judged_against_its_first_seconds_only_when_it_is_longer():
    recording = _steady_recording(60, 30)
    steady = arousal_within(recording, 10)
    assert steady.score == 0.0 and steady.baseline.heart_rate_bpm == pytest.approx(60)
    too_short = arousal_within(recording, 30)
    assert too_short.score is None and "not longer than" in too_short.reason
