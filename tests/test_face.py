"""The live face tracker (server/vision/face.py): blendshapes beside the frames, never holding one up."""
from __future__ import annotations

import time

from server.vision.face import BLENDSHAPES_STREAM_INTERVAL_MS, FaceTracker
from tests.synthetic import astronaut_face, expression

FPS = 30.0
SETTLE_S = 0.05  # real time between frames, so each background run can finish before the next frame


def _blink(face) -> float:
    return (face.blendshapes.get("eyeBlinkLeft", 0.0) + face.blendshapes.get("eyeBlinkRight", 0.0)) / 2.0


def test_a_live_stream_reads_blendshapes_without_waiting_and_follows_the_face():
    tracker = FaceTracker(stream=True, background_blendshapes=True)
    try:
        neutral, shut = astronaut_face(), expression("eye_close", 1.0)
        frames = [neutral] * 6 + [shut] * 12
        faces, waited = [], []
        for number, image in enumerate(frames):
            faces.append(tracker.process(image, number / FPS)[0])
            waited.append(tracker.blendshapes_ms)
            time.sleep(SETTLE_S)
    finally:
        tracker.close()
    assert waited[0] > 0.0  # the first frame has no scores to reuse: it waits for fresh ones
    assert all(ms == 0.0 for ms in waited[1:])  # after that no frame waits for the Face Landmarker
    assert all(face.blendshapes for face in faces)  # yet every frame carries scores
    # The scores follow the face: the smile shows within the interval plus a frame or two.
    catch_up = int(BLENDSHAPES_STREAM_INTERVAL_MS / 1000.0 * FPS) + 3
    assert _blink(faces[5]) < 0.3 < _blink(faces[6 + catch_up])


def test_an_uploaded_video_stream_waits_for_its_own_frames_scores():
    """Off (videos): a due frame gets the scores of that very frame, so a report never depends on timing."""
    tracker = FaceTracker(stream=True)
    try:
        neutral, shut = astronaut_face(), expression("eye_close", 1.0)
        first = tracker.process(neutral, 0.0)[0]
        closed = tracker.process(shut, 1.0)[0]  # due: a second later
    finally:
        tracker.close()
    assert tracker.blendshapes_ms > 0.0
    assert _blink(first) < 0.3 < _blink(closed)
