"""Patient records: the /api/v1/patients API, uploads and live streams saved for a patient, the audit log,
the /patients pages (each on SQLite and on PostgreSQL), the per-second summary, and what survives a killed server."""
from __future__ import annotations

import base64
import datetime as dt
import re
import warnings

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from server.store import records
from server.store.accounts import create_token, create_user
from server.config import Settings
from server.store.db import Assessment, AuditEvent, Reading
from server.store.live_recorder import LiveRecorder
from server.pain.estimate import make_estimate
from server.store.per_second import SecondSummary, summarise_seconds
from server.pain.result import Result
from server.vitals.vital_signs import TimedVitals, Vitals
from tests import media, synthetic
from tests.conftest import TEST_PASSWORD, TEST_USER, authed_client, create_test_app, live_call, live_client, multipart
from tests.postgres_server import postgres_server
from tests.jobs import post_job

NEUTRAL = synthetic.encode(synthetic.astronaut_face(), quality=85)
GRIMACE = synthetic.encode(synthetic.grimace(1.0), quality=85)
LIVE_FPS = 10
LIVE_SECONDS = 3.5  # frames over seconds 0, 1, 2 and half of 3: three seconds close, one stays partial
GRIMACE_FRAME_OF_SECOND = 5  # the one grimace frame of each second in the live recording test
PATIENTS = "/api/v1/patients"


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def app(request):
    """An app of its own on each database: these tests count patients, assessments and audit events."""
    if request.param == "sqlite":
        return create_test_app()
    return create_test_app(Settings(database_url=request.getfixturevalue("postgres").new_database()))


@pytest.fixture()
def client(app):
    return authed_client(app)


_identifiers = iter(range(1, 10_000))


def _new_patient(client, **fields) -> dict:
    body = {"identifier": f"MRN-{next(_identifiers):04d}", "display_name": "Test Patient", **fields}
    response = client.post(PATIENTS, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _db(app):
    return app.extensions["painscope"].db


def _actions(app, patient_id: int) -> list[str]:
    with _db(app).session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.patient_id == patient_id).order_by(AuditEvent.id)
        ).all()
        return [event.action for event in events]


def _readings_in_db(app, assessment_id: int) -> list[Reading]:
    with _db(app).session() as session:
        return list(session.scalars(
            select(Reading).where(Reading.assessment_id == assessment_id).order_by(Reading.offset_s)
        ).all())


# ---------------------------------------------------------------- the patients API


def test_a_patient_is_created_listed_found_and_read(client):
    created = _new_patient(client, display_name="Ada Example", notes="Allergic to latex.")
    assert created["display_name"] == "Ada Example" and created["notes"] == "Allergic to latex."
    assert created["created_by"] == TEST_USER and created["assessment_count"] == 0
    assert created["created_at"].endswith("Z")

    listed = client.get(PATIENTS).get_json()["patients"]
    entry = next(p for p in listed if p["id"] == created["id"])
    assert entry["identifier"] == created["identifier"] and "notes" not in entry  # notes only on the record
    found = client.get(PATIENTS, query_string={"q": "ada exa"}).get_json()["patients"]
    assert [p["id"] for p in found] == [created["id"]]
    assert client.get(PATIENTS, query_string={"q": "100%_"}).get_json()["patients"] == []  # no LIKE wildcards

    one = client.get(f"{PATIENTS}/{created['id']}").get_json()
    assert one["identifier"] == created["identifier"] and one["assessments"] == []
    assert client.post(PATIENTS, data={"identifier": "FORM-1", "display_name": "By form"}).status_code == 201


def test_a_duplicate_identifier_is_409_whatever_its_case(client):
    created = _new_patient(client)
    for identifier in (created["identifier"], created["identifier"].lower(), f"  {created['identifier']} "):
        response = client.post(PATIENTS, json={"identifier": identifier})
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "patient_exists"


@pytest.mark.parametrize("body, status, code", [
    ({"display_name": "No identifier"}, 400, "missing_field"),
    ({"identifier": "   "}, 400, "missing_field"),
    ({"identifier": 42}, 400, "bad_field_type"),
    ({"identifier": "X" * 65}, 422, "bad_patient"),
    ({"identifier": "A\x00B"}, 422, "bad_patient"),
    ({"identifier": "OK-1", "notes": "n" * 20_001}, 422, "bad_patient"),
    ({"identifier": "OK-2", "ward": "3"}, 400, "bad_parameter"),
])
def test_a_bad_patient_gets_the_error_shape(client, body, status, code):
    response = client.post(PATIENTS, json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code


def test_broken_json_and_unknown_patients_get_the_error_shape(client):
    response = client.post(PATIENTS, data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"
    for path in ("/999999", "/999999/readings", "/999999/readings.csv", "/99999999999999999999999"):
        response = client.get(PATIENTS + path)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "patient_not_found", path
    assert client.patch(f"{PATIENTS}/999999", json={"notes": "x"}).status_code == 404


def test_changing_a_patient_is_audited_and_the_identifier_stays(app, client):
    created = _new_patient(client)
    response = client.patch(f"{PATIENTS}/{created['id']}", json={"display_name": "New Name", "notes": "Line 1\nLine 2"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["display_name"] == "New Name" and body["notes"] == "Line 1\nLine 2"
    assert body["changed"] == ["display_name", "notes"]
    assert client.patch(f"{PATIENTS}/{created['id']}", json={"notes": "Line 1\nLine 2"}).get_json()["changed"] == []
    refused = client.patch(f"{PATIENTS}/{created['id']}", json={"identifier": "OTHER"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_parameter"
    assert client.patch(f"{PATIENTS}/{created['id']}", json={}).status_code == 400
    assert _actions(app, created["id"]) == ["create", "change"]  # an unchanged save is not a change


def test_the_audit_log_is_for_admins_and_says_who_did_what(app, client):
    db = _db(app)
    create_user(db, "nurse", "a nurse password, long enough")
    nurse = app.test_client()
    nurse.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(db, 'nurse')[1]}"
    created = _new_patient(client)
    pid = created["id"]
    assert nurse.get(f"{PATIENTS}/{pid}/readings").status_code == 200  # a clinician may read the record...
    assert nurse.get(f"{PATIENTS}/{pid}/readings.csv").status_code == 200
    refused = nurse.get(f"{PATIENTS}/{pid}/audit")  # ...but not the audit log
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"

    events = client.get(f"{PATIENTS}/{pid}/audit").get_json()["events"]
    assert [(e["action"], e["user"]) for e in reversed(events)] == [
        ("create", TEST_USER), ("view", "nurse"), ("export", "nurse"),
    ]
    assert all(e["patient_id"] == pid and e["at"].endswith("Z") for e in events)


def test_without_a_login_the_records_are_closed(app):
    anonymous = app.test_client()
    assert anonymous.get(PATIENTS).status_code == 401
    assert anonymous.post(PATIENTS, json={"identifier": "X"}).status_code == 401
    assert anonymous.get("/patients").status_code == 302  # to the login page


# ---------------------------------------------------------------- uploads saved for a patient


def _post(client, url, query="", **fields):
    return post_job(client, url + query, data=multipart(**fields), content_type="multipart/form-data")


def test_a_photo_with_a_patient_id_is_stored_as_one_reading(app, client):
    patient = _new_patient(client)
    response = _post(client, "/api/v1/analyze/image", image=GRIMACE, reference=NEUTRAL, patient_id=str(patient["id"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["record"]["readings"] == 1
    data = client.get(f"{PATIENTS}/{patient['id']}/readings").get_json()
    [assessment] = data["assessments"]
    assert assessment["id"] == body["record"]["assessment_id"]
    assert assessment["kind"] == "photo" and assessment["modalities"] == ["face"] and assessment["user"] == TEST_USER
    assert assessment["estimator"] == "geometry" and assessment["ended_at"] is not None
    [reading] = data["readings"]
    assert reading["pspi"] == body["pain"]["pspi"] and reading["level"] == body["pain"]["level"]
    assert reading["action_units"] == body["pain"]["action_units"]
    assert reading["confidence"] == body["pain"]["confidence"]
    assert reading["offset_s"] == 0.0 and reading["frames"] == 1 and reading["face_share"] == 1.0
    assert reading["heart_rate_bpm"] is None  # a photo alone has no heart rate
    assert _actions(app, patient["id"]) == ["create", "record", "view"]

    json_photo = client.post("/api/v1/analyze/image", json={"image": _b64(NEUTRAL), "patient_id": patient["id"]})
    assert json_photo.status_code == 200 and json_photo.get_json()["record"]["readings"] == 1
    query_photo = _post(client, "/api/v1/analyze/image", f"?patient_id={patient['id']}", image=NEUTRAL)
    assert query_photo.get_json()["record"]["assessment_id"] > json_photo.get_json()["record"]["assessment_id"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_without_a_patient_id_nothing_is_stored(app, client):
    with _db(app).session() as session:
        before = session.scalar(select(func.count()).select_from(Assessment))
    body = _post(client, "/api/v1/analyze/image", image=NEUTRAL, patient_id="").get_json()
    assert "record" not in body and "error" not in body
    with _db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(Assessment)) == before


@pytest.mark.parametrize("value, status, code", [
    ("999999", 404, "patient_not_found"), ("0", 404, "patient_not_found"), ("abc", 400, "bad_parameter"),
    ("1.5", 400, "bad_parameter"), ("99999999999999999999", 404, "patient_not_found"),
])
def test_uploads_for_an_unknown_or_malformed_patient_get_the_error_shape(client, value, status, code):
    for url, field in (("/api/v1/analyze/image", "image"), ("/api/v1/analyze/video", "video")):
        response = _post(client, url, **{field: NEUTRAL, "patient_id": value})
        assert response.status_code == status, (url, response.get_json())
        assert response.get_json()["error"]["code"] == code


def test_a_photo_with_an_ecg_stores_the_ecg_heart_rate(client):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # neurokit2 imports scipy.misc
        import neurokit2 as nk

    rate, bpm = 250, 72
    ecg = nk.ecg_simulate(duration=30, sampling_rate=rate, heart_rate=bpm, noise=0.02, random_state=1)
    csv_text = "time,ecg\n" + "\n".join(f"{i / rate:.4f},{v:.6f}" for i, v in enumerate(ecg))
    patient = _new_patient(client)
    body = _post(client, "/api/v1/analyze/image", image=NEUTRAL, ecg=csv_text.encode(),
                 patient_id=str(patient["id"])).get_json()
    assert body["record"]["readings"] == 1
    data = client.get(f"{PATIENTS}/{patient['id']}/readings").get_json()
    assert data["assessments"][0]["modalities"] == ["face", "ecg"]
    assert data["readings"][0]["heart_rate_bpm"] == pytest.approx(bpm, abs=2)
    assert data["readings"][0]["heart_rate_quality"] == body["ecg"]["vitals"]["quality"]


def test_a_video_with_a_patient_id_is_stored_as_a_reading_per_second(app, client):
    fps = 10
    frames = [synthetic.astronaut_face()] * (4 * fps) + [synthetic.grimace(1.0)] * (2 * fps)
    video = media.write_video(frames, fps=fps)
    patient = _new_patient(client)
    response = _post(client, "/api/v1/analyze/video", video=video, patient_id=str(patient["id"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["record"]["readings"] == 6  # 6 s of video
    data = client.get(f"{PATIENTS}/{patient['id']}/readings").get_json()
    [assessment] = data["assessments"]
    assert assessment["kind"] == "video" and assessment["modalities"] == ["face", "rppg"]
    assert assessment["readings"] == 6 and assessment["max_pspi"] is not None
    readings = data["readings"]
    assert [r["offset_s"] for r in readings] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert sum(r["frames"] for r in readings) == len(body["timeline"])  # every sampled frame, once
    times = [dt.datetime.fromisoformat(r["t"].replace("Z", "+00:00")) for r in readings]
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:])] == [1.0] * 5
    # A second's PSPI is the (upper) median of its samples in the timeline.
    for reading in readings:
        second = sorted(e["pspi"] for e in body["timeline"] if int(e["t_s"] + 1e-6) == reading["offset_s"])
        assert reading["pspi"] == second[len(second) // 2]
    assert min(r["pspi"] for r in readings[4:]) > max(r["pspi"] for r in readings[:3])  # the grimace at 4-6 s


# ---------------------------------------------------------------- CSV


def test_the_csv_export_has_a_header_and_a_row_per_reading(app, client):
    patient = _new_patient(client, identifier="Bed 4/A")
    _post(client, "/api/v1/analyze/image", image=GRIMACE, reference=NEUTRAL, patient_id=str(patient["id"]))
    _post(client, "/api/v1/analyze/image", image=synthetic.encode(synthetic.blurred(synthetic.astronaut_face(), 1) * 0),
          patient_id=str(patient["id"]))  # no face: a reading with nothing measured
    response = client.get(f"{PATIENTS}/{patient['id']}/readings.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="patient-Bed_4_A-readings.csv"'
    lines = response.get_data(as_text=True).split("\r\n")
    assert lines[0] == ("time,assessment_id,kind,estimator,offset_s,pspi,level,confidence,"
                        "AU4,AU6,AU7,AU9,AU10,AU43,heart_rate_bpm,heart_rate_quality")
    assert lines[-1] == "" and len(lines) == 4
    pained, blank = (line.split(",") for line in lines[1:3])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", pained[0])
    assert pained[2:5] == ["photo", "geometry", "0.0"] and float(pained[5]) > 0 and pained[6] in ("moderate", "severe")
    assert blank[5:] == [""] * 11  # no face: every measurement empty, never 0
    assert _actions(app, patient["id"])[-1] == "export"


def test_the_csv_of_one_assessment(client):
    patient = _new_patient(client)
    first = _post(client, "/api/v1/analyze/image", image=NEUTRAL, patient_id=str(patient["id"])).get_json()
    _post(client, "/api/v1/analyze/image", image=GRIMACE, patient_id=str(patient["id"]))
    assessment = first["record"]["assessment_id"]
    text = client.get(f"{PATIENTS}/{patient['id']}/readings.csv?assessment_id={assessment}").get_data(as_text=True)
    assert [line.split(",")[1] for line in text.strip().split("\r\n")[1:]] == [str(assessment)]
    assert client.get(f"{PATIENTS}/{patient['id']}/readings?assessment_id=x").status_code == 400


# ---------------------------------------------------------------- live streams saved for a patient


def test_a_live_stream_commits_a_reading_per_second_before_acking_the_next(app, client, live):
    patient = _new_patient(client)
    started = live_call(live, "start", {"patient_id": patient["id"]})
    assert started["ok"] is True
    assessment_id = started["session"]["record"]["assessment_id"]
    t0_ms = 123_456.0  # a browser's performance.now(): seconds count from the first frame
    frames = int(LIVE_SECONDS * LIVE_FPS)
    for seq in range(frames):
        t_ms = t0_ms + seq * 1000.0 / LIVE_FPS
        # One grimace in each second (frame 5 of 10). A live frame reads the Face Landmarker scores of a
        # frame or two before (server/vision/face.py), so that grimace shows in up to three frames: still
        # a minority of the second.
        grimace = seq % LIVE_FPS == GRIMACE_FRAME_OF_SECOND
        ack = live_call(live, "frame", {"seq": seq, "t_ms": t_ms, "jpeg": GRIMACE if grimace else NEUTRAL})
        record = ack["record"]
        stored = _readings_in_db(app, assessment_id)
        assert record["assessment_id"] == assessment_id and "error" not in record
        # What an ack says is committed is in the database: no more, no less.
        assert record["readings_committed"] == len(stored)
        assert record["committed_through_s"] <= (stored[-1].offset_s + 1 if stored else 0.0)
        closed_seconds = int(seq / LIVE_FPS + 1e-9)  # the seconds before this frame's
        assert len(stored) == closed_seconds, seq
    assert [r.offset_s for r in _readings_in_db(app, assessment_id)] == [0.0, 1.0, 2.0]
    assert record["committed_through_s"] == 3.0

    stopped = live_call(live, "stop", {})
    assert stopped["frames_analysed"] == frames
    assert stopped["record"]["readings_committed"] == 4  # the partial second too
    assert stopped["record"]["committed_through_s"] == pytest.approx(LIVE_SECONDS - 1 / LIVE_FPS)
    stored = _readings_in_db(app, assessment_id)
    assert [r.frames for r in stored] == [10, 10, 10, 5] and all(r.face_found for r in stored)
    assert all(r.pspi is not None and r.level and r.action_units for r in stored)
    # one grimace among ten frames does not move the second's median
    assert all(r.level == "none" for r in stored[:3])
    data = client.get(f"{PATIENTS}/{patient['id']}/readings").get_json()
    [assessment] = data["assessments"]
    assert assessment["kind"] == "live" and assessment["modalities"] == ["face", "rppg"]
    assert assessment["ended_at"] is not None and assessment["user"] == TEST_USER
    assert "record" in _actions(app, patient["id"])


def test_a_disconnect_commits_the_partial_second_and_ends_the_assessment(app, client):
    patient = _new_patient(client)
    stream = live_client(app)
    started = live_call(stream, "start", {"patient_id": str(patient["id"]), "body": True})
    assessment_id = started["session"]["record"]["assessment_id"]
    for seq in range(3):
        live_call(stream, "frame", {"seq": seq, "t_ms": seq * 100.0, "jpeg": NEUTRAL})
    assert _readings_in_db(app, assessment_id) == []
    stream.disconnect(namespace="/live")
    [reading] = _readings_in_db(app, assessment_id)
    assert reading.frames == 3
    with _db(app).session() as session:
        assessment = session.get(Assessment, assessment_id)
        assert assessment.ended_at is not None and assessment.modalities == ["face", "rppg", "body"]


def test_a_stream_without_a_patient_is_not_recorded(live):
    started = live_call(live, "start", {})
    assert started["session"]["record"] is None
    ack = live_call(live, "frame", {"seq": 0, "t_ms": 0.0, "jpeg": NEUTRAL})
    assert "record" not in ack
    assert "record" not in live_call(live, "stop", {})


@pytest.mark.parametrize("value, code", [
    (999999, "patient_not_found"), (-3, "patient_not_found"), ("abc", "bad_parameter"), (True, "bad_parameter"),
    (1.5, "bad_parameter"), ([1], "bad_parameter"),
])
def test_a_live_start_for_an_unknown_or_malformed_patient_is_refused(live, value, code):
    reply = live_call(live, "start", {"patient_id": value})
    assert set(reply) == {"error"} and reply["error"]["code"] == code
    assert live_call(live, "frame", {"seq": 0, "t_ms": 0, "jpeg": NEUTRAL})["error"]["code"] == "no_session"


# ---------------------------------------------------------------- the recorder and the per-second summary


def _frame(pspi: float, face: bool = True, bpm: float | None = None, quality: str | None = None) -> Result:
    """A Result with a geometry-style estimate whose AUs add up to ``pspi`` (AU4 carries it)."""
    estimate = make_estimate({"AU4": pspi, "AU6": 0, "AU7": 0, "AU9": 0, "AU10": 0, "AU43": 0}, 0.8, "geometry",
                             "rolling")
    vitals = Vitals(heart_rate_bpm=bpm, quality=quality)
    return Result(face=_FACE if face else None, faces=(), pain=estimate if face else None, speech_text="",
                  timing_ms={}, vitals=vitals)


class _Face:  # Result only asks whether there is one
    pass


_FACE = _Face()
ORIGIN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_a_second_is_the_median_frame_not_the_mean():
    summary = SecondSummary(7)
    for pspi in (1.0, 1.2, 12.0, 1.1):  # one mis-tracked frame
        summary.add(_frame(pspi))
    summary.add(_frame(0.0, face=False))
    summary.add(_frame(2.0, bpm=71.0, quality="medium"))
    summary.add(_frame(1.3, bpm=None))  # a later frame without a rate keeps the last measured one
    row = summary.reading(ORIGIN)
    assert row.offset_s == 7.0 and row.t == ORIGIN + dt.timedelta(seconds=7)
    assert row.pspi == 1.3 and row.level == "mild"  # upper median of 1.0 1.1 1.2 1.3 2.0 12.0, and its level
    assert row.action_units["AU4"] == pytest.approx((1.0 + 1.2 + 12.0 + 1.1 + 2.0 + 1.3) / 6, abs=0.01)
    assert row.heart_rate_bpm == 71.0 and row.heart_rate_quality == "medium"
    assert row.frames == 7 and row.face_share == round(6 / 7, 3) and row.face_found is True


def test_a_second_without_a_face_measures_nothing():
    summary = SecondSummary(0)
    summary.add(_frame(0.0, face=False))
    row = summary.reading(ORIGIN)
    assert (row.pspi, row.level, row.confidence, row.action_units) == (None, None, None, None)
    assert row.face_found is False and row.face_share == 0.0


def test_a_video_heart_rate_series_lands_in_the_second_its_window_ends():
    samples = [(t / 5, _frame(1.0)) for t in range(15)]  # 3 s at 5 fps
    series = [TimedVitals(2.4, Vitals(heart_rate_bpm=80.0, quality="high")), TimedVitals(1.0, Vitals())]
    rows = summarise_seconds(samples, ORIGIN, series)
    assert [(r.offset_s, r.frames, r.heart_rate_bpm) for r in rows] == [(0.0, 5, None), (1.0, 5, None), (2.0, 5, 80.0)]


class _FlakyDatabase:
    """Wraps a Database; its next ``fail`` sessions raise as a locked database does."""

    def __init__(self, db, fail: int) -> None:
        self.db, self.fail = db, fail

    def session(self):
        if self.fail > 0:
            self.fail -= 1
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return self.db.session()


def test_a_failed_commit_is_retried_with_the_next_second_and_the_ack_says_so(app, client):
    patient = _new_patient(client)
    db = _db(app)
    recorder = LiveRecorder.start(db, patient["id"], None, "geometry", ["face"])
    recorder.db = _FlakyDatabase(db, fail=1)
    for t_ms in (0, 500, 1000):  # second 0 ends at 1000 ms: its commit fails
        recorder.add(t_ms, _frame(1.0))
    assert recorder.status()["readings_committed"] == 0 and recorder.status()["error"]["code"] == "record_failed"
    assert _readings_in_db(app, recorder.assessment_id) == []
    recorder.add(2000, _frame(1.0))  # second 1 ends: both go, in one transaction
    assert recorder.status() == {"assessment_id": recorder.assessment_id, "readings_committed": 2,
                                 "committed_through_s": 2.0}
    recorder.add(1500, _frame(3.0))  # a clock that goes back counts in the open second
    recorder.close()
    stored = _readings_in_db(app, recorder.assessment_id)
    assert [(r.offset_s, r.frames) for r in stored] == [(0.0, 2), (1.0, 1), (2.0, 2)]
    assert recorder.status()["readings_committed"] == 3


def test_records_refuse_what_they_do_not_know(app):
    db = _db(app)
    with pytest.raises(ValueError):
        records.record(db, None, "delete", None)
    with pytest.raises(ValueError):
        records.start_assessment(db, 1, None, "x-ray", "geometry", ["face"])


# ---------------------------------------------------------------- the pages


def _logged_in(app):
    """A test client logged in through the login form, as a browser is (cookie session, CSRF)."""
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = browser.post("/login", data={"name": TEST_USER, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return browser


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_patients_page_creates_a_patient_and_opens_its_history(app):
    browser = _logged_in(app)
    page = browser.get("/patients").get_data(as_text=True)
    assert 'id="new-patient-form"' in page and 'id="nav-patients"' in page
    refused = browser.post("/patients", data={"identifier": "PAGE-1"})  # no CSRF token
    assert refused.status_code == 400
    response = browser.post("/patients", data={"identifier": "PAGE-1", "display_name": "Page Patient",
                                               "notes": "", "csrf_token": _csrf(page)})
    assert response.status_code == 303
    history_url = response.headers["Location"]
    assert re.fullmatch(r"/patients/\d+", history_url)
    patient_id = int(history_url.rsplit("/", 1)[1])
    history = browser.get(history_url).get_data(as_text=True)
    for element in ("history-pspi-chart", "history-hr-chart", "history-csv", "history-print", "assessment-none",
                    "patient-edit-form"):
        assert f'id="{element}"' in history, element
    assert "PAGE-1 – Page Patient" in history
    again = browser.post("/patients", data={"identifier": "page-1", "csrf_token": _csrf(page)})
    assert again.status_code == 409 and "already exists" in again.get_data(as_text=True)

    saved = browser.post(history_url, data={"display_name": "Renamed", "notes": "Sleeps badly.",
                                            "csrf_token": _csrf(history)})
    assert saved.status_code == 303
    assert "Sleeps badly." in browser.get(saved.headers["Location"]).get_data(as_text=True)
    assert _actions(app, patient_id) == ["create", "view", "change", "view"]


def test_the_history_page_lists_the_assessments(app, client):
    patient = _new_patient(client)
    _post(client, "/api/v1/analyze/image", image=GRIMACE, reference=NEUTRAL, patient_id=str(patient["id"]))
    page = _logged_in(app).get(f"/patients/{patient['id']}").get_data(as_text=True)
    rows = re.findall(r'<tr data-assessment-id="(\d+)" data-kind="(\w+)">', page)
    assert len(rows) == 1 and rows[0][1] == "photo"
    assert 'id="assessment-none"' not in page


def test_the_index_page_has_the_patient_picker(app):
    page = _logged_in(app).get("/").get_data(as_text=True)
    assert 'id="patient-select"' in page and 'id="nav-assess"' in page


@pytest.mark.parametrize("value", [str(2**63), str(2**31), "9" * 30, "9" * 5000])
def test_an_assessment_id_beyond_any_row_is_a_400_not_a_500(client, value):
    patient = _new_patient(client)
    for suffix in ("readings", "readings.csv"):
        response = client.get(f"{PATIENTS}/{patient['id']}/{suffix}?assessment_id={value}")
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_parameter", value


def test_a_full_disk_is_a_503_record_failed_not_a_500():
    from sqlalchemy import event

    app = create_test_app()
    client = authed_client(app)
    db = app.extensions["painscope"].db
    _new_patient(client)

    def disk_full(dbapi_connection, _record):  # SQLite's own size cap: the same SQLITE_FULL as a full disk
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(db.engine, "connect", disk_full)
    db.engine.dispose()  # new connections from now on
    for number in range(200):
        response = client.post(PATIENTS, json={"identifier": f"FULL-{number}", "notes": "n" * 19_000})
        if response.status_code != 201:
            break
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "record_failed"
    assert "Traceback" not in response.get_data(as_text=True)
    event.remove(db.engine, "connect", disk_full)
    db.engine.dispose()
    assert client.get(PATIENTS).status_code == 200  # space again: the server serves as before
