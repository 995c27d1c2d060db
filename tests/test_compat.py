"""The seed-compatible endpoints: the pain server's mobile client and the heart-rate API's front ends,
unchanged, against PainScope."""
from __future__ import annotations

import base64
import functools
import io

import pytest
import requests

from server.assess.analysis import VideoReport
from server.config import Settings
from server.pain.estimate import estimate_from_levels
from server.problems import InputProblem
from server.pain.result import Result
from server.vitals.sessions import RppgSessionStore
from server.web.routes.compat_api import pain_server_answer
from tests import media, synthetic
from tests.conftest import authed_client, create_test_app
from tests.pulse import pulse_clip
from tests.jobs import post_job

VIDEO_FPS = 10
BATCH = 120
PAIN_ANSWER_KEYS = ["painLevel", "confidence", "description", "numFrames", "probabilities"]
READING_KEYS = ["heart_rate", "confidence", "face_detected", "session_id", "message"]
STATUS_KEYS = ["session_id", "frames", "duration_s", "heart_rate", "confidence", "created_at", "last_activity"]


@functools.lru_cache(maxsize=None)
def _video(kind: str) -> bytes:
    neutral, grimace = synthetic.astronaut_face(), synthetic.grimace(1.0)
    frames = {
        "neutral then grimace": [neutral] * (4 * VIDEO_FPS) + [grimace] * (2 * VIDEO_FPS),
        "neutral": [neutral] * (6 * VIDEO_FPS),
        "no face": [neutral * 0] * (2 * VIDEO_FPS),
    }[kind]
    return media.write_video(frames, fps=VIDEO_FPS)


def _mobile_client_request(app, video: bytes, token: str | None):
    """What the mobile app sends, byte for byte: a `requests` multipart post with a Bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    prepared = requests.Request(
        "POST", "http://painscope.test/upload-video", headers=headers,
        files={"video": ("recording.mp4", video, "video/mp4")},
    ).prepare()
    return app.test_client().post(
        "/upload-video", data=prepared.body, headers={k: v for k, v in prepared.headers.items()}
    )


@pytest.mark.parametrize(
    "kind, level, finding",
    [("neutral then grimace", "PAIN", "Pain detected: "), ("neutral", "NO_PAIN", "No pain detected: none")],
)
def test_the_mobile_clients_exact_upload_reads_the_pain_level(app, kind, level, finding):
    response = _mobile_client_request(app, _video(kind), app.config["TEST_API_TOKEN"])
    body = response.get_json()
    assert response.status_code == 200, body
    assert list(body) == PAIN_ANSWER_KEYS
    assert body["painLevel"] == level
    assert body["numFrames"] == 30  # 6 s sampled at 5 frames/s
    assert 0.0 < body["confidence"] <= 1.0
    assert set(body["probabilities"]) == {"NO_PAIN", "PAIN"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert body["description"].startswith(finding)
    assert body["description"].endswith("; 30 of 30 sampled frames showed a face.")
    if level == "PAIN":
        assert body["probabilities"]["PAIN"] > 0.9
        peak_time = float(body["description"].split(" at ")[1].split(" s")[0])
        assert peak_time >= 4.0  # the grimace starts at 4 s


def test_the_upload_is_the_same_analysis_as_the_api(client):
    video = _video("neutral then grimace")
    seed = client.post("/upload-video", data={"video": (io.BytesIO(video), "recording.mp4")},
                       content_type="multipart/form-data").get_json()
    api = post_job(client, "/api/v1/analyze/video", data={"video": (io.BytesIO(video), "recording.mp4")},
                      content_type="multipart/form-data").get_json()
    assert seed["numFrames"] == api["summary"]["frames_analysed"]
    assert seed["confidence"] == api["peak"]["pain"]["confidence"]
    assert seed["probabilities"]["NO_PAIN"] == api["peak"]["pain"]["probabilities"]["none"]
    level, pspi = api["peak"]["pain"]["level"], api["summary"]["max_pspi"]
    assert seed["description"].startswith(f"Pain detected: {level} (PSPI {pspi:.1f}) at ")


@pytest.mark.parametrize("token", [None, "ps_not-a-real-token"])
def test_the_mobile_client_without_a_valid_token_gets_401_in_the_error_shape(app, token):
    response = _mobile_client_request(app, _video("neutral"), token)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_heart_rate_routes_refuse_strangers_with_json_not_a_login_page(app):
    stranger = app.test_client()
    for method, path in [("post", "/create-session"), ("post", "/analyze-image"), ("post", "/analyze-batch"),
                         ("get", "/session/x/status"), ("delete", "/session/x"), ("get", "/sessions"),
                         ("get", "/status")]:
        response = getattr(stranger, method)(path)
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "unauthorized", path


@pytest.mark.parametrize(
    "video, status, code",
    [
        (None, 422, "no_face"),
        (b"plain text, not a video", 415, "unsupported_media_type"),
    ],
)
def test_an_upload_the_seed_could_not_judge_either_is_an_error(client, video, status, code):
    video = _video("no face") if video is None else video
    response = client.post("/upload-video", data={"video": (io.BytesIO(video), "recording.mp4")},
                           content_type="multipart/form-data")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_an_upload_in_the_wrong_field_is_400(client):
    response = client.post("/upload-video", data={"file": (io.BytesIO(b"x"), "recording.mp4")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "missing_field"


def test_the_upload_takes_the_estimator_option_like_the_api(client):
    response = client.post("/upload-video?estimator=lstm",
                           data={"video": (io.BytesIO(b"x"), "recording.mp4")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "estimator_unavailable"


def _report(pain, t_s=3.4, faces=12, frames=15) -> dict:
    """A video job's result (VideoReport.to_dict()) whose peak is ``pain`` at ``t_s``."""
    timeline = [{"t_s": i / 5, "face_found": i < faces, "pspi": None, "level": None} for i in range(frames)]
    peak = None if pain is None else Result(face=None, faces=(), pain=pain, speech_text="", timing_ms={})
    if pain is not None:
        timeline[faces - 1] = {**timeline[faces - 1], "t_s": t_s, "pspi": pain.pspi, "level": pain.level}
    return VideoReport(timeline=timeline, summary={"frames_analysed": frames}, peak=peak,
                       peak_overlay_png=None).to_dict()


def test_a_sequence_model_answers_with_its_own_label_names():
    labels = {"BL1": 0.1, "PA1": 0.1, "PA2": 0.2, "PA3": 0.6}
    pain = estimate_from_levels({"none": 0.1, "mild": 0.1, "moderate": 0.2, "severe": 0.6}, 0.7, "lstm",
                                "lstm.pt", label="PA3", label_probabilities=labels)
    answer = pain_server_answer(_report(pain))
    assert answer["painLevel"] == "PA3" and answer["probabilities"] == labels
    assert answer["confidence"] == 0.7 and answer["numFrames"] == 15
    assert answer["description"] == "Pain detected: PA3 (severe) at 3.4 s; 12 of 15 sampled frames showed a face."


def test_a_face_the_estimator_could_not_judge_is_422_too_short():
    with pytest.raises(InputProblem) as refused:
        pain_server_answer(_report(None, faces=4))
    assert refused.value.code == "video_too_short" and "4 of 15" in refused.value.message


def test_get_index_answers_json_to_a_seed_client_and_the_page_to_a_browser(app, client):
    seed = client.get("/", headers={"Accept": "application/json"})
    assert seed.status_code == 200 and seed.mimetype == "application/json"
    assert seed.get_json() == {"message": "PainScope pain assessment server", "status": "ok",
                               "model_type": "geometry", "num_classes": 2}
    assert client.get("/", headers={"Accept": "application/json, text/plain, */*"}).mimetype == "application/json"
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert browser.mimetype == "text/html" and 'id="tab-upload"' in browser.get_data(as_text=True)
    assert client.get("/", headers={"Accept": "*/*"}).mimetype == "text/html"
    assert "Accept" in seed.headers["Vary"] and "Accept" in browser.headers["Vary"]
    stranger = app.test_client()
    assert stranger.get("/", headers={"Accept": "application/json"}).status_code == 401
    assert stranger.get("/").status_code == 302  # a browser is sent to the login page


# ------------------------------------------------------------------ heart rate


@functools.lru_cache(maxsize=1)
def _pulse_frames() -> list[tuple[float, str]]:
    return [(t, base64.b64encode(synthetic.encode(f, quality=90)).decode())
            for t, f in pulse_clip(84, seconds=12, seed=5)]


def test_the_heart_rate_flow_frame_by_frame(client):
    created = client.post("/create-session")
    assert created.status_code == 200
    assert list(created.get_json()) == ["session_id", "message"]
    session = created.get_json()["session_id"]
    readings = []
    for t, image in _pulse_frames():
        response = client.post("/analyze-image", json={"session_id": session, "image_data": image, "timestamp": t})
        assert response.status_code == 200, response.get_json()
        readings.append(response.get_json())
    assert list(readings[0]) == READING_KEYS
    first = readings[0]
    assert first["heart_rate"] is None and first["confidence"] == "low" and first["face_detected"]
    assert first["session_id"] == session and first["message"].startswith("Collecting signal: ")
    assert "Collecting signal: 3." in readings[30 * 3 + 15]["message"]  # 3.5 s in
    last = readings[-1]
    assert last["heart_rate"] == pytest.approx(84, abs=3)
    assert last["confidence"] in ("high", "medium") and last["face_detected"]
    assert last["message"].startswith(f"Heart rate {last['heart_rate']:.0f} bpm")

    status = client.get(f"/session/{session}/status").get_json()
    assert list(status) == STATUS_KEYS
    assert status["frames"] == len(_pulse_frames())
    assert status["duration_s"] == pytest.approx(12, abs=0.1)
    assert status["heart_rate"] == last["heart_rate"] and status["confidence"] == last["confidence"]
    assert status["created_at"].endswith("+00:00") and status["last_activity"] >= status["created_at"]
    _delete_and_check_gone(client, session)


def test_the_heart_rate_flow_in_batches(app, client, monkeypatch):
    """Batches as the seed's clients send them: ``image_data`` as a list and a frame rate, no timestamps."""
    # Untimed frames are placed by when their post arrives. A device sends each batch as it is filmed,
    # so the store's clock advances by one batch's duration per post here, however long this machine
    # takes to analyse it (a loaded machine would otherwise open gaps between the batches).
    virtual_now = [0.0]
    monkeypatch.setattr(app.extensions["painscope"].rppg_sessions, "_clock", lambda: virtual_now[0])
    session = client.post("/create-session").get_json()["session_id"]
    frames = _pulse_frames()
    for start in range(0, len(frames), BATCH):
        images = [image for _, image in frames[start : start + BATCH]]
        virtual_now[0] += len(images) / 30
        response = client.post("/analyze-batch", json={"session_id": session, "image_data": images, "frame_rate": 30})
        body = response.get_json()
        assert response.status_code == 200, body
        assert list(body) == READING_KEYS + ["frames_processed"]
        assert body["frames_processed"] == len(images) and body["face_detected"]
        assert body["message"].startswith(f"{len(images)} of {len(images)} frames showed a face.")
    assert body["heart_rate"] == pytest.approx(84, abs=3)
    assert body["confidence"] in ("high", "medium")

    listed = client.get("/sessions").get_json()
    assert listed["max_sessions"] == 100 and listed["count"] == len(listed["sessions"])
    mine = [s for s in listed["sessions"] if s["session_id"] == session]
    assert len(mine) == 1 and list(mine[0]) == STATUS_KEYS and mine[0]["frames"] == len(frames)
    assert mine[0]["duration_s"] == pytest.approx((len(frames) - 1) / 30, abs=0.01)
    system = client.get("/status").get_json()
    assert list(system) == ["status", "version", "active_sessions", "max_sessions", "session_idle_timeout_s",
                            "live_streams"]
    assert system["status"] == "ok" and system["active_sessions"] >= 1 and system["max_sessions"] == 100
    assert system["session_idle_timeout_s"] == 300
    _delete_and_check_gone(client, session)


def test_batch_timestamps_are_used_when_given(client):
    frames = _pulse_frames()[:BATCH]
    body = client.post("/analyze-batch", json={"images": [i for _, i in frames], "timestamps": [t for t, _ in frames]})
    assert body.status_code == 200
    session = body.get_json()["session_id"]  # opened for it, as the seed did
    status = client.get(f"/session/{session}/status").get_json()
    assert status["duration_s"] == pytest.approx(frames[-1][0] - frames[0][0], abs=0.01)
    assert status["frames"] == BATCH
    client.delete(f"/session/{session}")


def _delete_and_check_gone(client, session):
    deleted = client.delete(f"/session/{session}")
    assert deleted.status_code == 200 and deleted.get_json()["session_id"] == session
    assert list(deleted.get_json()) == ["session_id", "message"]
    for response in (
        client.get(f"/session/{session}/status"),
        client.delete(f"/session/{session}"),
        client.post("/analyze-image", json={"session_id": session, "image_data": _pulse_frames()[0][1]}),
        client.post("/analyze-batch", json={"session_id": session, "images": [_pulse_frames()[0][1]]}),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "session_not_found"
    assert session not in [s["session_id"] for s in client.get("/sessions").get_json()["sessions"]]


def test_a_frame_without_a_face_says_so(client):
    session = client.post("/create-session").get_json()["session_id"]
    blank = base64.b64encode(synthetic.encode(synthetic.astronaut_face() * 0)).decode()
    body = client.post("/analyze-image", json={"session_id": session, "image_data": blank}).get_json()
    assert body["face_detected"] is False and body["heart_rate"] is None and body["confidence"] == "low"
    assert body["message"] == "No face in this image. No heart rate yet: no face has been seen."
    client.delete(f"/session/{session}")


@pytest.mark.parametrize(
    "path, payload, status, code",
    [
        ("/analyze-image", {"image_data": "!!!"}, 400, "bad_base64"),
        ("/analyze-image", {"image_data": base64.b64encode(b"plain text").decode()}, 415, "unsupported_media_type"),
        ("/analyze-image", {"image": "aGVsbG8="}, 400, "missing_field"),
        ("/analyze-image", {"image_data": 12}, 400, "bad_field_type"),
        ("/analyze-image", {"image_data": "aGVsbG8=", "session_id": 7}, 400, "bad_field_type"),
        ("/analyze-image", {"image_data": "aGVsbG8=", "timestamp": "noon"}, 400, "bad_field_type"),
        ("/analyze-image", ["not", "an", "object"], 400, "bad_json_type"),
        ("/analyze-batch", {"images": []}, 400, "bad_field_type"),
        ("/analyze-batch", {"frames": ["aGVsbG8="]}, 400, "missing_field"),
        ("/analyze-batch", {"images": ["aGVsbG8="] * 301}, 413, "too_large"),
        ("/analyze-batch", {"images": ["aGVsbG8="], "timestamps": [0.0, 0.1]}, 400, "bad_field_type"),
        ("/analyze-batch", {"images": ["aGVsbG8="], "frame_rate": 0}, 400, "bad_parameter"),
        ("/analyze-batch", {"images": ["FACE", "!!!"]}, 400, "bad_base64"),  # one bad frame refuses the post
        ("/analyze-image", {"session_id": "nope", "image_data": "aGVsbG8="}, 404, "session_not_found"),
    ],
)
def test_bad_heart_rate_requests_get_the_error_shape_and_leave_no_session(client, path, payload, status, code):
    if isinstance(payload, dict) and "images" in payload:
        payload = {**payload, "images": [_pulse_frames()[0][1] if i == "FACE" else i for i in payload["images"]]}
    before = client.get("/status").get_json()["active_sessions"]
    response = client.post(path, json=payload)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert client.get("/status").get_json()["active_sessions"] == before


def test_broken_json_is_400(client):
    response = client.post("/analyze-image", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_sessions_beyond_the_cap_are_refused_with_429():
    client = authed_client(create_test_app(Settings(rppg_max_sessions=2)))
    assert client.post("/create-session").status_code == 200
    assert client.post("/api/v1/rppg/sessions").status_code == 201  # one store for both APIs
    for refused in (client.post("/create-session"), client.post("/analyze-image", json={"image_data": "aGVsbG8="})):
        assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_sessions"
    assert client.get("/sessions").get_json()["max_sessions"] == 2


def test_untimed_batches_are_spaced_by_the_frame_interval_and_never_overlap():
    now = [100.0]
    store = RppgSessionStore(max_sessions=1, idle_s=300, method="pos", window_s=10, clock=lambda: now[0])
    session = store.create()
    now[0] = 102.0
    store.add_samples(session, [(None, {}, None)] * 11, frame_interval_s=0.1)
    assert (session.first_frame_s, session.last_frame_s) == pytest.approx((1.0, 2.0))  # the last arrived now
    now[0] = 102.5  # the next batch came sooner than its frames could have been filmed: it follows on
    store.add_samples(session, [(None, {}, None)] * 11, frame_interval_s=0.1)
    assert session.last_frame_s == pytest.approx(3.1)
    now[0] = 110.0  # after a pause it ends now
    store.add_samples(session, [(None, {}, None)] * 3, frame_interval_s=0.1)
    assert session.last_frame_s == pytest.approx(10.0)
    assert session.frames_received == 25 and session.last_seen_unix == pytest.approx(session.created_unix + 10.0)


def test_the_real_server_serves_both_seed_clients():
    """Once over real HTTP (eventlet server): the mobile upload and a short heart-rate session."""
    from tests.server_process import running_server

    with running_server() as server:
        base = server.base_url
        upload = requests.post(f"{base}/upload-video", headers=server.headers, timeout=120,
                               files={"video": ("recording.mp4", _video("neutral then grimace"), "video/mp4")})
        assert upload.status_code == 200, upload.text
        assert upload.json()["painLevel"] == "PAIN"
        assert requests.post(f"{base}/upload-video", timeout=30,
                             files={"video": ("recording.mp4", b"x", "video/mp4")}).status_code == 401
        index = requests.get(f"{base}/", headers={**server.headers, "Accept": "application/json"}, timeout=30)
        assert index.json()["status"] == "ok"
        session = requests.post(f"{base}/create-session", headers=server.headers, timeout=30).json()["session_id"]
        images = [image for _, image in _pulse_frames()[:60]]
        batch = requests.post(f"{base}/analyze-batch", headers=server.headers, timeout=120,
                              json={"session_id": session, "images": images, "frame_rate": 30}).json()
        assert batch["frames_processed"] == 60 and batch["face_detected"] and batch["heart_rate"] is None
        assert batch["message"].endswith("Collecting signal: 2.0 of 5 s.")
        assert requests.delete(f"{base}/session/{session}", headers=server.headers, timeout=30).status_code == 200
        gone = requests.get(f"{base}/session/{session}/status", headers=server.headers, timeout=30)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "session_not_found"


def test_seed_sessions_belong_to_their_creator():
    from tests.test_rppg_api import _user_client

    app = create_test_app(Settings(rppg_max_sessions=10, rppg_max_sessions_per_user=1))
    alice, bob = _user_client(app, "alice"), _user_client(app, "bob")
    session = alice.post("/create-session").get_json()["session_id"]
    assert alice.get("/sessions").get_json()["count"] == 1 and bob.get("/sessions").get_json()["count"] == 0
    for response in (bob.get(f"/session/{session}/status"), bob.delete(f"/session/{session}"),
                     bob.post("/analyze-image", json={"session_id": session, "image_data": "aGVsbG8="})):
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "session_not_found"
    assert alice.get(f"/session/{session}/status").status_code == 200
    refused = alice.post("/create-session")  # her one slot is taken; bob's is not
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_sessions"
    assert bob.post("/create-session").status_code == 200
