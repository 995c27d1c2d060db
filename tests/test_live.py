"""The /live Socket.IO namespace through Flask-SocketIO's test client."""
import numpy as np
import pytest
from skimage import data as skdata

from tests import synthetic
from tests.conftest import live_call

NEUTRAL = synthetic.encode(synthetic.astronaut_face(), quality=85)
GRIMACE = synthetic.encode(synthetic.grimace(1.0), quality=85)


def test_a_stream_calibrated_on_a_neutral_face_reports_pain_when_the_face_changes(live):
    started = live_call(live, "start", {"estimator": "geometry"})
    assert started["ok"] is True and started["session"]["baseline"] == "population"
    for seq in range(5):
        ack = live_call(live, "frame", {"seq": seq, "t_ms": seq * 66.0, "jpeg": NEUTRAL})
        assert ack["seq"] == seq and ack["face"]["found"] is True
    assert live_call(live, "calibrate", {}) == {"ok": True, "baseline": "calibration"}
    calm = live_call(live, "frame", {"seq": 5, "t_ms": 400.0, "jpeg": NEUTRAL})
    assert calm["pain"]["level"] == "none" and calm["pain"]["baseline"] == "calibration"
    pained = live_call(live, "frame", {"seq": 6, "t_ms": 466.0, "jpeg": GRIMACE})
    # The reading is the median of the last 0.4 s (the pain head's smoothing): it rises at the first
    # grimace frame and reaches the grimace once that is most of the window.
    assert pained["pain"]["pspi"] > calm["pain"]["pspi"]
    # One frame's grimace is not announced: speech follows the level held for a second.
    assert pained["speech"] == {"text": "No pain detected.", "level": "none"}
    for seq in range(7, 17):  # the grimace held for 1.5 s: a second beyond the 0.4 s smoothing window
        held = live_call(live, "frame", {"seq": seq, "t_ms": 466.0 + (seq - 6) * 150.0, "jpeg": GRIMACE})
    # The test grimace reads PSPI ~10.6, on the moderate|severe boundary: the frame's level and the level
    # held for the last second may differ by that step; speech says the held one.
    assert held["speech"]["level"] in ("moderate", "severe") and held["pain"]["level"] in ("moderate", "severe")
    assert held["speech"]["text"] == held["speech"]["level"].capitalize() + " pain."
    stopped = live_call(live, "stop", {})
    assert stopped == {"ok": True, "frames_analysed": 17}


def test_without_calibration_a_rolling_baseline_is_learned(live):
    live_call(live, "start", {})
    ack = None
    for seq in range(40):  # ~4 s at 10 fps
        ack = live_call(live, "frame", {"seq": seq, "t_ms": seq * 100.0, "jpeg": NEUTRAL})
    assert ack["pain"]["baseline"] == "rolling"
    for seq in range(40, 46):  # a grimace held for half a second: most of the smoothing window
        pained = live_call(live, "frame", {"seq": seq, "t_ms": seq * 100.0, "jpeg": GRIMACE})
    assert pained["pain"]["level"] in ("moderate", "severe")


def test_frames_before_start_and_bad_frames_get_errors_not_disconnects(live):
    assert live_call(live, "frame", {"seq": 0, "t_ms": 0, "jpeg": NEUTRAL})["error"]["code"] == "no_session"
    live_call(live, "start", {})
    assert live_call(live, "frame", "not an object")["error"]["code"] == "bad_frame"
    assert live_call(live, "frame", {"seq": "x", "t_ms": 0, "jpeg": NEUTRAL})["error"]["code"] == "bad_frame"
    corrupt = live_call(live, "frame", {"seq": 1, "t_ms": 0, "jpeg": b"\xff\xd8\xff\xe0 broken"})
    assert corrupt["seq"] == 1 and corrupt["error"]["code"] == "corrupt_image"
    assert live_call(live, "frame", {"seq": 2, "t_ms": 66, "jpeg": NEUTRAL})["face"]["found"] is True
    assert live.is_connected(namespace="/live")


def test_calibrating_without_a_face_is_refused(live):
    live_call(live, "start", {})
    blank = synthetic.encode(synthetic.blurred(synthetic.astronaut_face(), 1) * 0)
    no_face = live_call(live, "frame", {"seq": 0, "t_ms": 0, "jpeg": blank})
    assert no_face["face"]["found"] is False
    assert no_face["vitals"]["heart_rate_bpm"] is None and no_face["vitals"]["reason"] == "no face"
    assert live_call(live, "calibrate", {})["error"]["code"] == "no_face"


def test_asking_for_a_missing_model_is_refused_at_start(live):
    assert live_call(live, "start", {"estimator": "lstm"})["error"]["code"] == "estimator_unavailable"


def test_an_older_frame_that_waited_behind_a_newer_one_is_dropped(app, live):
    live_call(live, "start", {})
    namespace = app.extensions["socketio"].server.namespace_handlers["/live"]
    stream = next(iter(namespace._streams.values()))
    stream.newest_seq = 10  # frame 10 arrived while frame 9 was waiting
    assert live_call(live, "frame", {"seq": 9, "t_ms": 0, "jpeg": NEUTRAL}) == {"seq": 9, "dropped": True}


def test_heart_rate_appears_in_the_acks_and_in_speech_once_the_window_fills(live):
    from tests.pulse import pulse_clip

    live_call(live, "start", {})
    acks = []
    for seq, (t_s, frame) in enumerate(pulse_clip(84, seconds=12, seed=4)):
        acks.append(live_call(live, "frame", {"seq": seq, "t_ms": t_s * 1000, "jpeg": synthetic.encode(frame, quality=90)}))
    early, last = acks[30]["vitals"], acks[-1]["vitals"]
    assert early["heart_rate_bpm"] is None and "5 s" in early["reason"]  # 1 s in: not a guess
    assert last["heart_rate_bpm"] == pytest.approx(84, abs=3) and last["quality"] in ("high", "medium")
    assert len(last["waveform"]) > 60 and last["waveform_hz"] == 30
    assert f"Heart rate {round(last['heart_rate_bpm'])}." in acks[-1]["speech"]["text"]


def test_the_body_movement_index_is_reported_when_asked_for_and_rises_when_the_person_moves(live):
    started = live_call(live, "start", {"body": True})
    assert started["ok"] is True and started["session"]["body"] is True
    image = np.full((512, 720, 3), 128, np.uint8)  # a grey stage wider than the astronaut, to slide across
    image[:, :512] = skdata.astronaut()
    still, moving = [], []
    for seq in range(12):  # 6 s at 2 fps: the body is looked at on every one of these frames
        ack = live_call(live, "frame", {"seq": seq, "t_ms": seq * 500.0, "jpeg": synthetic.encode(image, quality=90)})
        still.append(ack["body"])
    for seq in range(12, 24):  # then she slides right by 15 px a frame (30 px/s)
        shifted = np.roll(image, 15 * (seq - 11), axis=1)
        ack = live_call(live, "frame", {"seq": seq, "t_ms": seq * 500.0, "jpeg": synthetic.encode(shifted, quality=90)})
        moving.append(ack["body"])
    assert still[-1]["person_found"] is True and still[-1]["method"] == "pose" and still[-1]["window_s"] == 5.0
    assert still[0]["movement_index"]["head"] is None  # one look is not movement
    calm, active = still[-1]["movement_index"], moving[-1]["movement_index"]
    assert active["head"] > 3 * max(calm["head"], 0.01) and active["torso"] > 3 * max(calm["torso"], 0.01)
    live_call(live, "stop", {})


def test_without_the_body_option_no_body_is_measured(live):
    assert live_call(live, "start", {})["session"]["body"] is False
    assert "body" not in live_call(live, "frame", {"seq": 0, "t_ms": 0.0, "jpeg": NEUTRAL})


# ---------------------------------------------------------------- hostile or broken clients


def test_a_start_with_an_estimator_that_is_not_a_name_is_answered(live):
    for estimator in ({"a": 1}, ["geometry"], 7):
        refused = live_call(live, "start", {"estimator": estimator})
        assert refused["error"]["code"] == "bad_parameter", estimator
    assert live_call(live, "start", {"estimator": "geometry"})["ok"] is True


def test_unknown_events_and_failing_handlers_are_answered_not_left_hanging(app, live, monkeypatch, caplog):
    assert live_call(live, "no-such-event", {})["error"]["code"] == "unknown_event"
    live_call(live, "start", {})
    namespace = app.extensions["socketio"].server.namespace_handlers["/live"]
    stream = next(iter(namespace._streams.values()))

    def broken(jpeg, t_ms):
        raise RuntimeError("a bug deep in the analysis")

    monkeypatch.setattr(stream, "process", broken)
    failed = live_call(live, "frame", {"seq": 0, "t_ms": 0, "jpeg": NEUTRAL})
    assert failed["seq"] == 0 and failed["error"]["code"] == "internal_error"
    assert "deep in the analysis" not in str(failed) and "Traceback" not in str(failed)
    assert "a bug deep in the analysis" in caplog.text  # the traceback is in the server's log
    monkeypatch.setattr(stream.session, "calibrate", lambda: 1 / 0)
    assert live_call(live, "calibrate", {})["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert live_call(live, "frame", {"seq": 1, "t_ms": 66, "jpeg": NEUTRAL})["face"]["found"] is True


@pytest.mark.parametrize("t_ms", [float("nan"), float("inf"), -1.0, 1e300, 10**99])
def test_a_frame_time_that_is_not_a_real_capture_time_is_refused(live, t_ms):
    live_call(live, "start", {})
    assert live_call(live, "frame", {"seq": 0, "t_ms": 1000.0, "jpeg": NEUTRAL})["face"]["found"] is True
    refused = live_call(live, "frame", {"seq": 1, "t_ms": t_ms, "jpeg": NEUTRAL})
    assert refused["seq"] == 1 and refused["error"]["code"] == "bad_frame"
    assert live_call(live, "frame", {"seq": 2, "t_ms": 1066.0, "jpeg": NEUTRAL})["face"]["found"] is True
    assert live_call(live, "stop", {})["frames_analysed"] == 2


def test_frame_times_never_go_backwards_nor_jump_ahead_of_the_servers_clock(live):
    live_call(live, "start", {})
    assert "error" not in live_call(live, "frame", {"seq": 0, "t_ms": 5000.0, "jpeg": NEUTRAL})
    backwards = live_call(live, "frame", {"seq": 1, "t_ms": 4000.0, "jpeg": NEUTRAL})
    assert backwards["error"]["code"] == "bad_frame" and "backwards" in backwards["error"]["message"]
    years = live_call(live, "frame", {"seq": 2, "t_ms": 5000.0 + 1e12, "jpeg": NEUTRAL})
    assert years["error"]["code"] == "bad_frame" and "ahead" in years["error"]["message"]
    assert "error" not in live_call(live, "frame", {"seq": 3, "t_ms": 5066.0, "jpeg": NEUTRAL})


def test_a_huge_seq_is_refused_and_does_not_make_later_frames_dropped(live):
    live_call(live, "start", {})
    for seq in (10**30, 2**53, -1, True):
        assert live_call(live, "frame", {"seq": seq, "t_ms": 0, "jpeg": NEUTRAL})["error"]["code"] == "bad_frame"
    ack = live_call(live, "frame", {"seq": 0, "t_ms": 0, "jpeg": NEUTRAL})
    assert "dropped" not in ack and ack["face"]["found"] is True


def test_a_revoked_token_or_a_logout_closes_even_an_idle_stream_within_a_few_seconds(app):
    """Issue 25: a revoked token's idle socket stayed connected, its recorded assessment open, until the
    client sent again. The sweep closes it (and ends the assessment) without waiting for an event."""
    import re
    import time

    from server import socketio_of
    from server.store import records
    from server.store.accounts import create_token, revoke_token
    from server.web.routes.live import AUTH_SWEEP_S
    from tests.conftest import TEST_PASSWORD, TEST_USER

    db = app.extensions["painscope"].db
    patient = records.create_patient(db, f"revoked-{time.monotonic_ns()}", "Idle stream")
    token_id, token = create_token(db, TEST_USER, "tablet to be revoked")
    by_token = socketio_of(app).test_client(app, namespace="/live", auth={"token": token})
    browser = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").get_data(as_text=True)).group(1)
    browser.post("/login", data={"name": TEST_USER, "password": TEST_PASSWORD, "csrf_token": csrf})
    by_cookie = socketio_of(app).test_client(app, namespace="/live", flask_test_client=browser)
    assert live_call(by_token, "start", {"patient_id": patient.id})["session"]["record"] is not None
    assert live_call(by_cookie, "start", {})["ok"] is True
    for client in (by_token, by_cookie):
        assert client.is_connected("/live")
        assert "error" not in live_call(client, "frame", {"seq": 0, "t_ms": 0, "jpeg": NEUTRAL})
    revoke_token(db, token_id)
    page = browser.get("/").get_data(as_text=True)
    browser.post("/logout", data={"csrf_token": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)})
    deadline = time.monotonic() + AUTH_SWEEP_S + 3.0  # the clients send nothing meanwhile
    while any(c.is_connected("/live") for c in (by_token, by_cookie)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not by_token.is_connected("/live") and not by_cookie.is_connected("/live")
    (assessment,) = records.list_assessments(db, patient.id)
    assert assessment.ended_at is not None


def test_an_event_after_the_credential_ended_is_answered_unauthorized(app):
    from server import socketio_of
    from server.store.accounts import create_token, revoke_token
    from tests.conftest import TEST_USER

    db = app.extensions["painscope"].db
    token_id, token = create_token(db, TEST_USER, "revoked between two frames")
    client = socketio_of(app).test_client(app, namespace="/live", auth={"token": token})
    namespace = socketio_of(app).server.namespace_handlers["/live"]
    assert live_call(client, "start", {})["ok"] is True
    revoke_token(db, token_id)
    for sid in list(namespace._checked_at):
        namespace._checked_at[sid] = float("-inf")  # due for a check on the next event
    if client.is_connected("/live"):  # else the sweep was quicker, which is as good
        refused = live_call(client, "frame", {"seq": 1, "t_ms": 66, "jpeg": NEUTRAL})
        assert refused is None or refused["error"]["code"] == "unauthorized"
