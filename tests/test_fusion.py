"""Fusion of estimators: weights, renormalisation when a part is silent, and what the response shows."""
import numpy as np
import pytest

from server.config import Settings
from server.pain import scale
from server.pain.estimate import estimate_from_levels, estimate_from_pspi, make_estimate
from server.pain.physiology.ecg_reading import EcgModelReading, ModelPhysiology, with_reading
from server.pain.estimate import PainEstimate
from server.pain.physiology.fusion import FusionEstimator, add_physiology, fuse, parse_weights
from server.pain.physiology.physiology import (
    Physiology,
    RestingHeartRate,
    VideoHeartRate,
    from_camera,
    from_ecg,
)
from server.vitals.vital_signs import TimedVitals, Vitals
from tests import synthetic
from tests.conftest import authed_client, create_test_app, live_call, multipart
from tests.jobs import post_job

NO_AUS = {"AU4": 0, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0}
STRONG = {"AU4": 4, "AU6": 3, "AU7": 4, "AU9": 1, "AU10": 3, "AU43": 0}
MILD_AUS = {"AU4": 1, "AU6": 1, "AU7": 0, "AU9": 0, "AU10": 1, "AU43": 0}


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
    alone = fuse([(calm, 1.0)])  # one part alone keeps its own level, action units and baseline
    assert alone.level == "none" and alone.action_units == calm.action_units and alone.baseline == "calibration"


def test_a_part_without_pspi_shapes_the_level_but_not_the_pspi():
    sequence = estimate_from_levels({"none": 0.0, "mild": 0.0, "moderate": 1.0, "severe": 0.0}, 0.9, "lstm", "s.pt",
                                    label="PAIN", label_probabilities={"NO_PAIN": 0.0, "PAIN": 1.0})
    calm = make_estimate(NO_AUS, 1.0, "geometry", "calibration")
    fused = fuse([(calm, 1.0), (sequence, 2.0)])
    assert fused.pspi == calm.pspi and fused.level == "moderate"
    assert fused.action_units is None and fused.calibrated is None


def _window_estimate(estimator: str, logits: list[float]) -> PainEstimate:
    probs = scale.softmax(logits)
    return estimate_from_levels(scale.label_level_probabilities("binary", probs), 0.8, estimator, f"{estimator}.pt",
                                label=["NO_PAIN", "PAIN"][int(np.argmax(probs))],
                                label_probabilities=dict(zip(["NO_PAIN", "PAIN"], probs)), label_logits=logits)


def _ecg_physiology(logits: list[float], label_set: str = "binary") -> ModelPhysiology:
    labels = scale.label_names(label_set)
    probs = scale.softmax(logits)
    reading = EcgModelReading(
        model="ecg.pt", label_set=label_set, label=labels[int(np.argmax(probs))], level="moderate",
        label_probabilities=dict(zip(labels, probs)), label_logits=logits,
        probabilities=scale.label_level_probabilities(label_set, probs), confidence=0.9, window_s=5.5,
    )
    heuristic = Physiology("ecg", 1.0, 110.0, 60.0, 0.9, "test")  # full arousal: would pull hard if it were used
    return with_reading(heuristic, reading)


def test_the_ecg_model_logits_join_the_face_model_logits_80_20():
    face = fuse([(_window_estimate("resnet_gru", [2.0, -1.0]), 1.0)])  # the face model alone says NO_PAIN
    fusion = FusionEstimator([], scale.DEFAULT_THRESHOLDS, physiology_weight=0.2, ecg_model_weight=0.2)
    fused = fusion.with_physiology(face, _ecg_physiology([-4.0, 6.0]))
    expected = scale.softmax(0.8 * np.array([2.0, -1.0]) + 0.2 * np.array([-4.0, 6.0]))
    assert fused.label_logits == pytest.approx([0.8, 0.4], abs=1e-4)
    assert fused.label_probabilities["PAIN"] == pytest.approx(expected[1], abs=1e-4) and fused.label == "NO_PAIN"
    parts = {p["estimator"]: p for p in fused.parts}
    assert parts["resnet_gru"]["weight"] == 0.8 and parts["resnet_gru"]["label"] == "NO_PAIN"
    assert parts["ecg_transformer"]["weight"] == 0.2 and parts["ecg_transformer"]["label"] == "PAIN"
    assert parts["heart_rate"]["weight"] == 0.0 and "ECG Transformer" in parts["heart_rate"]["reason"]
    stronger = FusionEstimator([], scale.DEFAULT_THRESHOLDS, ecg_model_weight=0.5).with_physiology(
        face, _ecg_physiology([-4.0, 6.0]))
    assert stronger.label == "PAIN" and stronger.level == "moderate"  # binary PAIN is moderate (scale.py)


def test_the_ecg_model_takes_only_the_face_models_share_and_needs_its_label_set():
    calm = make_estimate(NO_AUS, 1.0, "geometry", "calibration")
    face = fuse([(calm, 1.0), (_window_estimate("resnet_gru", [0.0, 0.0]), 1.0)])
    fusion = FusionEstimator([], scale.DEFAULT_THRESHOLDS, physiology_weight=0.2, ecg_model_weight=0.2)
    fused = fusion.with_physiology(face, _ecg_physiology([-10.0, 10.0]))
    weights = {p["estimator"]: p["weight"] for p in fused.parts}
    assert weights == {"geometry": 0.5, "resnet_gru": 0.4, "ecg_transformer": 0.1, "heart_rate": 0.0}
    pain_share = scale.softmax(0.8 * np.zeros(2) + 0.2 * np.array([-10.0, 10.0]))[1]
    assert fused.probabilities["moderate"] == pytest.approx(0.5 * pain_share, abs=1e-3)
    other_set = fusion.with_physiology(face, _ecg_physiology([0.0, 0.0, 0.0, 5.0], "biovid4"))
    assert "ecg_transformer" not in {p["estimator"] for p in other_set.parts}  # the heuristic pull instead
    assert {p["estimator"]: p["weight"] for p in other_set.parts}["heart_rate"] == 0.2


def test_weights_are_read_from_the_setting_and_must_not_be_negative():
    assert parse_weights("geometry:0.8, resnet18:0.2") == {"geometry": 0.8, "resnet18": 0.2}
    with pytest.raises(ValueError):
        parse_weights("geometry:-1")
    with pytest.raises(ValueError):
        fuse([])


# ---------------------------------------------------------------- physiology (heart rate) in fusion

def _camera(bpm: float, resting: float | None, quality: str = "high", snr_db: float = 6.0):
    return from_camera(Vitals(heart_rate_bpm=bpm, quality=quality, snr_db=snr_db), resting)


@pytest.mark.parametrize("aus", [NO_AUS, MILD_AUS, STRONG])
def test_with_the_heart_rate_at_rest_the_fused_level_is_the_faces(aus):
    face = fuse([(make_estimate(aus, 0.9, "geometry", "calibration"), 1.0)])
    fused = add_physiology(face, _camera(72, 72), 0.2)
    assert fused.level == face.level and fused.pspi == face.pspi and fused.face_level == face.level
    assert fused.probabilities == pytest.approx(face.probabilities, abs=1e-4)
    heart = fused.parts[-1]
    assert heart["estimator"] == "heart_rate" and heart["weight"] == 0.2 and heart["arousal"] == 0.0
    assert [p["weight"] for p in fused.parts] == [0.8, 0.2]


def test_a_heart_rate_below_the_resting_rate_does_not_lower_the_level():
    face = fuse([(make_estimate(MILD_AUS, 0.9, "geometry", "calibration"), 1.0)])
    assert add_physiology(face, _camera(55, 72), 0.2).pspi == face.pspi


@pytest.mark.parametrize("weight", [0.1, 0.2, 0.5])
@pytest.mark.parametrize("bpm", [78, 85, 100, 140])
def test_a_raised_heart_rate_moves_the_level_up_no_further_than_its_weight_allows(weight, bpm):
    face = fuse([(make_estimate(MILD_AUS, 0.9, "geometry", "calibration"), 1.0)])
    fused = add_physiology(face, _camera(bpm, 72), weight)
    arousal = fused.parts[-1]["arousal"]
    assert arousal > 0
    assert face.pspi < fused.pspi <= face.pspi + weight * (16 - face.pspi) + 1e-6
    assert fused.pspi == pytest.approx(face.pspi + weight * arousal * (16 - face.pspi), abs=0.01)
    assert scale.LEVELS.index(fused.level) >= scale.LEVELS.index(face.level)
    assert fused.probabilities["severe"] > face.probabilities["severe"]
    assert fused.parts[-1]["pspi_shift"] == pytest.approx(fused.pspi - face.pspi, abs=0.01)


def test_more_arousal_moves_further():
    face = fuse([(make_estimate(NO_AUS, 0.9, "geometry", "calibration"), 1.0)])
    shifts = [add_physiology(face, _camera(bpm, 70), 0.2).pspi for bpm in (70, 77, 80, 84, 88, 120)]
    assert shifts == sorted(shifts) and shifts[0] == face.pspi and shifts[-1] == pytest.approx(0.2 * 16, abs=0.01)


def test_a_sequence_face_without_pspi_is_moved_through_its_level_probabilities():
    sequence = estimate_from_levels({"none": 0.05, "mild": 0.5, "moderate": 0.4, "severe": 0.05}, 0.9, "lstm", "s.pt")
    at_rest = add_physiology(sequence, _camera(70, 70), 0.2)
    raised = add_physiology(sequence, _camera(120, 70), 0.2)
    assert at_rest.level == sequence.level == "mild" and at_rest.pspi is None
    assert raised.level == "moderate" and raised.probabilities["severe"] == pytest.approx(0.05 * 0.8 + 0.2, abs=1e-3)


@pytest.mark.parametrize("physiology, reason", [
    (None, "no heart rate"),
    (_camera(90, None), "resting"),
    (_camera(90, 70, quality="low"), "low quality"),
    (from_camera(Vitals(reason="under 5 s of signal"), 70), "under 5 s"),
])
def test_without_a_usable_heart_rate_the_face_stands_and_the_part_says_why(physiology, reason):
    face = fuse([(make_estimate(MILD_AUS, 0.9, "geometry", "calibration"), 1.0)])
    fused = add_physiology(face, physiology, 0.2)
    assert fused.pspi == face.pspi and fused.level == face.level and fused.confidence == face.confidence
    heart = fused.parts[-1]
    assert heart["weight"] == 0.0 and reason in heart["reason"] and fused.parts[0]["weight"] == 1.0


def test_an_ecg_report_gives_its_arousal_score_and_quality():
    from server.assess.ecg_report import analyze_ecg
    from tests.test_ecg import simulated, time_ecg_csv

    calm, fast = simulated(65, seconds=30), simulated(95, seconds=30, seed=2)
    report = analyze_ecg(time_ecg_csv(np.concatenate([calm, fast])), baseline_seconds=25)
    physiology = from_ecg(report.arousal, report.analysis)
    assert physiology.source == "ecg" and physiology.arousal == report.arousal.score >= 0.5
    assert physiology.baseline_bpm == pytest.approx(65, abs=3) and physiology.heart_rate_bpm > 85
    assert 0.5 < physiology.confidence <= 1.0


def test_the_resting_rate_is_the_median_of_the_first_seconds_or_the_calibrated_reading():
    resting = RestingHeartRate(seconds=20)
    for t, bpm in [(10, 70), (12, 74), (15, 72), (20, 150), (29, 71), (31, 200), (40, 100)]:
        resting.add(t, Vitals(heart_rate_bpm=bpm, quality="high"))
        if t < 30:
            assert resting.bpm is None and "learning" in resting.waiting()
    assert resting.bpm == 72  # median of 70, 74, 72, 150, 71: one bad reading does not move it
    resting.add(35, Vitals(heart_rate_bpm=60, quality="low"))
    resting.calibrate(Vitals(heart_rate_bpm=66, quality="medium"))
    assert resting.bpm == 66
    resting.calibrate(Vitals())  # nothing measured: learn again
    assert resting.bpm is None


def test_a_video_is_judged_against_its_own_first_windows():
    series = tuple(TimedVitals(float(t), Vitals(heart_rate_bpm=bpm, quality="high", snr_db=5.0))
                   for t, bpm in [(10, 70), (11, 70), (12, 71), (13, 95), (14, 96)])
    heart = VideoHeartRate(Vitals(series=series), resting_seconds=2)
    assert heart.at(5.0).arousal is None and "no heart-rate window" in heart.at(5.0).reason
    assert heart.at(11.0).arousal == 0.0 and heart.at(14.0).arousal > 0.5


# ---------------------------------------------------------------- through the API and the live stream

def _post(client, url, **fields):
    response = post_job(client, url, data=multipart(**fields), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ecg(*stretches: tuple[float, float]) -> bytes:
    """A ``time,ecg`` CSV of simulated ECG stretches (bpm, seconds) one after another."""
    from tests.test_ecg import simulated, time_ecg_csv

    return time_ecg_csv(np.concatenate([simulated(bpm, seconds=s, seed=i + 1) for i, (bpm, s) in enumerate(stretches)]))


def test_a_photo_with_an_ecg_at_rest_keeps_the_faces_level_and_a_racing_heart_raises_it(client):
    photo = synthetic.encode(synthetic.astronaut_face())
    face = _post(client, "/api/v1/analyze/image?estimator=geometry", image=photo)["pain"]
    calm = _post(client, "/api/v1/analyze/image?estimator=fusion", image=photo, ecg=_ecg((65, 40)),
                 ecg_baseline_seconds="15")
    racing = _post(client, "/api/v1/analyze/image?estimator=fusion", image=photo, ecg=_ecg((65, 20), (100, 20)),
                   ecg_baseline_seconds="15")
    assert face["level"] == "none"
    assert calm["pain"]["level"] == face["level"] and calm["pain"]["pspi"] == face["pspi"]
    assert calm["ecg"]["vitals"]["heart_rate_bpm"] == pytest.approx(65, abs=2)
    heart = racing["pain"]["parts"][-1]
    assert heart["source"] == "ecg" and heart["weight"] == 0.2 and heart["arousal"] >= 0.5
    assert racing["pain"]["parts"][0] == {**racing["pain"]["parts"][0], "estimator": "geometry", "weight": 0.8}
    assert face["pspi"] < racing["pain"]["pspi"] <= face["pspi"] + 0.2 * 16
    assert racing["pain"]["level"] == "mild" and racing["pain"]["face_level"] == "none"
    assert racing["speech"]["text"] == "Mild pain; heart rate raised. Not calibrated."
    # Another estimator reports the ECG but does not fuse it.
    plain = _post(client, "/api/v1/analyze/image?estimator=geometry", image=photo, ecg=_ecg((65, 20), (100, 20)))
    assert plain["pain"]["level"] == "none" and plain["ecg"]["arousal"]["score"] >= 0.5


def test_a_bad_ecg_with_a_photo_gets_the_ecg_error_and_nothing_else(client):
    response = client.post("/api/v1/analyze/image?estimator=fusion", content_type="multipart/form-data",
                           data=multipart(image=synthetic.encode(synthetic.astronaut_face()), ecg=b"no numbers here\n"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_ecg_file"


def test_a_video_whose_pulse_quickens_is_fused_against_its_own_resting_rate():
    from tests import media
    from tests.pulse import pulse_clip

    client = authed_client(create_test_app(Settings(resting_heart_rate_seconds=3.0)))
    clip = pulse_clip(66, seconds=10, seed=5) + pulse_clip(102, seconds=12, seed=6)
    body = _post(client, "/api/v1/analyze/video?estimator=fusion", video=media.write_video([f for _, f in clip], fps=30))
    timeline = body["timeline"]
    # At rest the heart rate raises nothing. Single samples of the still synthetic face can read mild on their
    # own (mouthUpperUp's fitted dead zone is ~0: docs/validation.md "Limitations"), never for a second.
    early = [entry["level"] for entry in timeline if entry["t_s"] < 12]
    assert set(early) <= {"none", "mild"} and early.count("mild") <= len(early) // 10
    assert timeline[-1]["level"] == "mild"
    heart = body["peak"]["pain"]["parts"][-1]
    assert heart["source"] == "rppg" and heart["baseline_bpm"] == pytest.approx(66, abs=4)
    assert heart["heart_rate_bpm"] == pytest.approx(102, abs=4) and heart["arousal"] == 1.0
    # "heart rate raised" is said only where the face alone reads none; the still synthetic face's peak sample
    # may itself read mild by mouthUpperUp's noise (see above), and then the level is the face's own.
    assert body["speech"]["text"].startswith("Mild pain")


def test_a_live_stream_with_fusion_rises_when_the_pulse_quickens_after_calibration(live):
    from tests.pulse import pulse_clip

    assert live_call(live, "start", {"estimator": "fusion"})["ok"] is True
    acks = []
    seq = 0
    for offset, (bpm, seconds, seed) in zip((0.0, 12.0), ((66, 12, 7), (102, 12, 8))):
        for t_s, frame in pulse_clip(bpm, seconds=seconds, seed=seed)[::2]:  # 15 fps, as the page sends
            ack = live_call(live, "frame", {"seq": seq, "t_ms": (offset + t_s) * 1000,
                                            "jpeg": synthetic.encode(frame, quality=90)})
            acks.append(ack)
            seq += 1
        if offset == 0.0:
            assert acks[-1]["pain"]["parts"][-1]["weight"] == 0.0  # no resting rate yet: the face alone
            assert live_call(live, "calibrate", {})["ok"] is True
            rested = {"seq": seq, "t_ms": 12_000, "jpeg": synthetic.encode(frame, quality=90)}
            at_rest = live_call(live, "frame", rested)
            seq += 1
            assert at_rest["pain"]["level"] == "none" and at_rest["pain"]["parts"][-1]["arousal"] == 0.0
    last = acks[-1]
    heart = last["pain"]["parts"][-1]
    assert heart["source"] == "rppg" and heart["baseline_bpm"] == pytest.approx(66, abs=4)
    assert heart["arousal"] == 1.0 and last["pain"]["level"] == "mild" and last["pain"]["face_level"] == "none"
    assert last["speech"]["text"].startswith("Mild pain; heart rate raised.")


def test_the_heart_rate_s_reason_in_the_parts_is_said_in_the_result_s_language():
    """docs/deployment.md "Languages": a fused estimate's heart-rate reason is English in the analysis and said
    again by localized() with the phrase; English stays as it was."""
    from server.assess.localized import localized
    from server.pain.result import Result

    face = make_estimate(MILD_AUS, 1.0, "geometry", "calibration")
    fused = add_physiology(face, None, 0.2)
    assert fused.parts[-1]["reason"] == "no heart rate was given"
    result = Result(None, (), fused, "Mild pain.", {})
    assert localized(result, "en") is result
    french = localized(result, "fr")
    assert french.pain.parts[-1]["reason"] == "aucune fréquence cardiaque n'a été fournie"
    assert french.pain.parts[:-1] == fused.parts[:-1] and french.pain.pspi == fused.pspi
    assert result.pain.parts[-1]["reason"] == "no heart rate was given"  # the original is left as it was
