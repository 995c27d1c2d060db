"""PSPI formula, level cut points, level probabilities and label-set mapping."""
import pytest

from server.pain import scale


def test_pspi_is_the_prkachin_solomon_sum():
    aus = {"AU4": 2.0, "AU6": 1.0, "AU7": 3.0, "AU9": 0.5, "AU10": 2.5, "AU43": 1.0}
    assert scale.pspi_from_action_units(aus) == 2.0 + 3.0 + 2.5 + 1.0


def test_pspi_never_leaves_0_to_16():
    top = {"AU4": 5, "AU6": 5, "AU7": 5, "AU9": 5, "AU10": 5, "AU43": 1}
    assert scale.pspi_from_action_units(top) == 16.0


@pytest.mark.parametrize(
    "pspi, level",
    [(0.0, "none"), (0.49, "none"), (0.5, "mild"), (5.49, "mild"), (5.5, "moderate"), (10.49, "moderate"),
     (10.5, "severe"), (16.0, "severe")],
)
def test_levels_follow_the_design_cut_points(pspi, level):
    assert scale.level_for_pspi(pspi) == level


def test_custom_thresholds_move_the_levels():
    assert scale.level_for_pspi(3.0, (1.0, 2.0, 4.0)) == "moderate"


def test_probabilities_sum_to_one_and_peak_at_the_estimated_level():
    probs = scale.level_probabilities(8.0, 1.0)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    assert max(probs, key=probs.get) == "moderate"


def test_more_uncertainty_spreads_the_probabilities():
    sure = scale.level_probabilities(8.0, 0.75)["moderate"]
    unsure = scale.level_probabilities(8.0, 4.0)["moderate"]
    assert sure > unsure


@pytest.mark.parametrize(
    "label_set, label, level",
    [("binary", "NO_PAIN", "none"), ("binary", "PAIN", "moderate"), ("biovid5", "PA4", "severe"),
     ("biovid4", "BL1", "none")],
)
def test_sequence_model_labels_map_to_levels(label_set, label, level):
    assert scale.level_for_label(label_set, label) == level


def test_unknown_label_is_an_error():
    with pytest.raises(ValueError):
        scale.level_for_label("binary", "MAYBE")


def test_a_relaxed_face_at_pspi_zero_reads_mostly_none_and_the_top_mostly_severe():
    for sigma in (0.75, 1.25, 2.0):
        assert scale.level_probabilities(0.0, sigma)["none"] > 0.5
        assert scale.level_probabilities(16.0, sigma)["severe"] > 0.5
