"""The FACS-geometry estimator on the astronaut face warped into known expressions."""
import numpy as np
import pytest

from server.pain.face.baseline import POPULATION_BASELINE, RollingBaseline, baseline_from_faces
from server.pain.facs.geometry import GeometryEstimator
from server.vision.face import FaceTracker
from tests import synthetic

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Other AUs wobble while one warp grows (the fitted blendshape AU10 reads mouthUpperUp from ~0: its
# dead zone is the calm faces' 90th percentile of the development set): a PSPI may dip by this much.
PSPI_WOBBLE = 0.25
# Which AU each synthetic movement must raise.
MATCHING_AU = {"brow_lower": "AU4", "eye_narrow": "AU7", "eye_close": "AU43", "lip_raise": "AU10"}


@pytest.fixture(scope="module")
def tracker():
    return FaceTracker()


@pytest.fixture(scope="module")
def estimator():
    return GeometryEstimator()


@pytest.fixture(scope="module")
def neutral(tracker):
    return baseline_from_faces(tracker.process(synthetic.astronaut_face()), "reference")


def _estimate(tracker, estimator, image, baseline):
    faces = tracker.process(image)
    assert faces, "Face Mesh lost the face"
    return estimator.estimate(faces[0], baseline)


def test_neutral_face_against_itself_is_no_pain(tracker, estimator, neutral):
    result = _estimate(tracker, estimator, synthetic.astronaut_face(), neutral)
    assert result.level == "none"
    assert result.pspi == 0.0
    assert result.calibrated is True


@pytest.mark.parametrize("movement", list(MATCHING_AU))
def test_each_warp_raises_its_au_and_pspi_monotonically(tracker, estimator, neutral, movement):
    au = MATCHING_AU[movement]
    results = [_estimate(tracker, estimator, synthetic.expression(movement, s), neutral) for s in STRENGTHS]
    au_values = [r.action_units[au] for r in results]
    pspis = [r.pspi for r in results]
    assert all(b >= a for a, b in zip(au_values, au_values[1:])), f"{au} not monotonic: {au_values}"
    assert all(b >= a - PSPI_WOBBLE for a, b in zip(pspis, pspis[1:])), f"PSPI not monotonic: {pspis}"
    assert au_values[-1] > au_values[0], f"{movement} did not raise {au}: {au_values}"
    assert pspis[-1] >= 1.0, f"the strongest {movement} should read as pain: {pspis}"


def test_a_combined_grimace_reads_moderate_or_worse(tracker, estimator, neutral):
    result = _estimate(tracker, estimator, synthetic.grimace(1.0), neutral)
    assert result.level in ("moderate", "severe"), result


@pytest.mark.parametrize("degrees", [-10, 10])
def test_head_roll_alone_reads_no_pain(tracker, estimator, neutral, degrees):
    result = _estimate(tracker, estimator, synthetic.rotated(synthetic.astronaut_face(), degrees), neutral)
    assert result.level == "none", result


@pytest.mark.parametrize("degrees", [-15, 15])
def test_a_strong_head_roll_reads_mild_at_most(tracker, estimator, neutral, degrees):
    # Measured with the fitted head: -15 deg reads 1.16 (mouthUpperUp rises as the head rolls), +15 deg 0.22.
    # A noise floor on that blendshape's dead zone would hold it under 1 but lowers the development set's
    # Spearman from 0.625 to 0.602 (docs/validation.md "Limitations"), so the fitted dead zone stands.
    result = _estimate(tracker, estimator, synthetic.rotated(synthetic.astronaut_face(), degrees), neutral)
    assert result.pspi <= 1.5, result


def test_without_a_reference_the_estimate_is_uncalibrated_and_less_confident(tracker, estimator, neutral):
    face = tracker.process(synthetic.grimace(1.0))[0]
    own = estimator.estimate(face, neutral)
    population = estimator.estimate(face, POPULATION_BASELINE)
    assert population.calibrated is False and population.baseline == "population"
    assert population.confidence < own.confidence


def test_confidence_falls_with_image_quality(tracker, estimator, neutral):
    sharp = tracker.process(synthetic.astronaut_face())[0]
    blurred_image = synthetic.blurred(synthetic.astronaut_face(), 9)
    blurred = tracker.process(blurred_image)[0]
    assert blurred.quality < sharp.quality
    assert estimator.estimate(blurred, neutral).confidence < estimator.estimate(sharp, neutral).confidence


def test_several_references_are_averaged_and_their_disagreement_lowers_confidence(tracker, estimator):
    same = [tracker.process(synthetic.astronaut_face())[0]] * 2
    mixed = same[:1] + tracker.process(synthetic.grimace(1.0))
    agree = baseline_from_faces(same, "reference")
    disagree = baseline_from_faces(mixed, "reference")
    assert agree.spread == pytest.approx(0.0, abs=1e-9) and disagree.spread > 0.01
    face = tracker.process(synthetic.astronaut_face())[0]
    assert estimator.estimate(face, disagree).confidence < estimator.estimate(face, agree).confidence


def test_rolling_baseline_learns_the_neutral_face_from_a_mostly_relaxed_stream(tracker, estimator):
    neutral_features = estimator.features(tracker.process(synthetic.astronaut_face())[0])
    pain_features = estimator.features(tracker.process(synthetic.grimace(1.0))[0])
    rolling = RollingBaseline(window_s=60.0)
    for i in range(40):  # 4 s at 10 fps, pain in 3 of every 10 frames
        rolling.add(i / 10, pain_features if i % 10 >= 7 else neutral_features)
    learned = rolling.current()
    assert learned is not None and learned.kind == "rolling"
    assert np.allclose(learned.features, neutral_features)


def test_rolling_baseline_needs_a_few_seconds_first():
    rolling = RollingBaseline(window_s=60.0)
    for i in range(10):
        rolling.add(i / 10, np.ones(7))
    assert rolling.current() is None
