"""Issue 25's /live rows: a cap on an account's open streams, a rate limit on `start`, and client events
Socket.IO would have left unanswered (`connect`, `disconnect`, an empty event array)."""
from __future__ import annotations

import pytest

from server import socketio_of
from server.config import Settings
from server.store.accounts import create_token, create_user
from tests import synthetic
from tests.conftest import create_test_app, live_call, live_client

FACE = synthetic.encode(synthetic.astronaut_face(), quality=80)
MAX_STREAMS = 2
STARTS_PER_MINUTE = 6


@pytest.fixture(scope="module")
def limited_app():
    return create_test_app(Settings(live_max_streams_per_user=MAX_STREAMS,
                                    rate_limit_live_start=f"{STARTS_PER_MINUTE}/minute"))


def _other_account_client(app, name: str):
    db = app.extensions["painscope"].db
    create_user(db, name, "another long password")
    token = create_token(db, name, "tests")[1]
    return socketio_of(app).test_client(app, namespace="/live", auth={"token": token})


def test_an_account_may_have_only_so_many_streams_and_another_account_is_not_affected(limited_app):
    clients = [live_client(limited_app) for _ in range(MAX_STREAMS + 1)]
    other = _other_account_client(limited_app, "another ward")
    try:
        for client in clients[:MAX_STREAMS]:
            assert live_call(client, "start", {})["ok"] is True
        refused = live_call(clients[-1], "start", {})
        assert refused["error"]["code"] == "too_many_streams", refused
        assert str(MAX_STREAMS) in refused["error"]["message"]
        assert live_call(clients[0], "start", {})["ok"] is True  # restarting one's own stream is no new stream
        assert live_call(other, "start", {})["ok"] is True
        live_call(clients[0], "stop", {})  # a stopped stream frees its place
        assert live_call(clients[-1], "start", {})["ok"] is True
        assert "error" not in live_call(clients[-1], "frame", {"seq": 0, "t_ms": 0, "jpeg": FACE})
    finally:
        for client in [*clients, other]:
            client.disconnect(namespace="/live")


def test_starts_are_rate_limited_per_account(limited_app):
    client = _other_account_client(limited_app, "a starting loop")
    try:
        answers = [live_call(client, "start", {}) for _ in range(STARTS_PER_MINUTE + 3)]
        assert all(a.get("ok") for a in answers[:STARTS_PER_MINUTE - 1])  # the fixture's other tests use none
        refused = answers[-1]
        assert refused["error"]["code"] == "rate_limited" and refused["retry_after"] >= 1
        assert sum("error" in a for a in answers) >= 3
    finally:
        client.disconnect(namespace="/live")


@pytest.mark.parametrize("raw, code", [
    ('2/live,1["connect",{}]', "unknown_event"),
    ('2/live,2["disconnect",{}]', "unknown_event"),
    ("2/live,3[]", "bad_event"),
    ("2/live,4[7,{}]", "bad_event"),
    ('2/live,5{"event":"start"}', "bad_event"),
])
def test_events_socketio_keeps_for_itself_or_without_a_name_are_answered_and_change_nothing(app, raw, code):
    client = live_client(app)
    try:
        assert live_call(client, "start", {})["ok"] is True
        client.socketio.server._handle_eio_message(client.eio_sid, raw)
        ack = client.acks["args"][0]
        client.acks = None
        assert ack["error"]["code"] == code, ack
        assert client.is_connected("/live")
        # the stream is still there: a `disconnect` from the client did not end it
        assert "error" not in live_call(client, "frame", {"seq": 0, "t_ms": 0, "jpeg": FACE})
    finally:
        client.disconnect(namespace="/live")
