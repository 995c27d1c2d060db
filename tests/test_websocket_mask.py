"""The fast WebSocket unmasking gives exactly the bytes eventlet's own would, and the server uses it.

Every live frame a browser sends arrives masked; a wrong byte would corrupt the
JPEG (tests/test_concurrency.py sends 3000x3000 frames through the real server
over WebSocket and needs every face found).
"""
import os
import subprocess
import sys

import pytest
from eventlet.websocket import RFC6455WebSocket

from server.web.security.websocket_mask import apply_mask

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# eventlet's unmasking as shipped, kept before anything replaces it (create_app does, under eventlet)
EVENTLET_APPLY_MASK = RFC6455WebSocket.__dict__["_apply_mask"].__func__


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 7, 8, 1000, 28_345])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 6])
def test_unmasking_matches_eventlet_for_every_chunk_length_and_offset(length, offset):
    data = os.urandom(length + 3)  # longer than `length`: only the first `length` bytes are unmasked
    mask = tuple(os.urandom(4))
    assert apply_mask(data, mask, length=length, offset=offset) == EVENTLET_APPLY_MASK(
        data, mask, length=length, offset=offset
    )


def test_a_frame_unmasked_in_chunks_is_the_frame_the_browser_sent():
    frame = os.urandom(50_000)
    mask = tuple(os.urandom(4))
    masked = apply_mask(frame, mask)
    # the server reads a frame in chunks as they arrive, the key continuing from the bytes before
    chunks, received = [], 0
    for size in (1, 4095, 13, 20_000, 50_000):
        piece = masked[received:received + size]
        chunks.append(apply_mask(piece, mask, length=len(piece), offset=received))
        received += len(piece)
    assert b"".join(chunks) == frame


def test_the_eventlet_server_unmasks_with_it():
    code = (
        "import eventlet; eventlet.monkey_patch()\n"
        "import tempfile\n"
        "from server import create_app\n"
        "from server.config import Settings\n"
        "from eventlet.websocket import RFC6455WebSocket\n"
        "from server.web.security.websocket_mask import apply_mask\n"
        "create_app(Settings(instance_dir=tempfile.mkdtemp()))\n"
        "print(RFC6455WebSocket._apply_mask is apply_mask)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr[-2000:]
