"""PAINSCOPE_FHIR_URL: each saved scale assessment is queued in the same transaction (the outbox) and POSTed
to the FHIR server as a transaction Bundle, retried with back-off until accepted; tested against a small FHIR
endpoint on loopback that checks every Bundle with ``fhir.resources`` and can refuse or be down."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from fhir.resources.R4B.bundle import Bundle

from server.assess.fhir_push import FhirPusher
from server.config import Settings
from server.store import fhir_outbox
from server.store.db import FhirOutbox
from tests.conftest import authed_client, create_test_app
from tests.postgres_server import postgres_server
from tests.server_process import LOCALHOST, free_port

PAINAD = {"breathing": 1, "vocalization": 0, "face": 2, "body_language": 1, "consolability": 0}


class FhirEndpoint:
    """A FHIR server's transaction endpoint on loopback: validates each POST, answers 503 while ``refuse``."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.refuse = 0  # answer this many POSTs with 503 first
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if endpoint.refuse > 0:
                    endpoint.refuse -= 1
                    self._answer(503, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "transient", "diagnostics": "busy"}]})
                    return
                assert self.headers["Content-Type"] == "application/fhir+json"
                Bundle.model_validate(body)  # a malformed Bundle fails the test through the 500 below
                assert body["type"] == "transaction"
                endpoint.received.append(body)
                self._answer(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": [
                    {"response": {"status": "201 Created"}} for _ in body["entry"]]})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self.url = f"http://{LOCALHOST}:{self.server.server_address[1]}/fhir"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FhirEndpoint":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def endpoint() -> Iterator[FhirEndpoint]:
    with FhirEndpoint() as server:
        yield server


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture(params=("sqlite", "postgresql"))
def database_url(request) -> str:
    """The outbox's claims and times on each database ("" is SQLite in a fresh instance folder)."""
    return "" if request.param == "sqlite" else request.getfixturevalue("postgres").new_database()


def _save_painad(app) -> int:
    client = authed_client(app)
    patient = client.post("/api/v1/patients", json={"identifier": "MRN-PUSH-1", "display_name": "P"}).get_json()
    saved = client.post(f"/api/v1/patients/{patient['id']}/scale-assessments",
                        json={"scale": "painad", "items": PAINAD, "context": "rest"})
    assert saved.status_code == 201, saved.get_json()
    return saved.get_json()["id"]


def _row(app, assessment_id: int) -> int:
    with app.extensions["painscope"].db.session() as session:
        return session.query(FhirOutbox).filter_by(scale_assessment_id=assessment_id).one().id


def test_a_saved_scale_reaches_the_fhir_server_after_refusals_with_backoff(endpoint, database_url):
    app = create_test_app(Settings(fhir_url=endpoint.url, database_url=database_url))
    db = app.extensions["painscope"].db
    assessment_id = _save_painad(app)
    row = _row(app, assessment_id)  # queued with the assessment itself
    pusher = FhirPusher(db, endpoint.url, timeout_s=5)
    endpoint.refuse = 2
    now = dt.datetime.now(dt.timezone.utc)

    assert pusher.run_once(now) == (0, 1)
    attempts, sent, error, next_at = fhir_outbox.status(db, row)
    assert (attempts, sent) == (1, None) and error.startswith("HTTP 503")
    assert next_at == now + dt.timedelta(seconds=fhir_outbox.RETRY_BASE_S)
    assert pusher.run_once(now + dt.timedelta(seconds=1)) == (0, 0)  # not due yet: nothing sent
    assert pusher.run_once(next_at) == (0, 1)  # refused again: the wait doubles
    assert fhir_outbox.status(db, row)[3] == next_at + dt.timedelta(seconds=2 * fhir_outbox.RETRY_BASE_S)
    assert pusher.run_once(next_at + dt.timedelta(minutes=1)) == (1, 0)
    attempts, sent, error, _ = fhir_outbox.status(db, row)
    assert attempts == 3 and sent is not None and error is None
    assert fhir_outbox.pending(db) == 0
    assert pusher.run_once(next_at + dt.timedelta(hours=1)) == (0, 0)  # sent once, never again

    [bundle] = endpoint.received
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert [o["resource"]["valueInteger"] for o in observations] == [4]
    assert observations[0]["request"]["method"] == "PUT"
    assert observations[0]["request"]["url"].startswith("Observation?identifier=")


def test_with_the_fhir_server_down_nothing_is_lost(endpoint):
    down = f"http://{LOCALHOST}:{free_port()}/fhir"  # nobody listens there
    app = create_test_app(Settings(fhir_url=down))
    db = app.extensions["painscope"].db
    row = _row(app, _save_painad(app))
    now = dt.datetime.now(dt.timezone.utc)
    assert FhirPusher(db, down, timeout_s=2).run_once(now) == (0, 1)
    attempts, sent, error, next_at = fhir_outbox.status(db, row)
    assert attempts == 1 and sent is None and "Connection refused" in error
    assert FhirPusher(db, endpoint.url, timeout_s=5).run_once(next_at) == (1, 0)  # the server is back
    assert len(endpoint.received) == 1


def test_a_row_is_claimed_by_one_sender_only(endpoint, database_url):
    app = create_test_app(Settings(fhir_url=endpoint.url, database_url=database_url))
    db = app.extensions["painscope"].db
    _save_painad(app)
    now = dt.datetime.now(dt.timezone.utc)
    first = fhir_outbox.claim_due(db, now)
    assert len(first) == 1 and fhir_outbox.claim_due(db, now) == []  # another worker finds it leased
    later = now + dt.timedelta(seconds=fhir_outbox.CLAIM_LEASE_S + 1)  # a sender that died: leased out again
    assert [item.id for item in fhir_outbox.claim_due(db, later)] == [first[0].id]


def test_without_a_fhir_url_nothing_is_queued():
    app = create_test_app()
    _save_painad(app)
    assert fhir_outbox.pending(app.extensions["painscope"].db) == 0


def test_the_backoff_doubles_up_to_its_cap():
    assert [fhir_outbox.backoff_s(n) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert fhir_outbox.backoff_s(30) == fhir_outbox.RETRY_MAX_S


def test_the_running_server_sends_a_saved_scale_by_itself(endpoint):
    import time

    import requests

    from tests.server_process import ServerProcess

    env = {"PAINSCOPE_FHIR_URL": endpoint.url, "PAINSCOPE_FHIR_POLL_S": "0.5"}
    with ServerProcess(env=env) as server:
        patient = requests.post(f"{server.base_url}/api/v1/patients", headers=server.headers, timeout=30,
                                json={"identifier": "MRN-PUSH-LIVE"}).json()
        saved = requests.post(f"{server.base_url}/api/v1/patients/{patient['id']}/scale-assessments",
                              headers=server.headers, timeout=30,
                              json={"scale": "painad", "items": PAINAD, "context": "rest"})
        assert saved.status_code == 201
        deadline = time.monotonic() + 30
        while not endpoint.received and time.monotonic() < deadline:
            time.sleep(0.2)
    [bundle] = endpoint.received
    [patient_entry] = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patient_entry["resource"]["identifier"][0]["value"] == "MRN-PUSH-LIVE"
