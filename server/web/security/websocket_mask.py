"""Unmasking the WebSocket frames a browser sends, at C speed, under eventlet.

RFC 6455 section 5.3: every frame from a client is XORed with a 4-byte key that
the server must undo. eventlet 0.41's ``RFC6455WebSocket._apply_mask`` undoes it
one byte at a time in Python, on the event loop: a 28 KB camera JPEG cost about
8 ms on a quiet machine (18 ms under load; measured here, see the docs/validation.md "Speed"),
the largest part of a live ack's time outside the analysis, and the loop serves
nothing else meanwhile. :func:`apply_mask` does the same XOR on two big integers,
which Python runs in C (about 0.01 ms for the same frame).
"""
from __future__ import annotations

from typing import Sequence

MASK_BYTES = 4  # RFC 6455 section 5.2: the masking key is 32 bits


def apply_mask(data: bytes, mask: Sequence[int], length: int | None = None, offset: int = 0) -> bytes:
    """``data[:length]`` XOR the key repeated, the key starting at byte ``offset`` of the frame.

    The same contract as eventlet's ``RFC6455WebSocket._apply_mask`` (it is called on
    each chunk of a frame as it arrives, ``offset`` being the bytes received before).
    """
    if length is None:
        length = len(data)
    if length <= 0:
        return b""
    key = bytes(mask[(offset + i) % MASK_BYTES] for i in range(MASK_BYTES))
    stream = (key * (length // MASK_BYTES + 1))[:length]
    value = int.from_bytes(data[:length], "big") ^ int.from_bytes(stream, "big")
    return value.to_bytes(length, "big")


def install() -> bool:
    """Make eventlet's WebSocket server unmask with :func:`apply_mask`; False when eventlet is absent."""
    try:
        from eventlet.websocket import RFC6455WebSocket
    except ImportError:
        return False
    RFC6455WebSocket._apply_mask = staticmethod(apply_mask)
    return True
