"""Issue 25's Low rows about accounts and access: login timing, `next`, /health and /metrics, names whatever
their case, private instance files, formula-free CSV, and 413 for an oversized chunked body."""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import time

import pytest

from server.config import Settings
from server.store.accounts import AccountError, authenticate, create_token, create_user
from server.store.csv_cells import safe_cell
from tests.conftest import TEST_PASSWORD, TEST_USER, authed_client, create_test_app

SCRAPE_TOKEN = "scrape-token-for-the-tests"
TIMING_RUNS = 5


@pytest.fixture(scope="module")
def app():
    return create_test_app(Settings(metrics_token=SCRAPE_TOKEN, max_upload_bytes=1024 * 1024))


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _log_in(client, next_page: str, name: str = TEST_USER, password: str = TEST_PASSWORD):
    token = _csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": next_page})


def _fastest(fn, runs: int = TIMING_RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def test_an_unknown_name_takes_as_long_as_a_known_name_with_a_wrong_password(app):
    """Issue 25: 0.196 s for an unknown name, 0.100 s for a known one (scrypt ran twice): names leaked."""
    db = app.extensions["painscope"].db
    authenticate(db, "nobody at all", "warm-up")
    known = _fastest(lambda: authenticate(db, TEST_USER, "not the password"))
    unknown = _fastest(lambda: authenticate(db, "nobody at all", "not the password"))
    assert unknown < 1.4 * known and known < 1.4 * unknown, (known, unknown)


@pytest.mark.parametrize("target", ["/x\r\ny", "/x\ny", "/\\evil.example/", "/x\x00", "/x" + "a" * 3000])
def test_a_next_that_is_not_a_plain_path_here_goes_to_the_start_page(app, target):
    client = app.test_client()
    response = _log_in(client, target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    again = client.get("/login", query_string={"next": target})  # logged in now: sent on at once
    assert again.status_code == 302 and again.headers["Location"] == "/"
    assert _log_in(app.test_client(), "/patients?page=2").headers["Location"] == "/patients?page=2"


def test_health_tells_a_stranger_only_that_the_server_is_up(app):
    stranger = app.test_client().get("/health")
    assert stranger.status_code == 200 and stranger.get_json() == {"status": "ok"}
    for headers in ({"Authorization": f"Bearer {app.config['TEST_API_TOKEN']}"},
                    {"Authorization": f"Bearer {SCRAPE_TOKEN}"}):
        body = app.test_client().get("/health", headers=headers).get_json()
        assert body["worker"]["pid"] == os.getpid() and "estimators" in body and "live" in body


def test_metrics_are_for_admins_and_the_scrape_token(app):
    db = app.extensions["painscope"].db
    create_user(db, "a clinician", "a long enough password")
    clinician = {"Authorization": f"Bearer {create_token(db, 'a clinician')[1]}"}
    refused = app.test_client().get("/metrics", headers=clinician)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert authed_client(app).get("/metrics").status_code == 200  # the test account is an admin
    assert app.test_client().get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}).status_code == 200
    wrong = app.test_client().get("/metrics", headers={"Authorization": "Bearer not-the-scrape-token"})
    assert wrong.status_code == 401


def test_a_name_is_taken_whatever_its_case(app):
    db = app.extensions["painscope"].db
    create_user(db, "carol", "a long enough password")
    with pytest.raises(AccountError, match="already a user called 'carol'"):
        create_user(db, "Carol", "a long enough password")
    response = authed_client(app).post("/api/v1/users", json={"name": "CAROL", "password": "a long enough password"})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "bad_account"


def test_the_instance_folder_and_database_files_are_private_even_in_an_existing_folder(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)  # made by hand, open to everyone
    app = create_test_app(Settings(instance_dir=str(folder)))
    authed_client(app).post("/api/v1/patients", json={"identifier": "private-1"})  # a write: the WAL exists
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    made = sorted(p.name for p in folder.iterdir())
    assert "painscope.db" in made and "painscope.db-wal" in made
    for name in made:  # files for the owner only; folders in it (the jobs' spool) likewise, 0700
        expected = 0o700 if (folder / name).is_dir() else 0o600
        assert stat.S_IMODE((folder / name).stat().st_mode) == expected, name


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "-1+1", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_is_escaped_and_numbers_are_not(text):
    assert safe_cell(text) == "'" + text
    assert safe_cell(-1.5) == -1.5 and safe_cell("mild") == "mild"


def test_the_scales_csv_escapes_a_user_name_that_is_a_formula(app):
    db = app.extensions["painscope"].db
    name = '=HYPERLINK("http://evil.example","x")'
    create_user(db, name, "a long enough password")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(db, name)[1]}"
    patient = client.post("/api/v1/patients", json={"identifier": "csv-formula"}).get_json()["id"]
    items = {"breathing": 0, "vocalization": 1, "face": 2, "body_language": 1, "consolability": 0}
    saved = client.post(f"/api/v1/patients/{patient}/scale-assessments",
                        json={"scale": "painad", "items": items, "context": "rest"})
    assert saved.status_code == 201, saved.get_json()
    rows = list(csv.reader(io.StringIO(client.get(f"/api/v1/patients/{patient}/scale-assessments.csv")
                                       .get_data(as_text=True))))
    assert rows[1][5] == "'" + name
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_an_oversized_chunked_json_body_is_413_not_invalid_json(app):
    body = b'{"identifier": "' + b"a" * (2 * 1024 * 1024) + b'"}'  # twice the app's 1 MB
    response = authed_client(app).post("/api/v1/patients", input_stream=io.BytesIO(body),
                                       headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    assert response.status_code == 413
    small = b'{"identifier": "chunked-small"}'
    response = authed_client(app).post("/api/v1/patients", input_stream=io.BytesIO(small),
                                       headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    assert response.status_code == 201
