"""GET /metrics: Prometheus text format, behind the login; request, live, session and analysis-stage figures.

Each test builds its own app (each has its own registry), so counts are exact.
No test asserts a wall-clock time.
"""
from __future__ import annotations

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from tests import media, synthetic
from tests.conftest import authed_client, create_test_app, live_client, multipart
from tests.jobs import post_job

NEUTRAL = synthetic.encode(synthetic.astronaut_face(), quality=85)


@pytest.fixture()
def app():
    return create_test_app()


def _scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == CONTENT_TYPE_LATEST
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def _call(client, event, data):
    return client.emit(event, data, namespace="/live", callback=True)


def test_metrics_need_a_login_or_a_token(app):
    stranger = app.test_client().get("/metrics")
    assert stranger.status_code == 401
    assert stranger.get_json()["error"]["code"] == "unauthorized"
    assert stranger.headers["WWW-Authenticate"].startswith("Bearer")
    assert "painscope_" not in stranger.get_data(as_text=True)
    samples = _scrape(authed_client(app))
    # the refusal itself was counted (the timer starts before the login check)
    assert _value(samples, "painscope_http_requests_total", method="GET", route="/metrics", status="401") == 1


def test_requests_are_counted_by_url_rule_and_status_never_by_raw_path(app):
    client = authed_client(app)
    photo = client.post("/api/v1/analyze/image", data=multipart(image=NEUTRAL), content_type="multipart/form-data")
    assert photo.status_code == 200
    assert client.get("/api/v1/no/such/thing").status_code == 404
    assert client.get("/api/v1/patients").status_code == 200
    assert client.get("/api/v1/patients").status_code == 200
    assert client.get("/api/v1/patients/987654").status_code == 404
    assert client.get("/api/v1/patients/987653").status_code == 404

    samples = _scrape(client)
    requests = "painscope_http_requests_total"
    assert _value(samples, requests, method="POST", route="/api/v1/analyze/image", status="200") == 1
    assert _value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert _value(samples, requests, method="GET", route="/api/v1/patients", status="200") == 2
    assert _value(samples, requests, method="GET", route="/api/v1/patients/<int:patient_id>", status="404") == 2
    durations = "painscope_http_request_duration_seconds_count"
    assert _value(samples, durations, method="GET", route="/api/v1/patients") == 2
    assert _value(samples, durations, method="POST", route="/api/v1/analyze/image") == 1
    assert _value(samples, "painscope_http_request_duration_seconds_bucket",
                  method="POST", route="/api/v1/analyze/image", le="+Inf") == 1
    routes = {dict(labels).get("route") for name, labels in samples if name.startswith("painscope_http_")}
    assert not any("987" in route for route in routes if route)  # the raw path never becomes a label
    assert routes - {None} <= {rule.rule for rule in app.url_map.iter_rules()} | {"unmatched"}

    stages = "painscope_analysis_stage_seconds_count"
    for stage in ("decode", "face", "pain", "total"):
        assert _value(samples, stages, source="image", stage=stage) == 1, stage


def test_a_request_that_fails_on_the_server_is_counted_once_as_500(app):
    def broken():
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/test-broken", "test_broken", broken)
    client = authed_client(app)
    assert client.get("/api/v1/test-broken").status_code == 500
    samples = _scrape(client)
    assert _value(samples, "painscope_http_requests_total",
                  method="GET", route="/api/v1/test-broken", status="500") == 1


def test_a_video_upload_records_its_total_analysis_time(app):
    client = authed_client(app)
    video = media.write_video([synthetic.astronaut_face()] * 10, fps=10)
    response = post_job(client, "/api/v1/analyze/video", data=multipart(video=video), content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    samples = _scrape(client)
    assert _value(samples, "painscope_analysis_stage_seconds_count", source="video", stage="total") == 1


def test_live_frames_streams_and_stage_timings(app):
    client = authed_client(app)
    live = live_client(app)
    try:
        before = _scrape(client)
        assert _value(before, "painscope_live_streams_open") == 0
        for outcome in ("analysed", "dropped", "error"):  # present at 0 before any frame
            assert (("painscope_live_frames_total", frozenset({("outcome", outcome)})) in before)

        assert _call(live, "start", {})["ok"] is True
        assert _value(_scrape(client), "painscope_live_streams_open") == 1
        for seq in range(3):
            assert _call(live, "frame", {"seq": seq, "t_ms": seq * 66.0, "jpeg": NEUTRAL})["face"]["found"] is True
        namespace = app.extensions["socketio"].server.namespace_handlers["/live"]
        stream = next(iter(namespace._streams.values()))
        stream.newest_seq = 10  # frame 10 arrived while frame 9 was waiting
        assert _call(live, "frame", {"seq": 9, "t_ms": 600.0, "jpeg": NEUTRAL}) == {"seq": 9, "dropped": True}
        corrupt = _call(live, "frame", {"seq": 11, "t_ms": 733.0, "jpeg": b"\xff\xd8\xff\xe0 broken"})
        assert corrupt["error"]["code"] == "corrupt_image"

        during = _scrape(client)
        frames = "painscope_live_frames_total"
        assert _value(during, frames, outcome="analysed") == 3
        assert _value(during, frames, outcome="dropped") == 1
        assert _value(during, frames, outcome="error") == 1
        assert _value(during, "painscope_live_streams_open") == 1
        stages = "painscope_analysis_stage_seconds_count"
        for stage in ("decode", "face", "vitals", "evidence", "pain", "total"):
            assert _value(during, stages, source="live", stage=stage) == 3, stage
        assert _value(during, stages, source="image", stage="face") == 0

        assert _call(live, "stop", {})["ok"] is True
        assert _value(_scrape(client), "painscope_live_streams_open") == 0
    finally:
        if live.is_connected(namespace="/live"):
            live.disconnect(namespace="/live")
    after = _scrape(client)
    assert _value(after, "painscope_live_streams_open") == 0
    # Socket.IO events are not HTTP requests: only the scrapes were counted
    assert {dict(labels)["route"] for name, labels in after if name == "painscope_http_requests_total"} == {"/metrics"}


def test_rppg_sessions_open_follows_create_and_delete(app):
    client = authed_client(app)
    gauge = "painscope_rppg_sessions_open"
    assert _value(_scrape(client), gauge) == 0
    first = client.post("/api/v1/rppg/sessions").get_json()["id"]
    client.post("/api/v1/rppg/sessions")
    assert _value(_scrape(client), gauge) == 2
    assert client.delete(f"/api/v1/rppg/sessions/{first}").status_code == 204
    assert _value(_scrape(client), gauge) == 1


def test_each_app_has_its_own_registry():
    one, two = create_test_app(), create_test_app()
    authed_client(one).get("/api/v1/patients")
    assert _value(_scrape(authed_client(two)), "painscope_http_requests_total",
                  method="GET", route="/api/v1/patients", status="200") == 0
