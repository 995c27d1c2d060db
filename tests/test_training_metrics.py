"""Evaluation figures checked against values worked out by hand."""
from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from server.training.metrics import (
    BACKGROUND,
    FULL_SHADE,
    classification_metrics,
    confusion_png,
    per_subject,
    regression_metrics,
)

# ---------------------------------------------------------------- regression


def test_perfect_prediction():
    m = regression_metrics([0, 2, 5, 9], [0, 2, 5, 9])
    assert m["n"] == 4
    assert m["mae"] == 0 and m["rmse"] == 0
    assert m["pearson_r"] == pytest.approx(1.0)
    assert m["icc_3_1"] == pytest.approx(1.0)


def test_constant_offset_is_consistent_but_biased():
    # ICC(3,1) measures consistency, so a constant offset costs nothing; MAE shows it.
    m = regression_metrics([0, 2, 5, 9], [1.5, 3.5, 6.5, 10.5])
    assert m["mae"] == pytest.approx(1.5)
    assert m["rmse"] == pytest.approx(1.5)
    assert m["pearson_r"] == pytest.approx(1.0)
    assert m["icc_3_1"] == pytest.approx(1.0)


def test_hand_worked_regression():
    # truth x = 1 2 3 4, prediction y = 2 2 4 3
    # |errors| = 1 0 1 1 -> MAE = 3/4; squared = 1 0 1 1 -> RMSE = sqrt(3/4)
    # deviations: x -1.5 -.5 .5 1.5 (sum sq 5), y -.75 -.75 1.25 .25 (sum sq 2.75),
    # cross products sum 2.5 -> r = 2.5 / sqrt(5 * 2.75)
    # ANOVA, n = 4 targets, k = 2 raters: row sums 3 4 7 7 (mean 5.25),
    # BMS = sum((row sum - 5.25)^2) / 2 / (n - 1) = 12.75 / 6 = 2.125
    # differences x - y = -1 0 -1 1 (mean -.25), sum sq about mean 2.75,
    # EMS = 2.75 / 2 / ((n - 1)(k - 1)) = 2.75 / 6
    # ICC(3,1) = (2.125 - 2.75/6) / (2.125 + 2.75/6) = 10/6 / (15.5/6) = 20/31
    m = regression_metrics([1, 2, 3, 4], [2, 2, 4, 3])
    assert m["mae"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(math.sqrt(0.75))
    assert m["pearson_r"] == pytest.approx(2.5 / math.sqrt(5 * 2.75))
    assert m["icc_3_1"] == pytest.approx(20 / 31)


def test_reversed_order_gives_negative_agreement():
    m = regression_metrics([1, 2, 3], [3, 2, 1])
    assert m["pearson_r"] == pytest.approx(-1.0)
    assert m["icc_3_1"] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "y_true, y_pred, expected",
    [
        ([], [], {"n": 0, "mae": None, "rmse": None, "pearson_r": None, "icc_3_1": None}),
        ([2.0], [3.0], {"n": 1, "mae": 1.0, "rmse": 1.0, "pearson_r": None, "icc_3_1": None}),
        ([0.1] * 3, [0.1] * 3, {"n": 3, "mae": 0.0, "rmse": 0.0, "pearson_r": None, "icc_3_1": None}),
    ],
)
def test_undefined_values_are_none(y_true, y_pred, expected):
    assert regression_metrics(y_true, y_pred) == expected


def test_one_constant_side_has_no_correlation_and_zero_icc():
    # r is 0/0; ICC(3,1) = 2 cov / (var x + var y) for two raters = 0 / positive = 0.
    m = regression_metrics([3, 3, 3], [1, 2, 3])
    assert m["pearson_r"] is None
    assert m["icc_3_1"] == pytest.approx(0.0)


def test_regression_input_errors():
    with pytest.raises(ValueError):
        regression_metrics([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        regression_metrics([1, float("nan")], [1, 2])


# ---------------------------------------------------------------- classification

# true: a a a a b b b c c c
# pred: a a b b b b c a a c
# confusion (rows true, cols predicted):
#        a  b  c
#   a  [ 2, 2, 0 ]
#   b  [ 0, 2, 1 ]
#   c  [ 2, 0, 1 ]
# accuracy = (2 + 2 + 1) / 10 = 0.5
# a: TP 2, FP 2, FN 2 -> P 1/2, R 1/2, F1 = 2*2 / (4 + 2 + 2) = 1/2
# b: TP 2, FP 2, FN 1 -> P 1/2, R 2/3, F1 = 4 / (4 + 2 + 1) = 4/7
# c: TP 1, FP 1, FN 2 -> P 1/2, R 1/3, F1 = 2 / (2 + 1 + 2) = 2/5
# macro-F1 = (1/2 + 4/7 + 2/5) / 3 = (35 + 40 + 28) / 70 / 3 = 103/210
TRUE = list("aaaabbbccc")
PRED = list("aabbbbcaac")


def test_hand_worked_three_class_confusion():
    m = classification_metrics(TRUE, PRED, ["a", "b", "c"])
    assert m["n"] == 10
    assert m["confusion"] == [[2, 2, 0], [0, 2, 1], [2, 0, 1]]
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx(103 / 210)
    assert m["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 2 / 3, "f1": 4 / 7, "support": 3})
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 5)
    assert m["labels"] == ["a", "b", "c"]


def test_absent_class_is_left_out_of_macro_f1():
    m = classification_metrics(TRUE, PRED, ["a", "b", "c", "d"])
    assert m["per_class"]["d"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert m["macro_f1"] == pytest.approx(103 / 210)
    assert m["confusion"][3] == [0, 0, 0, 0]


def test_class_never_predicted_scores_zero_f1():
    m = classification_metrics(["a", "b"], ["a", "a"], ["a", "b"])
    assert m["per_class"]["b"] == {"precision": None, "recall": 0.0, "f1": 0.0, "support": 1}
    # a: TP 1, FP 1, FN 0 -> F1 = 2 / 3; b: 0 -> macro (2/3 + 0) / 2
    assert m["macro_f1"] == pytest.approx(1 / 3)


def test_empty_and_invalid_classification_input():
    m = classification_metrics([], [], ["a", "b"])
    assert m["n"] == 0 and m["accuracy"] is None and m["macro_f1"] is None
    with pytest.raises(ValueError, match="'z'"):
        classification_metrics(["a"], ["z"], ["a", "b"])
    with pytest.raises(ValueError):
        classification_metrics(["a"], [], ["a"])


# ---------------------------------------------------------------- per subject


def test_per_subject_groups_items():
    result = per_subject(["s2", "s1", "s2", "s1"], [1, 2, 3, 4], [1, 2, 3, 5], "regression")
    assert list(result) == ["s1", "s2"]
    assert result["s1"]["mae"] == pytest.approx(0.5)
    assert result["s2"]["mae"] == 0
    cls = per_subject(["s1", "s1", "s2"], ["a", "b", "a"], ["a", "a", "a"], "classification", labels=["a", "b"])
    assert cls["s1"]["accuracy"] == 0.5 and cls["s2"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="labels"):
        per_subject(["s1"], ["a"], ["a"], "classification")
    with pytest.raises(ValueError, match="kind"):
        per_subject(["s1"], [1], [1], "ranking")


# ---------------------------------------------------------------- confusion image


def test_confusion_png_decodes_with_a_plausible_size():
    data = confusion_png([[2, 2, 0], [0, 2, 1], [2, 0, 1]], ["none", "moderate", "NO_PAIN"], "fold 1 of 5")
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    assert 150 < image.width < 1000 and 150 < image.height < 1000


def test_confusion_png_shades_cells_by_row_share():
    data = confusion_png([[5, 0], [0, 0]], ["BL1", "PA4"], "binary")
    image = Image.open(io.BytesIO(data)).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=image.width * image.height)}
    assert FULL_SHADE in colours  # the cell holding all of row BL1
    assert BACKGROUND in colours


def test_confusion_png_rejects_a_mismatched_matrix():
    with pytest.raises(ValueError):
        confusion_png([[1, 2], [3, 4]], ["a", "b", "c"], "bad")
