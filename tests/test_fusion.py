"""Fusion of estimators: weights, renormalisation when a part is silent, and what the response shows."""
import pytest

from server.pain.estimate import estimate_from_levels, estimate_from_pspi, make_estimate
from server.pain.fusion import fuse, parse_weights

NO_AUS = {"AU4": 0, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0}
STRONG = {"AU4": 4, "AU6": 3, "AU7": 4, "AU9": 1, "AU10": 3, "AU43": 0}


def test_equal_weights_average_probabilities_and_pspi():
    calm = make_estimate(NO_AUS, 1.0, "geometry", "calibration")
    pained = estimate_from_pspi(12.0, 1.0, 0.6, "resnet18", "r.pt")
    fused = fuse([(calm, 1.0), (pained, 1.0)])
    assert fused.pspi == pytest.approx((0.0 + 12.0) / 2, abs=0.01)
    for level in fused.probabilities:
        expected = (calm.probabilities[level] + pained.probabilities[level]) / 2
        assert fused.probabilities[level] == pytest.approx(expected, abs=1e-3)
    assert fused.confidence == pytest.approx((calm.confidence + 0.6) / 2, abs=1e-3)
    assert [p["weight"] for p in fused.parts] == [0.5, 0.5] and fused.parts[1]["model"] == "r.pt"


def test_a_heavier_part_pulls_the_pspi_and_level_its_way():
    calm = make_estimate(NO_AUS, 1.0, "geometry", "calibration")
    pained = make_estimate(STRONG, 1.0, "geometry", "calibration")
    assert calm.level == "none" and pained.level == "severe" and pained.pspi == 11.0
    mostly_calm, mostly_pained = fuse([(calm, 3.0), (pained, 1.0)]), fuse([(calm, 1.0), (pained, 3.0)])
    assert mostly_calm.pspi == pytest.approx(11.0 / 4, abs=0.01) and mostly_calm.level == "mild"
    assert mostly_pained.pspi == pytest.approx(11.0 * 3 / 4, abs=0.01) and mostly_pained.level == "moderate"
    assert fuse([(calm, 1.0)]).level == "none"  # one part alone keeps its own level


def test_a_part_without_pspi_shapes_the_level_but_not_the_pspi():
    sequence = estimate_from_levels({"none": 0.0, "mild": 0.0, "moderate": 1.0, "severe": 0.0}, 0.9, "lstm", "s.pt",
                                    label="PAIN", label_probabilities={"NO_PAIN": 0.0, "PAIN": 1.0})
    calm = make_estimate(NO_AUS, 1.0, "geometry", "calibration")
    fused = fuse([(calm, 1.0), (sequence, 2.0)])
    assert fused.pspi == calm.pspi and fused.level == "moderate"
    assert fused.action_units is None and fused.calibrated is None


def test_weights_are_read_from_the_setting_and_must_not_be_negative():
    assert parse_weights("geometry:0.8, resnet18:0.2") == {"geometry": 0.8, "resnet18": 0.2}
    with pytest.raises(ValueError):
        parse_weights("geometry:-1")
    with pytest.raises(ValueError):
        fuse([])
