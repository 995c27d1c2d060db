"""Client events Socket.IO would not answer, answered: an empty event, a name that is not a string, the
names Socket.IO keeps for itself (``connect``, ``disconnect``), and an event whose JSON cannot be read.

Issue 25: ``42/live,1["connect",{}]`` ran the namespace's connect handler again
(a traceback in the log), ``42/live,2[]`` raised IndexError inside python-socketio,
and a client event named ``disconnect`` ended the sender's own stream; none was
answered. python-socketio hands every client EVENT packet to
``Server._handle_event``; :func:`guard_client_events` wraps it so those packets
get an error ack (``bad_event`` or ``unknown_event``) and reach no handler.
An EVENT packet whose JSON does not parse (python-socketio raises and drops it)
is read by :class:`AnsweringPacket` as the event ``BAD_JSON_EVENT``, which
``live.py`` answers ``invalid_json``.
"""
from __future__ import annotations

from typing import Any

from socketio import packet

from server.web.requests.errors import error_body
from server.web.security.safe_json import BAD_JSON_EVENT

# python-socketio's own names (base_server.Server.reserved_events): its connect and disconnect
# handlers, never a client's event.
RESERVED_EVENTS = frozenset({"connect", "disconnect"})
MAX_ATTACHMENT_DIGITS = 10  # python-socketio refuses a longer count ("too many attachments")
BAD_EVENT = "A Socket.IO event is [name, data...] with a name that is a string."


def event_problem(data: Any) -> dict | None:
    """The error answer a client EVENT packet's data gets instead of a handler (None: it is dispatched)."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return error_body("bad_event", BAD_EVENT)
    if data[0] in RESERVED_EVENTS:
        return error_body("unknown_event", f"'{data[0]}' is Socket.IO's own event; a client may not send it.")
    return None


class AnsweringPacket(packet.Packet):
    """python-socketio's packet, but an EVENT whose JSON cannot be read keeps its id and namespace and reads
    as ``[BAD_JSON_EVENT]``, so that it is answered rather than dropped with a logged error."""

    def decode(self, encoded_packet: Any) -> int:
        try:
            return super().decode(encoded_packet)
        except ValueError:
            if getattr(self, "packet_type", None) not in (packet.EVENT, packet.BINARY_EVENT):
                raise
            self.data = [BAD_JSON_EVENT]
            return _attachments(encoded_packet)


def _attachments(encoded_packet: Any) -> int:
    """How many binary attachments a packet announces (``51-/live,...``): they still arrive and must be taken."""
    head = str(encoded_packet)[1:]
    dash = head.find("-")
    count = head[:dash]
    return int(count) if 0 < dash <= MAX_ATTACHMENT_DIGITS and count.isdigit() else 0


def guard_client_events(server: Any) -> None:
    """Answer the packets :func:`event_problem` names on ``server`` (a python-socketio Server) itself, and read
    unreadable events with :class:`AnsweringPacket`."""
    server.packet_class = AnsweringPacket
    dispatch = server._handle_event

    def handle_event(eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        answer = event_problem(data)
        if answer is None:
            return dispatch(eio_sid, namespace, id, data)
        namespace = namespace or "/"
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        if id is not None and sid is not None and server.manager.is_connected(sid, namespace):
            server._send_packet(eio_sid, server.packet_class(packet.ACK, namespace=namespace, id=id, data=[answer]))
        return None

    server._handle_event = handle_event
