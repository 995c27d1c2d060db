"""Who may see what: every route refuses a stranger, tokens and logins work, CSRF, throttling, headers, CLI."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest
from werkzeug.routing import Rule

from server import socketio_of
from server.store.accounts import create_token, create_user, revoke_token
from server.config import Settings, secret_key
from server.web.security.auth import MACHINE_BLUEPRINTS, MACHINE_ENDPOINTS
from tests import synthetic
from tests.conftest import TEST_PASSWORD, TEST_USER, authed_client, create_test_app
from tests.server_process import REPO_ROOT

OPEN_ENDPOINTS = {"health.get_health", "auth.login", "static"}
PHOTO = synthetic.encode(synthetic.astronaut_face())


@pytest.fixture(scope="module")
def app():
    return create_test_app()


def _url(rule: Rule) -> str:
    """The rule's path with a plausible value for every variable."""
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) == "int" else "x", rule.rule)


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, _url(rule), rule


def test_every_route_refuses_a_stranger(app):
    client = app.test_client()
    walked = set()
    for method, url, rule in _routes(app):
        response = client.open(url, method=method)
        walked.add(rule.rule)
        machine = rule.endpoint in MACHINE_ENDPOINTS or rule.endpoint.split(".")[0] in MACHINE_BLUEPRINTS
        if url.startswith("/api/") or machine:
            assert response.status_code == 401, (method, url)
            assert response.get_json()["error"]["code"] == "unauthorized", (method, url)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
    # the walk covers the pages and every kind of API, not a handful
    assert {"/", "/logout", "/api/v1/analyze/image", "/api/v1/analyze/video", "/api/v1/analyze/ecg",
            "/api/v1/analyze/body", "/api/v1/rppg/sessions", "/api/v1/speech.wav", "/api/v1/users",
            "/metrics", "/upload-video", "/create-session", "/session/<session_id>"} <= walked


def test_a_stranger_cannot_open_the_live_namespace(app):
    anonymous = socketio_of(app).test_client(app, namespace="/live")
    assert not anonymous.is_connected("/live")
    forged = socketio_of(app).test_client(app, namespace="/live", auth={"token": "ps_not-a-real-token"})
    assert not forged.is_connected("/live")


def test_health_and_the_login_page_are_open(app):
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert 'id="login-form"' in client.get("/login").get_data(as_text=True)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _log_in(client, name=TEST_USER, password=TEST_PASSWORD, next_page="/"):
    token = _csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": next_page})


def test_logging_in_opens_the_pages_and_logging_out_closes_them(app):
    client = app.test_client()
    response = _log_in(client, next_page="/?tab=live")
    assert response.status_code == 302 and response.headers["Location"] == "/?tab=live"
    page = client.get("/")
    assert page.status_code == 200 and TEST_USER in page.get_data(as_text=True)
    cookie = next(c for c in client._cookies.values() if c.key == "session")
    assert cookie.http_only and cookie.same_site == "Lax"
    token = _csrf(page.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_login_never_sends_the_user_to_another_site(app):
    response = _log_in(app.test_client(), next_page="https://evil.example/steal")
    assert response.headers["Location"] == "/"
    response = _log_in(app.test_client(), next_page="//evil.example/")
    assert response.headers["Location"] == "/"


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled():
    app = create_test_app(Settings(login_max_failures=3))
    client = app.test_client()
    for _ in range(3):
        refused = _log_in(client, password="not the password")
        assert refused.status_code == 401 and "Wrong name or password" in refused.get_data(as_text=True)
    throttled = _log_in(client)  # even the right password waits now
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert "Too many failed logins" in throttled.get_data(as_text=True)


def test_csrf_blocks_a_forged_form_and_a_cookie_call_without_the_token(app):
    client = app.test_client()
    forged_login = client.post("/login", data={"name": TEST_USER, "password": TEST_PASSWORD})
    assert forged_login.status_code == 400
    _log_in(client)
    page = client.get("/").get_data(as_text=True)
    forged = client.post("/logout")  # another site's form: no token
    assert forged.status_code == 400 and forged.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/").status_code == 200  # still logged in
    no_token = client.post("/api/v1/analyze/image", data=PHOTO, content_type="image/jpeg")
    assert no_token.status_code == 400 and no_token.get_json()["error"]["code"] == "csrf_failed"
    with_token = client.post("/api/v1/analyze/image", data=PHOTO, content_type="image/jpeg",
                             headers={"X-CSRFToken": re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)})
    assert with_token.status_code == 200


def test_tokens_work_and_revoked_or_unknown_tokens_do_not(app):
    db = app.extensions["painscope"].db
    create_user(db, "device-owner", "a long enough password")
    token_id, token = create_token(db, "device-owner", "bedside tablet")
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    accepted = client.post("/api/v1/analyze/image", data=PHOTO, content_type="image/jpeg", headers=bearer)
    assert accepted.status_code == 200
    assert client.get("/", headers=bearer).status_code == 200  # a token opens pages too (kiosk scripts)
    revoke_token(db, token_id)
    assert client.post("/api/v1/analyze/image", data=PHOTO, content_type="image/jpeg",
                       headers=bearer).status_code == 401
    assert client.get("/api/v1/users", headers={"Authorization": "Bearer ps_madeup"}).status_code == 401


def test_only_admins_create_users(app):
    db = app.extensions["painscope"].db
    create_user(db, "plain-nurse", "a long enough password")
    _, nurse_token = create_token(db, "plain-nurse")
    nurse = app.test_client()
    nurse.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {nurse_token}"
    refused = nurse.post("/api/v1/users", json={"name": "intruder", "password": "a long enough password"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert nurse.get("/api/v1/users").status_code == 403
    admin = authed_client(app)
    made = admin.post("/api/v1/users", json={"name": "new-nurse", "password": "a long enough password"})
    assert made.status_code == 201 and made.get_json()["admin"] is False
    again = admin.post("/api/v1/users", json={"name": "new-nurse", "password": "a long enough password"})
    assert again.status_code == 422 and "already" in again.get_json()["error"]["message"]
    short = admin.post("/api/v1/users", json={"name": "x", "password": "short"})
    assert short.status_code == 422


def test_every_response_carries_the_security_headers(app):
    client = authed_client(app)
    for response in (client.get("/"), client.get("/health"), client.get("/api/v1/users"), client.get("/login")):
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_the_pages_have_no_inline_script_or_style(app):
    client = authed_client(app)
    for path in ("/", "/login"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert " onclick=" not in html and "javascript:" not in html, path


def test_the_secret_key_is_made_once_and_readable_by_its_owner_only(tmp_path):
    settings = Settings(instance_dir=str(tmp_path))
    first = secret_key(settings)
    assert secret_key(settings) == first and len(first) == 64
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def _cli(*args: str, instance: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PAINSCOPE_INSTANCE_DIR": instance}
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_the_command_line_creates_users_and_tokens_and_revokes_them(tmp_path):
    instance = str(tmp_path)
    made = _cli("users", "create", "ward-admin", "--admin", "--password-stdin", instance=instance,
                stdin="a long enough password\n")
    assert made.returncode == 0, made.stderr
    short = _cli("users", "create", "x", "--password-stdin", instance=instance, stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    issued = _cli("tokens", "create", "ward-admin", "--label", "tablet", instance=instance)
    assert issued.returncode == 0, issued.stderr
    token_id = int(re.search(r"Token (\d+)", issued.stdout).group(1))
    token = re.search(r"(ps_\S+)", issued.stdout).group(1)
    app = create_test_app(Settings(instance_dir=instance))
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/users", headers=bearer).status_code == 200
    assert token not in _cli("tokens", "list", instance=instance).stdout  # stored hashed, never shown again
    assert _cli("tokens", "revoke", str(token_id), instance=instance).returncode == 0
    assert app.test_client().get("/api/v1/users", headers=bearer).status_code == 401


def test_the_first_run_makes_an_admin_with_a_random_password_once(tmp_path):
    from server.store.accounts import authenticate, ensure_first_admin
    from server.services import open_database

    db = open_database(Settings(instance_dir=str(tmp_path)))
    password = ensure_first_admin(db)
    assert password and len(password) >= 20 and authenticate(db, "admin", password).is_admin
    assert ensure_first_admin(db) is None  # a second start makes nobody and prints nothing
    assert ensure_first_admin(open_database(Settings(instance_dir=str(tmp_path / "other")))) != password
    db.dispose()


def test_a_cookie_copied_before_logout_is_refused_afterwards(app):
    client = app.test_client()
    _log_in(client)
    page = client.get("/").get_data(as_text=True)
    copied = next(c for c in client._cookies.values() if c.key == "session").value
    assert client.post("/logout", data={"csrf_token": _csrf(page)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    refused = thief.get("/api/v1/patients")
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert thief.get("/").status_code == 302  # the pages too
    # another login of the same user is a session of its own and still works
    other = app.test_client()
    _log_in(other)
    assert other.get("/api/v1/patients").status_code == 200


def test_failed_logins_for_one_account_do_not_lock_out_another_behind_the_same_address():
    app = create_test_app(Settings(login_max_failures=3))
    db = app.extensions["painscope"].db
    create_user(db, "colleague", "another long password")
    client = app.test_client()  # everyone here comes from one address (a reverse proxy, a NAT)
    for _ in range(3):
        assert _log_in(client, name="colleague", password="wrong guess!").status_code == 401
    assert _log_in(client, name="colleague", password="another long password").status_code == 429
    assert _log_in(app.test_client()).status_code == 302  # the tester is not locked out
    # guessing at many accounts from one address is throttled too, with a larger allowance
    for number in range(3 * 4):
        _log_in(client, name=f"guess-{number}", password="wrong guess!")
    assert _log_in(app.test_client()).status_code == 429


def test_forwarded_addresses_are_trusted_only_from_a_configured_proxy():
    def lock_out(app, forwarded_for):
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
        for _ in range(2):
            _log_in(client, password="not the password")
        return _log_in(client).status_code

    direct = create_test_app(Settings(login_max_failures=2))
    assert lock_out(direct, "203.0.113.7") == 429
    # without a trusted proxy, a forged header changes nothing: the attacker is still throttled
    forged = direct.test_client()
    forged.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"
    assert _log_in(forged).status_code == 429
    proxied = create_test_app(Settings(login_max_failures=2, trusted_proxies=1))
    assert lock_out(proxied, "203.0.113.7") == 429
    elsewhere = proxied.test_client()
    elsewhere.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"  # another client behind the proxy
    assert _log_in(elsewhere).status_code == 302


@pytest.mark.parametrize("body, why", [
    ({"name": "yes-admin", "password": "a long enough password", "admin": "yes"}, "admin"),
    ({"name": "one-admin", "password": "a long enough password", "admin": 1}, "admin"),
    ({"name": "\u0000", "password": "a long enough password"}, "control"),
    ({"name": "bell\u0007", "password": "a long enough password"}, "control"),
    ({"name": "x" * 81, "password": "a long enough password"}, "80"),
])
def test_the_users_api_takes_only_strict_booleans_and_printable_names(app, body, why):
    response = authed_client(app).post("/api/v1/users", json=body)
    assert response.status_code in (400, 422), response.get_json()
    assert why in response.get_json()["error"]["message"]
    names = [u["name"] for u in authed_client(app).get("/api/v1/users").get_json()]
    assert body["name"] not in names
