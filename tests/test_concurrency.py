"""On the real eventlet server, analysis runs off the event loop: others are served meanwhile."""
import threading
import time

import cv2
import requests
import socketio

from tests import synthetic
from tests.server_process import running_server

# A large frame (3000x3000) so each analysis takes long enough to be caught in progress.
HEAVY_FRAME = synthetic.encode(cv2.resize(synthetic.grimace(1.0), (3000, 3000)), quality=90)
FRAMES = 15


def _stream(url: str, token: str, acks: list, done: threading.Event) -> None:
    client = socketio.Client()
    client.connect(url, namespaces=["/live"], transports=["websocket"], auth={"token": token})
    try:
        client.call("start", {}, namespace="/live", timeout=30)
        for seq in range(FRAMES):
            acks.append(client.call("frame", {"seq": seq, "t_ms": seq * 66.0, "jpeg": HEAVY_FRAME},
                                    namespace="/live", timeout=60))
        client.call("stop", {}, namespace="/live", timeout=30)
    finally:
        client.disconnect()
        done.set()


def test_health_and_pages_answer_while_a_stream_is_being_analysed():
    with running_server() as server:
        url = server.base_url
        acks: list = []
        done = threading.Event()
        streamer = threading.Thread(target=_stream, args=(url, server.token, acks, done), daemon=True)
        streamer.start()
        seen_analysing = []
        pages_ok = 0
        while not done.is_set():
            health = requests.get(url + "/health", headers=server.headers, timeout=30).json()
            seen_analysing.append(health["live"]["analysing"])
            pages_ok += requests.get(url + "/", headers=server.headers, timeout=30).status_code == 200
        streamer.join(timeout=60)
        assert len(acks) == FRAMES and all(a["face"]["found"] for a in acks)
        # /health was answered *during* an analysis: the loop was not blocked by it.
        assert max(seen_analysing) >= 1, seen_analysing
        assert pages_ok >= 1


SPEECH_REQUESTS = 20
SPEECH_TIMEOUT_S = 60.0  # the server's own deadline is 10 s a render; this only catches a jam
PHOTO = synthetic.encode(synthetic.grimace(1.0))


def test_overlapping_speech_requests_never_jam_the_server():
    """Issue 25: two overlapping speech.wav requests hung the engine for good, and after ~20 photo uploads,
    logins and streams timed out. Now 20 at once are each answered (a WAV, or 503 speech_unavailable when
    the voice is busy), and a photo upload and another phrase are answered afterwards."""
    with running_server() as server:
        url, headers = server.base_url, server.headers
        statuses: list[tuple[int, int]] = []

        def speak(i: int) -> None:
            text = "Mild pain." if i % 2 else f"Moderate pain. Heart rate {60 + i}."
            response = requests.get(url + "/api/v1/speech.wav", params={"text": text}, headers=headers,
                                    timeout=SPEECH_TIMEOUT_S)
            statuses.append((response.status_code, len(response.content)))

        threads = [threading.Thread(target=speak, args=(i,)) for i in range(SPEECH_REQUESTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SPEECH_TIMEOUT_S + 5)
        assert len(statuses) == SPEECH_REQUESTS, statuses
        assert all(code in (200, 503) for code, _ in statuses), statuses
        assert all(size > 1000 for code, size in statuses if code == 200), statuses  # never a 200 without sound
        assert sum(code == 200 for code, _ in statuses) >= SPEECH_REQUESTS // 2
        photo = requests.post(url + "/api/v1/analyze/image", files={"image": ("p.jpg", PHOTO)}, headers=headers,
                              timeout=30)
        assert photo.status_code == 200 and photo.json()["face"]["found"]
        again = requests.get(url + "/api/v1/speech.wav", params={"text": "Severe pain."}, headers=headers, timeout=30)
        assert again.status_code == 200 and again.content[:4] == b"RIFF"
        health = requests.get(url + "/health", headers=headers, timeout=10).json()
        assert health["live"]["analysing"] == 0


FIRST_UPLOADS = 6


def test_the_first_uploads_after_a_start_do_not_race_on_loading_mediapipe():
    """Issue 25: right after a start, 6 parallel photo uploads gave one 500 (an ImportError from a
    half-loaded mediapipe) in 3 starts of 3. MediaPipe now loads before the server serves. (One account
    sends all six here, so its cap on analyses under way is lifted: that cap is tests/test_fair_share.py's.)"""
    with running_server(env={"PAINSCOPE_MAX_ANALYSES_PER_USER": "0"}) as server:
        statuses: list[int] = []

        def upload() -> None:
            response = requests.post(server.base_url + "/api/v1/analyze/image", files={"image": ("p.jpg", PHOTO)},
                                     headers=server.headers, timeout=60)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=upload) for _ in range(FIRST_UPLOADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        assert statuses == [200] * FIRST_UPLOADS


STREAMS = 4  # Settings.live_max_streams_per_user: what one account may open
LIVE_FACE = synthetic.encode(synthetic.astronaut_face(), quality=80)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_closed_streams_give_their_memory_back():
    """Issue 25: 50 streams took RSS from 1.1 to 3.8 GB and only 0.2 GB came back after they closed.
    Measured here with 4 streams (~70 MB each): 12 open and closed kept 540 MB before, 50 MB now."""
    with running_server() as server:
        base = _rss_mb(server.pid)
        clients = []
        for _ in range(STREAMS):
            client = socketio.Client()
            client.connect(server.base_url, namespaces=["/live"], transports=["websocket"], auth={"token": server.token})
            assert client.call("start", {}, namespace="/live", timeout=60)["ok"] is True
            for seq in range(3):
                client.call("frame", {"seq": seq, "t_ms": seq * 66.0, "jpeg": LIVE_FACE}, namespace="/live", timeout=60)
            clients.append(client)
        opened = _rss_mb(server.pid)
        extra = socketio.Client()
        extra.connect(server.base_url, namespaces=["/live"], transports=["websocket"], auth={"token": server.token})
        assert extra.call("start", {}, namespace="/live", timeout=60)["error"]["code"] == "too_many_streams"
        extra.disconnect()
        for client in clients:
            client.call("stop", {}, namespace="/live", timeout=60)
            client.disconnect()
        time.sleep(1.0)
        closed = _rss_mb(server.pid)
        assert opened - base > 100, (base, opened)  # the streams did hold memory
        assert closed - base < 0.4 * (opened - base), (base, opened, closed)
