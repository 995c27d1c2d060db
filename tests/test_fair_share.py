"""Per-account cap on analyses under way (server/web/security/fair_share.py; issue 25)."""
from __future__ import annotations

import threading

import pytest

from server.config import Settings
from server.store.accounts import create_token, create_user
from server.web.security.fair_share import InProgress
from tests import synthetic
from tests.conftest import authed_client, create_test_app, multipart

PHOTO = synthetic.encode(synthetic.astronaut_face())


def test_slots_are_counted_per_account_and_given_back():
    slots = InProgress(2)
    assert slots.enter(1) and slots.enter(1)
    assert not slots.enter(1)
    assert slots.enter(2)  # another account has its own
    slots.leave(1)
    assert slots.enter(1)
    assert InProgress(0).enter(1)  # 0: no cap


@pytest.fixture(scope="module")
def one_at_a_time():
    return create_test_app(Settings(max_analyses_per_user=1))


def test_an_account_with_an_analysis_under_way_is_refused_a_second_while_others_are_served(one_at_a_time, monkeypatch):
    app = one_at_a_time
    analyzer = app.extensions["painscope"].analyzer
    entered, release = threading.Event(), threading.Event()
    analyse = analyzer.analyze_image

    def slow_first(*args, **kwargs):
        if not entered.is_set():
            entered.set()
            release.wait(30)
        return analyse(*args, **kwargs)

    monkeypatch.setattr(analyzer, "analyze_image", slow_first)
    db = app.extensions["painscope"].db
    create_user(db, "second ward", "another long password")
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(db, 'second ward')[1]}"
    first: list = []

    def post(client, into):
        into.append(client.post("/api/v1/analyze/image", data=multipart(image=PHOTO),
                                content_type="multipart/form-data"))

    running = threading.Thread(target=post, args=(authed_client(app), first))
    running.start()
    try:
        assert entered.wait(30)
        refused: list = []
        post(authed_client(app), refused)
        assert refused[0].status_code == 429
        assert refused[0].get_json()["error"]["code"] == "too_many_analyses"
        assert refused[0].headers["Retry-After"] == "1"
        served: list = []
        post(other, served)
        assert served[0].status_code == 200
    finally:
        release.set()
        running.join(30)
    assert first[0].status_code == 200
    again: list = []
    post(authed_client(app), again)  # the slot came back when the first ended
    assert again[0].status_code == 200
