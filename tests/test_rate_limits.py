"""API rate limits (server/web/security/rate_limits.py): per account, two limits counted apart, 429 with Retry-After.

The app here has low limits (3 analysis calls and 5 other API calls a minute); each test uses
accounts of its own, so the counts of one test never reach another. Analysis calls are sent
empty: the limit is checked before the handler reads anything, so a refused body counts as a
call (and costs no analysis). Two limiters on one real Redis stand for two workers of a cluster
(tests/test_cluster.py checks it through nginx).
"""
from __future__ import annotations

import itertools

import pytest
from redis.exceptions import RedisError

from server import create_app
from server.config import Settings
from server.store.accounts import create_token, create_user
from server.web.security.limits_storage import limits_storage
from server.web.security.rate_limits import RateLimits
from tests.conftest import TEST_PASSWORD, create_test_app
from tests.redis_server import redis_server

ANALYSIS_LIMIT = 3
API_LIMIT = 5
WINDOW_S = 60
# Every kind of analysis call, so the test shows they share one count (sent empty: 4xx, never analysed).
ANALYSIS_CALLS = ("/api/v1/analyze/image", "/api/v1/analyze/ecg", "/analyze-image", "/api/v1/analyze/body",
                  "/upload-video", "/api/v1/rppg/sessions/no-such-session/frames")
_accounts = itertools.count()


@pytest.fixture(scope="module")
def app():
    return create_test_app(Settings(rate_limit_analysis=f"{ANALYSIS_LIMIT}/minute",
                                    rate_limit_api=f"{API_LIMIT}/minute"))


def account_client(app, admin: bool = False):
    """A test client with the API token of a new account of its own (``admin``: one that may read /metrics)."""
    name = f"user{next(_accounts)}"
    db = app.extensions["painscope"].db
    create_user(db, name, TEST_PASSWORD, admin=admin)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(db, name, 'tests')[1]}"
    return client


def analysis_call(client, n: int = 0):
    return client.post(ANALYSIS_CALLS[n % len(ANALYSIS_CALLS)], json={})


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.get_json()["error"]["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW_S


def test_the_call_over_the_analysis_limit_is_429_with_retry_after(app):
    client = account_client(app)
    for n in range(ANALYSIS_LIMIT):  # each a different endpoint: one count for all of them
        answer = analysis_call(client, n)
        assert answer.status_code in (400, 404, 415), (ANALYSIS_CALLS[n], answer.status_code)
    for n in range(len(ANALYSIS_CALLS)):
        assert_rate_limited(analysis_call(client, n))


def test_another_account_is_still_served(app):
    busy, other = account_client(app), account_client(app)
    for n in range(ANALYSIS_LIMIT):
        analysis_call(busy, n)
    assert_rate_limited(analysis_call(busy))
    assert analysis_call(other).status_code == 400


def test_health_metrics_and_pages_are_never_limited(app):
    client = account_client(app, admin=True)
    for n in range(ANALYSIS_LIMIT + API_LIMIT):
        analysis_call(client, n)
        client.get("/api/v1/patients")
    assert_rate_limited(client.get("/api/v1/patients"))
    for _ in range(API_LIMIT + 1):
        assert client.get("/health").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/").status_code == 200  # a page (the token is a login: no redirect)


def test_the_looser_limit_counts_apart_from_the_analysis_limit(app):
    client = account_client(app)
    for n in range(ANALYSIS_LIMIT):
        analysis_call(client, n)
    assert_rate_limited(analysis_call(client))
    for _ in range(API_LIMIT):  # analysis calls, served or refused, took nothing from this one
        assert client.get("/api/v1/patients").status_code == 200
    assert_rate_limited(client.get("/api/v1/patients"))
    assert_rate_limited(client.get("/sessions"))  # the seed's routes count with the API
    fresh = account_client(app)
    for _ in range(API_LIMIT):
        fresh.get("/api/v1/rppg/sessions")
    assert analysis_call(fresh).status_code == 400  # and the API calls took nothing from the analysis limit


def test_calls_without_a_login_are_counted_per_address(app):
    stranger = app.test_client()
    guesser = {"REMOTE_ADDR": "192.0.2.7", "HTTP_AUTHORIZATION": "Bearer ps_guessed"}
    for _ in range(API_LIMIT):
        assert stranger.get("/api/v1/patients", environ_overrides=guesser).status_code == 401
    assert_rate_limited(stranger.get("/api/v1/patients", environ_overrides=guesser))
    assert stranger.get("/api/v1/patients", environ_overrides={"REMOTE_ADDR": "192.0.2.8"}).status_code == 401


def test_a_limit_set_to_0_or_empty_is_off():
    limits = RateLimits(limits_storage(""), "0", "")
    assert all(limits.hit(kind, "account:1") is None for kind in ("analysis", "api") for _ in range(1000))


@pytest.mark.parametrize("value", ["ten a minute", "0/minute", "5/minute;100/hour"])
def test_a_bad_limit_stops_the_server_from_starting(value, tmp_path):
    with pytest.raises(ValueError, match="PAINSCOPE_RATE_LIMIT_API"):
        create_app(Settings(rate_limit_api=value, instance_dir=str(tmp_path)))


def test_two_workers_on_one_redis_share_the_count_and_a_dead_redis_is_an_error():
    with redis_server() as redis:
        workers = [RateLimits(limits_storage(redis.url), f"{ANALYSIS_LIMIT}/minute", "") for _ in range(2)]
        for n in range(ANALYSIS_LIMIT):
            assert workers[n % 2].hit("analysis", "account:1") is None
        for worker in workers:
            assert 1 <= worker.hit("analysis", "account:1") <= WINDOW_S
            assert worker.hit("analysis", "account:2") is None
        redis.stop()
        with pytest.raises(RedisError):  # the app answers it with 503 shared_state_unavailable
            workers[0].hit("analysis", "account:1")
