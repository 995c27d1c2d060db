"""The HTTP API through Flask's test client: results, overlays, videos, speech and every bad input."""
import base64
import io

import numpy as np
import pytest
from PIL import Image

from server.config import Settings
from tests import media, synthetic
from tests.conftest import authed_client, create_test_app, multipart
from tests.jobs import post_job

NEUTRAL = synthetic.encode(synthetic.astronaut_face())
GRIMACE = synthetic.encode(synthetic.grimace(1.0))


def _post_image(client, query="", **fields):
    return client.post("/api/v1/analyze/image" + query, data=multipart(**fields), content_type="multipart/form-data")


def test_health_reports_estimators_and_speech(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    by_name = {e["name"]: e for e in body["estimators"]}
    assert by_name["geometry"]["available"] is True
    assert by_name["resnet18"]["available"] is False  # no trained weights ship


def test_a_grimace_against_a_neutral_reference_reads_as_pain(client):
    response = _post_image(client, "?overlay=1", image=GRIMACE, reference=[NEUTRAL])
    assert response.status_code == 200
    body = response.get_json()
    assert body["face"]["found"] is True and body["face"]["landmarks"] == 478
    pain = body["pain"]
    assert pain["level"] in ("moderate", "severe")
    assert pain["calibrated"] is True and pain["baseline"] == "reference"
    assert set(pain["action_units"]) == {"AU4", "AU6", "AU7", "AU9", "AU10", "AU43"}
    assert sum(pain["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert 0.0 < pain["confidence"] <= 1.0
    assert body["speech"]["text"].startswith(pain["level"].capitalize())
    png = base64.b64decode(body["overlay_png"].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).format == "PNG"


def test_the_same_face_as_its_own_reference_is_no_pain(client):
    body = _post_image(client, image=NEUTRAL, reference=[NEUTRAL]).get_json()
    assert body["pain"]["level"] == "none"
    assert body["speech"]["text"] == "No pain detected."


def test_without_reference_the_result_says_it_is_uncalibrated(client):
    pain = _post_image(client, image=GRIMACE).get_json()["pain"]
    assert pain["calibrated"] is False and pain["baseline"] == "population"


def test_json_with_base64_and_data_urls_works(client):
    body = {
        "image": "data:image/jpeg;base64," + base64.b64encode(GRIMACE).decode(),
        "reference": [base64.b64encode(NEUTRAL).decode()],
    }
    response = client.post("/api/v1/analyze/image", json=body)
    assert response.status_code == 200
    assert response.get_json()["pain"]["baseline"] == "reference"


def test_a_photo_without_a_face_is_200_with_no_pain(client):
    blank = synthetic.encode(np.full((300, 300, 3), 200, np.uint8))
    body = _post_image(client, image=blank).get_json()
    assert body["face"]["found"] is False and body["pain"] is None
    assert body["speech"]["text"] == "No face found."


def test_with_two_faces_the_largest_is_the_patient_unless_asked(client):
    big = synthetic.astronaut_face()
    small = np.zeros_like(big)
    small[120:360, 120:360] = synthetic.astronaut_face()[::2, ::2]
    photo = synthetic.encode(media.side_by_side(big, small))
    first = _post_image(client, image=photo).get_json()
    assert first["face"]["count"] == 2
    areas = [f["box"][2] * f["box"][3] for f in first["faces"]]
    assert first["face"]["box"] == first["faces"][int(np.argmax(areas))]["box"]
    second = _post_image(client, "?face=1", image=photo).get_json()
    assert second["face"]["box"] != first["face"]["box"]
    missing = _post_image(client, "?face=5", image=photo)
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "face_index_out_of_range"


def test_an_estimator_without_a_model_is_a_clear_422(client):
    response = _post_image(client, "?estimator=resnet18", image=NEUTRAL)
    assert response.status_code == 422
    assert "trained model" in response.get_json()["error"]["message"]


def _bad_requests():
    video = media.write_video([synthetic.astronaut_face()] * 10, fps=10)
    return {
        "corrupt bytes": (dict(data=multipart(image=b"\xff\xd8\xff\xe0garbage"), content_type="multipart/form-data"), 400),
        "empty body": (dict(data=b""), 400),
        "text renamed .jpg": (dict(data={"image": (io.BytesIO(b"hello, world"), "face.jpg")},
                                   content_type="multipart/form-data"), 415),
        "1x1 image": (dict(data=multipart(image=media.png_of_size(1, 1)), content_type="multipart/form-data"), 422),
        "50 megapixels": (dict(data=multipart(image=media.png_of_size(8000, 6250)),
                               content_type="multipart/form-data"), 413),
        "wrong field name": (dict(data=multipart(photo=NEUTRAL), content_type="multipart/form-data"), 400),
        "wrong JSON type": (dict(json=["not", "an", "object"]), 400),
        "image not a string": (dict(json={"image": 42}), 400),
        "broken JSON": (dict(data="{oops", content_type="application/json"), 400),
        "reference without a face": (dict(data=multipart(image=NEUTRAL, reference=[synthetic.encode(
            np.full((200, 200, 3), 90, np.uint8))]), content_type="multipart/form-data"), 422),
        "video sent as image": (dict(data=multipart(image=video), content_type="multipart/form-data"), 415),
        "bad face index": (dict(data=multipart(image=NEUTRAL, face="first"), content_type="multipart/form-data"), 400),
    }


@pytest.mark.parametrize("case", list(_bad_requests()))
def test_bad_image_input_gets_the_error_shape_and_the_server_keeps_serving(client, case):
    kwargs, status = _bad_requests()[case]
    response = client.post("/api/v1/analyze/image", **kwargs)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    assert "Traceback" not in error["message"]
    assert client.get("/health").status_code == 200


def test_an_upload_above_the_request_cap_is_413():
    app = create_test_app(Settings(max_upload_bytes=1024))
    response = authed_client(app).post("/api/v1/analyze/image", data=multipart(image=NEUTRAL),
                                      content_type="multipart/form-data")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_a_video_gives_a_timeline_a_summary_and_the_most_painful_frame(client):
    fps = 10
    frames = [synthetic.astronaut_face()] * (4 * fps) + [synthetic.grimace(1.0)] * (2 * fps)
    video = media.write_video(frames, fps=fps)
    response = post_job(client, "/api/v1/analyze/video", data=multipart(video=video), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(body["timeline"]) == 30  # 6 s sampled at 5 fps
    summary = body["summary"]
    assert summary["baseline"] == "rolling"  # learned from the video itself
    assert summary["max_pspi"] >= 5.5
    assert summary["seconds_by_level"]["none"] >= 3.0
    assert body["peak"]["pain"]["pspi"] == summary["max_pspi"]
    peak_times = [e["t_s"] for e in body["timeline"] if e["pspi"] == summary["max_pspi"]]
    assert min(peak_times) >= 4.0
    assert body["peak"]["overlay_png"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    "kwargs, status",
    [
        (dict(data=multipart(clip=b"x"), content_type="multipart/form-data"), 400),
        (dict(data=b""), 400),
        (dict(data=multipart(video=b"plain text, not a video"), content_type="multipart/form-data"), 415),
    ],
)
def test_bad_video_input_gets_the_error_shape(client, kwargs, status):
    response = post_job(client, "/api/v1/analyze/video", **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["code"]


def test_a_truncated_video_is_a_clear_400(client):
    video = media.write_video([synthetic.astronaut_face()] * 20, fps=10)
    response = post_job(client, "/api/v1/analyze/video", data=multipart(video=video[: len(video) // 2]),
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "corrupt_video"
    assert client.get("/health").status_code == 200


def test_speech_wav_speaks_the_phrase(client):
    response = client.get("/api/v1/speech.wav?text=Moderate%20pain.")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.data[:4] == b"RIFF" and len(response.data) > 10_000  # about a second of audio


@pytest.mark.parametrize("query", ["", "?text=", "?text=" + "a" * 1000])
def test_speech_wav_without_sensible_text_is_400(client, query):
    response = client.get("/api/v1/speech.wav" + query)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("missing_field", "bad_parameter")


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/api/v1/nothing").get_json()["error"]["code"] == "not_found"
    response = client.get("/api/v1/analyze/image")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_the_page_has_both_tabs(client):
    html = client.get("/").get_data(as_text=True)
    assert 'id="tab-upload"' in html and 'id="tab-live"' in html
    assert "not a medical device" in html


def test_a_video_reports_the_heart_rate_in_the_skin_and_says_it(client):
    from tests.pulse import pulse_clip

    video = media.write_video([frame for _, frame in pulse_clip(84, seconds=12, seed=2)], fps=30)
    body = post_job(client, "/api/v1/analyze/video", data=multipart(video=video),
                       content_type="multipart/form-data").get_json()
    vitals = body["vitals"]
    assert vitals["heart_rate_bpm"] == pytest.approx(84, abs=3)
    assert vitals["quality"] in ("high", "medium")
    assert vitals["series"] and all(entry["t_s"] >= 10 for entry in vitals["series"])
    assert len(vitals["waveform"]) > 100
    assert f"Heart rate {round(vitals['heart_rate_bpm'])}." in body["speech"]["text"]


@pytest.mark.parametrize("suffix, fourcc", [(".avi", "MJPG"), (".mov", "mp4v"), (".webm", "VP80")])
def test_every_accepted_container_is_read(client, suffix, fourcc):
    video = media.write_video([synthetic.astronaut_face()] * 20, fps=10, suffix=suffix, fourcc=fourcc)
    response = post_job(client, "/api/v1/analyze/video", data=multipart(video=video), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["summary"]["frames_with_face"] == 10


def test_a_video_of_a_moving_head_gives_no_heart_rate(client):
    from tests.pulse import pulse_clip

    frames = []
    for i, (_, frame) in enumerate(pulse_clip(84, seconds=8, seed=3)):
        shift = int(120 * np.sin(2 * np.pi * 0.5 * i / 30))  # the head sways by a face width every second
        frames.append(np.roll(frame, shift, axis=1))
    body = post_job(client, "/api/v1/analyze/video", data=multipart(video=media.write_video(frames, fps=30)),
                       content_type="multipart/form-data").get_json()
    assert body["vitals"]["heart_rate_bpm"] is None and body["vitals"]["reason"] == "too much motion"


DEEP = 100_000


@pytest.mark.parametrize("path", ["/api/v1/patients", "/api/v1/analyze/image", "/api/v1/users",
                                  "/api/v1/rppg/sessions", "/analyze-image", "/create-session"])
def test_deeply_nested_json_is_a_400_not_a_500(client, path):
    body = '{"identifier": ' + "[" * DEEP + "]" * DEEP + "}"
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert response.get_json()["error"]["code"] == "json_too_deep"
    modest = client.post(path, data='{"identifier": ' + "[" * 40 + "]" * 40 + "}", content_type="application/json")
    assert modest.status_code == 400 and modest.get_json()["error"]["code"] == "json_too_deep"


JSON_ROUTES = ["/api/v1/patients", "/api/v1/analyze/image", "/api/v1/users", "/api/v1/rppg/sessions",
               "/api/v1/rppg/sessions/{session}/frames", "/analyze-image", "/analyze-batch", "/create-session"]


@pytest.mark.parametrize("body, code", [("{not json", "invalid_json"), ('["a", "list"]', "bad_json_type")])
def test_a_body_that_is_not_a_json_object_is_refused_alike_on_every_json_route(client, body, code):
    session = client.post("/api/v1/rppg/sessions").get_json()["id"]
    try:
        answers = [client.post(path.format(session=session), data=body, content_type="application/json")
                   for path in JSON_ROUTES]
    finally:
        client.delete(f"/api/v1/rppg/sessions/{session}")
    assert [r.status_code for r in answers] == [400] * len(JSON_ROUTES)
    errors = {(r.get_json()["error"]["code"], r.get_json()["error"]["message"]) for r in answers}
    assert len(errors) == 1 and errors.pop()[0] == code


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_json_numbers_that_are_not_finite_are_refused(client, number):
    session = client.post("/api/v1/rppg/sessions").get_json()["id"]
    body = '{"image": "aGVsbG8=", "timestamp": %s}' % number
    response = client.post(f"/api/v1/rppg/sessions/{session}/frames", data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("estimator", [{"a": 1}, ["geometry"], 3, True])
def test_an_estimator_that_is_not_a_name_is_a_400(client, estimator):
    body = {"image": base64.b64encode(NEUTRAL).decode(), "estimator": estimator}
    response = client.post("/api/v1/analyze/image", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_parameter"


def test_a_chunked_upload_without_content_length_is_read_by_the_real_server():
    import requests

    from tests.server_process import running_server

    def chunks(data: bytes, size: int = 16 * 1024):
        for start in range(0, len(data), size):
            yield data[start : start + size]

    body, boundary = _multipart_bytes("image", NEUTRAL)
    settings = {"PAINSCOPE_MAX_UPLOAD_BYTES": str(len(body) + 1000)}
    with running_server(env=settings) as server:
        url = f"{server.base_url}/api/v1/analyze/image"
        headers = {**server.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        response = requests.post(url, data=chunks(body), headers=headers, timeout=120)  # a generator: chunked
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert response.status_code == 200, response.text
        assert response.json()["face"]["found"] is True
        raw = requests.post(url, data=chunks(NEUTRAL), timeout=120,
                            headers={**server.headers, "Content-Type": "image/jpeg"})
        assert raw.status_code == 200 and raw.json()["face"]["found"] is True
        too_big = requests.post(url, data=chunks(body + b"x" * 4096), headers=headers, timeout=120)
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_entity_too_large"


def _multipart_bytes(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "painscope-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary
