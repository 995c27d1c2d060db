"""Look-alikes of pain (server/pain/facs/context.py): a smile, speech and a blink are not pain; the photos say so."""
from __future__ import annotations

import numpy as np
import pytest

from server.pain.face import blendshapes as bs
from server.pain.face.baseline import baseline_from_faces
from server.pain.facs.context import (
    AU4_GRIMACE,
    EYES_CLOSED_MIN_S,
    ExpressionHistory,
    FaceFrame,
    discount_look_alikes,
    speech_strength,
)
from server.pain.estimator import Observation
from server.pain.facs.geometry import GeometryEstimator
from server.vision.face import FaceTracker
from tests.conftest import multipart
from tests.posed_faces import posed_photo
from tests.synthetic import astronaut_face, encode, expression


def _analyse(client, image: bytes, **fields) -> dict:
    response = client.post(
        "/api/v1/analyze/image", data=multipart(image=image, **fields), content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["pain"]


def test_a_posed_happy_face_reads_no_pain_and_names_the_smile(client):
    """The smile that used to read "moderate" (AU7 4.3, AU10 1.7 from the geometry alone)."""
    pain = _analyse(client, posed_photo("happy"))
    assert pain["level"] in ("none", "mild")
    assert "smile" in pain["context"]
    # Both sources are shown per AU, so a clinician can see what the smile moved and why it did not count.
    assert pain["action_unit_sources"]["AU7"]["geometry"] > 1.0
    assert pain["action_unit_sources"]["AU10"]["blendshapes"] > 1.0
    assert pain["action_units"]["AU7"] < pain["action_unit_sources"]["AU7"]["geometry"]


def test_a_posed_angry_frown_reads_above_none_without_a_smile(client):
    pain = _analyse(client, posed_photo("anger"))
    assert pain["level"] != "none"
    assert pain["action_units"]["AU4"] >= 1.0
    assert "smile" not in pain["context"]
    assert pain["action_unit_sources"]["AU4"]["blendshapes"] > 0.5  # browDown saw it too


def test_a_surprised_face_reads_no_pain(client):
    """Raised brows and an open mouth move no PSPI muscle."""
    assert _analyse(client, posed_photo("surprise"))["level"] == "none"


def test_the_warped_movements_raise_their_au_in_both_sources():
    """The blendshape model reads the same synthetic movements as the geometry (an independent check)."""
    tracker, estimator = FaceTracker(), GeometryEstimator()
    neutral = baseline_from_faces(tracker.process(astronaut_face()), "reference")
    for movement, au in (("brow_lower", "AU4"), ("eye_narrow", "AU7"), ("lip_raise", "AU10")):
        face = tracker.process(expression(movement, 1.0))[0]
        _, sources, _, _ = estimator.fuse_sources(face, neutral, None)
        assert sources[au]["geometry"] > 1.0 and sources[au]["blendshapes"] > 1.0, (movement, sources[au])
    tracker.close()


def test_a_smile_over_lowered_brows_or_shut_eyes_is_a_grimace_and_keeps_its_eye_and_lip_terms():
    aus = {"AU4": AU4_GRIMACE, "AU6": 2.0, "AU7": 3.0, "AU9": 1.0, "AU10": 2.0, "AU43": 0.0}
    kept, context = discount_look_alikes(aus, smile=1.0, speech=0.0, closed=False, closed_s=0.0, still=True)
    assert kept["AU7"] == 3.0 and kept["AU10"] == 2.0 and context == []  # a frown with a smile is no happy face
    relaxed = dict(aus, AU4=0.0)
    smiled, _ = discount_look_alikes(relaxed, smile=1.0, speech=0.0, closed=False, closed_s=0.0, still=True)
    assert smiled["AU7"] == smiled["AU10"] == smiled["AU6"] == 0.0
    # Lip corners pulled over eyes kept shut is a grimace (or crying), not a happy smile.
    shut, context = discount_look_alikes(relaxed, smile=1.0, speech=0.0, closed=True, closed_s=1.0, still=False)
    assert shut["AU7"] == 3.0 and shut["AU43"] == 1.0 and "smile" not in context


def _jaw_history(jaw_values: list[float], fps: float = 15.0) -> ExpressionHistory:
    frames = []
    for i, jaw in enumerate(jaw_values):
        scores = bs.POPULATION_NEUTRAL.copy()
        scores[bs.NAMES.index("jawOpen")] = jaw
        frames.append(FaceFrame(i / fps, 0.1, scores))
    return ExpressionHistory(tuple(frames))


def test_speech_like_jaw_motion_is_not_an_upper_lip_raise():
    talking = _jaw_history([0.05 + 0.3 * abs(np.sin(i * 1.9)) for i in range(15)])  # ~4-5 openings a second
    still = _jaw_history([0.05] * 15)
    assert speech_strength(talking) == 1.0 and speech_strength(still) == 0.0
    aus = {"AU4": 0.0, "AU6": 0.0, "AU7": 0.0, "AU9": 0.0, "AU10": 2.5, "AU43": 0.0}
    spoken, context = discount_look_alikes(aus, 0.0, speech_strength(talking), False, 0.0, still=False)
    assert spoken["AU10"] == 0.0 and context == ["speech"]
    assert speech_strength(ExpressionHistory(talking.frames[:1])) == 0.0  # a photo cannot show speech


def _stream_estimates(closed_for_s: float, fps: float = 15.0) -> list:
    """A stream of the relaxed face that then closes its eyes for ``closed_for_s``."""
    tracker, estimator = FaceTracker(stream=True), GeometryEstimator()
    neutral_image, closed_image = astronaut_face(), expression("eye_close", 1.0)
    neutral = baseline_from_faces(tracker.process(neutral_image, 0.0), "reference")
    track, estimates, t = estimator.track(), [], 0.0
    frames = [neutral_image] * 8 + [closed_image] * int(round(closed_for_s * fps))
    for image in frames:
        t += 1.0 / fps
        face = tracker.process(image, t)[0]
        observation = Observation(face, image, t)
        track.add(observation)
        estimates.append(estimator.estimate(face, neutral, 1.0, track.evidence(observation)))
    tracker.close()
    return estimates


def test_a_blink_is_not_eyes_closed_but_eyes_kept_shut_are():
    blink = _stream_estimates(0.2)
    assert all(e.action_units["AU43"] == 0.0 for e in blink)
    assert "blink" in blink[-1].context
    shut = _stream_estimates(EYES_CLOSED_MIN_S + 0.3)
    assert shut[-1].action_units["AU43"] == 1.0 and "blink" not in shut[-1].context


def test_a_photo_with_eyes_shut_counts_them_closed(client):
    """A still cannot show how long the eyes were closed: what it shows counts."""
    pain = _analyse(client, encode(expression("eye_close", 1.0)), reference=encode(astronaut_face()))
    assert pain["action_units"]["AU43"] == 1.0 and "blink" not in pain["context"]


@pytest.mark.parametrize("expression_name", ["surprise", "happy", "anger", "disgust"])
def test_every_posed_photo_has_blendshapes_for_both_sources(client, expression_name):
    sources = _analyse(client, posed_photo(expression_name))["action_unit_sources"]
    assert set(sources) == {"AU4", "AU6", "AU7", "AU9", "AU10", "AU43"}
    assert all(s["blendshapes"] is not None and s["geometry"] is not None for s in sources.values())
