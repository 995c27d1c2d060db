"""On the real eventlet server, analysis runs off the event loop: others are served meanwhile."""
import threading

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
            health = requests.get(url + "/health", timeout=30).json()
            seen_analysing.append(health["live"]["analysing"])
            pages_ok += requests.get(url + "/", headers=server.headers, timeout=30).status_code == 200
        streamer.join(timeout=60)
        assert len(acks) == FRAMES and all(a["face"]["found"] for a in acks)
        # /health was answered *during* an analysis: the loop was not blocked by it.
        assert max(seen_analysing) >= 1, seen_analysing
        assert pages_ok >= 1
