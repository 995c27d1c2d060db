"""The heart-rate session API: devices post frames, poll the heart rate; limits and bad input."""
import base64

import pytest

from server.config import Settings
from server.problems import InputProblem
from server.vitals.sessions import RppgSessionStore
from tests import synthetic
from tests.conftest import authed_client, create_test_app
from tests.pulse import pulse_clip, skin_patch_clip

BATCH = 120


@pytest.fixture(autouse=True)
def _no_sessions_left_open(client):
    """Each test starts with none of this account's heart-rate sessions open: the app is shared by
    every test file, and the per-account cap (Settings.rppg_max_sessions_per_user) must not be met
    by sessions other tests left behind."""
    def close_all() -> None:
        for listed in client.get("/api/v1/rppg/sessions").get_json()["sessions"]:
            client.delete(f"/api/v1/rppg/sessions/{listed['id']}")

    close_all()
    yield
    close_all()


def _b64(rgb, quality=90):
    return base64.b64encode(synthetic.encode(rgb, quality=quality)).decode()


def test_a_device_posting_face_frames_gets_its_heart_rate(client):
    created = client.post("/api/v1/rppg/sessions")
    assert created.status_code == 201
    session = created.get_json()["id"]
    assert created.get_json()["status"] == "collecting"
    frames = [{"image": _b64(frame), "timestamp": t} for t, frame in pulse_clip(72, seconds=12, seed=8)]
    for start in range(0, len(frames), BATCH):
        response = client.post(f"/api/v1/rppg/sessions/{session}/frames", json={"frames": frames[start : start + BATCH]})
        assert response.status_code == 200, response.get_json()
    status = client.get(f"/api/v1/rppg/sessions/{session}").get_json()
    assert status["status"] == "ready"
    assert status["heart_rate_bpm"] == pytest.approx(72, abs=3)
    assert status["faces_found"] == len(frames)
    assert status["frames_buffered"] <= 30 * 10 + 5  # the buffer holds one 10 s window, not the whole post
    assert any(s["id"] == session for s in client.get("/api/v1/rppg/sessions").get_json()["sessions"])
    assert client.delete(f"/api/v1/rppg/sessions/{session}").status_code == 204
    assert client.get(f"/api/v1/rppg/sessions/{session}").status_code == 404


def test_pre_cropped_skin_frames_work_without_a_face_and_without_timestamps(client):
    session = client.post("/api/v1/rppg/sessions", json={"roi": "full"}).get_json()["id"]
    response = client.post(f"/api/v1/rppg/sessions/{session}/frames",
                           json={"image": _b64(skin_patch_clip(90, seconds=1)[0])})
    body = response.get_json()
    assert response.status_code == 200 and body["accepted"] == 1 and body["frames_buffered"] == 1
    assert body["heart_rate_bpm"] is None and "5 s" in body["reason"]  # one frame is not a heart rate


def test_a_frame_without_a_face_is_counted_not_refused(client):
    session = client.post("/api/v1/rppg/sessions").get_json()["id"]
    blank = synthetic.blurred(synthetic.astronaut_face(), 1) * 0
    body = client.post(f"/api/v1/rppg/sessions/{session}/frames", json={"image": _b64(blank)}).get_json()
    assert body["faces_in_post"] == 0 and body["status"] == "no_face"


@pytest.mark.parametrize(
    "payload, status, code",
    [
        ({"frames": [{"image": "!!!"}]}, 400, "bad_base64"),
        ({"frames": []}, 400, "bad_field_type"),
        ({"frames": [{"picture": "x"}]}, 400, "missing_field"),
        ({"image": "aGVsbG8=", "timestamp": "noon"}, 400, "bad_field_type"),
        ({"image": base64.b64encode(b"plain text").decode()}, 415, "unsupported_media_type"),
        ({"frames": [{"image": "aGVsbG8="}] * 301}, 413, "too_large"),
        (["not", "an", "object"], 400, "bad_json_type"),
    ],
)
def test_bad_frames_get_the_error_shape(client, payload, status, code):
    session = client.post("/api/v1/rppg/sessions").get_json()["id"]
    response = client.post(f"/api/v1/rppg/sessions/{session}/frames", json=payload)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_unknown_sessions_and_bad_roi(client):
    assert client.post("/api/v1/rppg/sessions/nope/frames", json={"image": "x"}).status_code == 404
    assert client.delete("/api/v1/rppg/sessions/nope").get_json()["error"]["code"] == "session_not_found"
    assert client.post("/api/v1/rppg/sessions", json={"roi": "hands"}).status_code == 400


def test_sessions_beyond_the_cap_are_refused_with_429():
    client = authed_client(create_test_app(Settings(rppg_max_sessions=3)))
    for _ in range(3):
        assert client.post("/api/v1/rppg/sessions").status_code == 201
    refused = client.post("/api/v1/rppg/sessions")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_sessions"


def test_idle_sessions_expire_and_free_their_place():
    now = [0.0]
    store = RppgSessionStore(max_sessions=1, idle_s=300, method="pos", window_s=10, clock=lambda: now[0])
    first = store.create()
    now[0] = 299.0
    assert store.get(first.id) is first
    with pytest.raises(InputProblem):
        store.create()  # still full
    now[0] = 301.0
    with pytest.raises(InputProblem) as gone:
        store.get(first.id)
    assert gone.value.code == "session_not_found"
    assert store.create() is not None


def _user_client(app, name):
    from server.store.accounts import create_token, create_user

    db = app.extensions["painscope"].db
    create_user(db, name, "a long enough password")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(db, name)[1]}"
    return client


def test_a_session_belongs_to_its_creator_and_only_admins_see_the_others():
    app = create_test_app()
    alice, bob, admin = _user_client(app, "alice"), _user_client(app, "bob"), authed_client(app)
    session = alice.post("/api/v1/rppg/sessions").get_json()["id"]
    assert [s["id"] for s in alice.get("/api/v1/rppg/sessions").get_json()["sessions"]] == [session]
    assert bob.get("/api/v1/rppg/sessions").get_json()["sessions"] == []
    for response in (bob.get(f"/api/v1/rppg/sessions/{session}"),
                     bob.post(f"/api/v1/rppg/sessions/{session}/frames", json={"image": "aGVsbG8="}),
                     bob.delete(f"/api/v1/rppg/sessions/{session}")):
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "session_not_found"
    assert alice.get(f"/api/v1/rppg/sessions/{session}").status_code == 200  # bob's delete did nothing
    assert [s["id"] for s in admin.get("/api/v1/rppg/sessions").get_json()["sessions"]] == [session]
    assert admin.delete(f"/api/v1/rppg/sessions/{session}").status_code == 204


def test_one_account_cannot_fill_every_session_slot():
    app = create_test_app(Settings(rppg_max_sessions=5, rppg_max_sessions_per_user=2))
    greedy, other = _user_client(app, "greedy"), _user_client(app, "other")
    assert [greedy.post("/api/v1/rppg/sessions").status_code for _ in range(2)] == [201, 201]
    refused = greedy.post("/api/v1/rppg/sessions")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_sessions"
    assert "one account" in refused.get_json()["error"]["message"]
    assert other.post("/api/v1/rppg/sessions").status_code == 201  # the ward still gets one
