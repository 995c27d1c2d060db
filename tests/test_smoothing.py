"""A reading is the median of the last fraction of a second: a one-frame glitch never becomes a peak."""
from __future__ import annotations

from server.pain.estimate import make_estimate
from server.pain.smoothing import ReadingSmoother, smoother_for
from server.pain.facs.geometry import GeometryEstimator

CALM = {"AU4": 0.0, "AU6": 0.0, "AU7": 0.2, "AU9": 0.0, "AU10": 0.0, "AU43": 0.0}
GRIMACE = {"AU4": 3.0, "AU6": 2.0, "AU7": 3.0, "AU9": 1.0, "AU10": 2.0, "AU43": 0.0}


def _estimate(units):
    return make_estimate(units, 0.9, "geometry", "reference")


def _stream(units_per_sample, window_s=0.4, fps=5.0):
    smoother = ReadingSmoother(window_s)
    return [smoother.add(i / fps, _estimate(units)) for i, units in enumerate(units_per_sample)]


def test_one_glitched_sample_does_not_set_the_peak():
    readings = _stream([CALM] * 5 + [GRIMACE] + [CALM] * 5)
    assert max(r.pspi for r in readings) < 0.5
    assert {r.level for r in readings} == {"none"}


def test_a_held_grimace_reads_in_full_and_bars_agree_with_the_number():
    readings = _stream([CALM] * 5 + [GRIMACE] * 6)
    peak = max(readings, key=lambda r: r.pspi)
    assert peak.pspi == _estimate(GRIMACE).pspi and peak.level == _estimate(GRIMACE).level
    units = peak.action_units
    assert peak.pspi == units["AU4"] + max(units["AU6"], units["AU7"]) + max(units["AU9"], units["AU10"])


def test_a_cleared_smoother_starts_again_and_a_zero_window_changes_nothing():
    smoother = ReadingSmoother(0.4)
    smoother.add(0.0, _estimate(GRIMACE))
    smoother.clear()  # the face was lost
    assert smoother.add(0.2, _estimate(CALM)).pspi == _estimate(CALM).pspi
    assert ReadingSmoother(0.0).add(0.0, _estimate(GRIMACE)) == _estimate(GRIMACE)


def test_the_facs_estimator_smooths_by_its_head_and_others_do_not():
    estimator = GeometryEstimator()
    smoother = smoother_for(estimator)
    assert (smoother is None) == (estimator.head.smoothing_s == 0)
    assert smoother_for(object()) is None
