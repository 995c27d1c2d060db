"""Client events Socket.IO would not answer, answered: an empty event, a name that is not a string, and the
names Socket.IO keeps for itself (``connect``, ``disconnect``).

Issue 25: ``42/live,1["connect",{}]`` ran the namespace's connect handler again
(a traceback in the log), ``42/live,2[]`` raised IndexError inside python-socketio,
and a client event named ``disconnect`` ended the sender's own stream; none was
answered. python-socketio hands every client EVENT packet to
``Server._handle_event``; :func:`guard_client_events` wraps it so those packets
get an error ack (``bad_event`` or ``unknown_event``) and reach no handler.
"""
from __future__ import annotations

from typing import Any

from socketio import packet

from server.web.errors import error_body

# python-socketio's own names (base_server.Server.reserved_events): its connect and disconnect
# handlers, never a client's event.
RESERVED_EVENTS = frozenset({"connect", "disconnect"})
BAD_EVENT = "A Socket.IO event is [name, data...] with a name that is a string."


def event_problem(data: Any) -> dict | None:
    """The error answer a client EVENT packet's data gets instead of a handler (None: it is dispatched)."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return error_body("bad_event", BAD_EVENT)
    if data[0] in RESERVED_EVENTS:
        return error_body("unknown_event", f"'{data[0]}' is Socket.IO's own event; a client may not send it.")
    return None


def guard_client_events(server: Any) -> None:
    """Answer the packets :func:`event_problem` names on ``server`` (a python-socketio Server) itself."""
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
