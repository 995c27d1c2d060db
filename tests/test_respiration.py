"""Respiration rate from the camera (server/vitals/respiration.py) on synthetic breathing.

The synthetic patient is the astronaut photo (head and shoulders) moved up and down
by a few pixels at a known breathing rate, as breathing lifts the upper body.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from server.vision.body import BodyTracker
from server.vision.face import FaceTracker
from server.vitals.respiration import RespirationTracker, head_height, respiration_rate
from tests import media, synthetic
from tests.conftest import live_call, multipart
from tests.jobs import post_job

ASTRONAUT = skdata.astronaut()  # head and shoulders of Eileen Collins (NASA, public domain)
FPS = 10
SECONDS = 20
AMPLITUDE_PX = 3.0  # about 4 mm at this framing: within the shoulder rise of quiet breathing
RATE_BPM = 15.0
SHOULDER_WIDTH_PX = 250.0  # the astronaut's shoulders, about: the yardstick of their motion


def breathing_frames(rate_bpm: float, seconds: float = SECONDS, amplitude_px: float = AMPLITUDE_PX):
    """(t, frame): the astronaut moved vertically by a sine at ``rate_bpm`` (sub-pixel warp)."""
    for t in np.arange(0, seconds, 1 / FPS):
        dy = amplitude_px * np.sin(2 * np.pi * rate_bpm / 60 * t)
        shift = np.float32([[1, 0, 0], [0, 1, dy]])
        yield float(t), cv2.warpAffine(ASTRONAUT, shift, ASTRONAUT.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("rate", [8.0, 12.0, 18.0, 25.0, 36.0])
def test_a_clean_rhythm_is_read_to_within_half_a_breath(rate):
    rng = np.random.default_rng(int(rate))
    t = np.arange(0, SECONDS, 1 / FPS)
    heights = 0.01 * np.sin(2 * np.pi * rate / 60 * t) + 0.002 * rng.standard_normal(len(t))
    found = respiration_rate(t, heights, "head")
    assert found.rate_bpm == pytest.approx(rate, abs=0.5)
    assert found.quality > 0.8 and found.reason is None


def test_what_cannot_be_measured_is_null_with_a_reason():
    t = np.arange(0, SECONDS, 1 / FPS)
    noise = 0.003 * np.random.default_rng(1).standard_normal(len(t))
    jitter = respiration_rate(t, noise, "head")
    assert jitter.rate_bpm is None and jitter.reason == "no regular breathing rhythm"
    assert respiration_rate(t, np.zeros_like(t), "head").reason == "no breathing motion"
    short = respiration_rate(t[:50], np.sin(t[:50]), "head")
    assert short.rate_bpm is None and short.reason == "needs 10 s"
    sparse = respiration_rate(t[::10], np.sin(t[::10]), "shoulders")  # one sample a second
    assert sparse.rate_bpm is None and sparse.reason == "too few samples"
    assert RespirationTracker("head").current().rate_bpm is None


def test_shoulders_and_head_of_a_breathing_person_give_the_rate():
    body, face = BodyTracker(stream=False), FaceTracker(stream=True)
    shoulders, head = [], []
    try:
        for i, (t, frame) in enumerate(breathing_frames(RATE_BPM)):
            faces = face.process(frame, t)
            head.append((t, head_height(faces[0].landmarks, faces[0].box)))
            if i % (FPS // 2) == 0:  # pose at 2 frames a second, as the scale pre-fill samples it
                line = body.process(frame).shoulders
                shoulders.append((t, line[0] / SHOULDER_WIDTH_PX))
    finally:
        body.close()
        face.close()
    for series, source in ((shoulders, "shoulders"), (head, "head")):
        found = respiration_rate(*zip(*series), source=source)
        assert found.rate_bpm == pytest.approx(RATE_BPM, abs=1.0), source
        assert found.quality >= 0.5


def test_a_still_person_has_no_respiration_rate():
    body = BodyTracker(stream=False)
    try:
        line = body.process(ASTRONAUT).shoulders
        series = [(t, line[0] / SHOULDER_WIDTH_PX) for t in np.arange(0, SECONDS, 0.5)]
    finally:
        body.close()
    assert respiration_rate(*zip(*series), source="shoulders").rate_bpm is None


def test_video_result_and_painad_prefill_carry_the_respiration_rate(client):
    video = media.write_video([frame for _, frame in breathing_frames(RATE_BPM)], fps=FPS)
    body = post_job(client, "/api/v1/scales/painad/prefill", data=multipart(video=video),
                       content_type="multipart/form-data").get_json()
    vitals = body["measured"]["vitals"]
    assert vitals["respiration_source"] == "head"
    assert vitals["respiration_rate_bpm"] == pytest.approx(RATE_BPM, abs=1.0)
    # The shoulders when pose reads them steadily enough, else the head (on this compressed clip pose's
    # shoulder landmarks jitter by ~10 px at 2 frames a second, more than the 3 px of breathing).
    assert body["measured"]["respiration"]["respiration_source"] in ("shoulders", "head")
    assert body["measured"]["respiration"]["respiration_rate_bpm"] == pytest.approx(RATE_BPM, abs=1.0)
    assert body["items"]["breathing"]["value"] == 0  # 15/min is within the normal 12-20
    assert "breaths/min" in body["items"]["breathing"]["evidence"]


def test_the_live_ack_carries_the_respiration_rate(live):
    assert live_call(live, "start", {})["ok"] is True
    ack = None
    for seq, (t, frame) in enumerate(breathing_frames(RATE_BPM, seconds=14)):
        ack = live_call(live, "frame", {"seq": seq, "t_ms": t * 1000, "jpeg": synthetic.encode(frame)})
    vitals = ack["vitals"]
    assert vitals["respiration_source"] == "head"
    assert vitals["respiration_rate_bpm"] == pytest.approx(RATE_BPM, abs=1.5)
    live_call(live, "stop", {})

