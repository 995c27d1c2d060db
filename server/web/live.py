"""Socket.IO namespace /live: translates events to a LiveSession per connection and back.

Protocol (DESIGN.md): ``start`` {estimator?, body?, patient_id?}; ``frame``
{seq, t_ms, jpeg} acked with the Result plus ``seq``; ``calibrate`` {}; ``stop`` {}.
The client keeps at most two frames in flight; here a frame that waited while a
newer one arrived is acked ``{"seq", "dropped": true}`` instead of being analysed late.

With ``patient_id`` the stream is recorded (server/live_recorder.py): a live
assessment of that patient, one reading per second committed before the ack
of the first frame of the next second, and every frame's ack carries
``record`` {assessment_id, readings_committed, committed_through_s}. ``stop``
and a disconnect commit the partial last second and end the assessment.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import request
from flask_socketio import Namespace
from sqlalchemy.exc import SQLAlchemyError

from server.store import records
from server.store.accounts import Account
from server.store.live_recorder import LiveRecorder
from server.assess.live_session import LiveSession
from server.problems import InputProblem
from server.pain.result import Result
from server.services import Services
from server.web.auth import account_from_socket_auth
from server.web.errors import error_body

log = logging.getLogger(__name__)


@dataclass
class _Stream:
    session: LiveSession
    recorder: LiveRecorder | None = None  # when the stream is recorded for a patient
    lock: threading.Lock = field(default_factory=threading.Lock)
    newest_seq: int = -1

    def process(self, jpeg: bytes | str, t_ms: float) -> Result:
        """Analyse a frame and record it (a finished second is committed here, before the ack)."""
        result = self.session.process(jpeg, t_ms)
        if self.recorder is not None:
            self.recorder.add(t_ms, result)
        return result

    def close(self) -> None:
        """Release the trackers; commit the last second and end the recorded assessment."""
        try:
            if self.recorder is not None:
                self.recorder.close()
        finally:
            self.session.close()


class LiveNamespace(Namespace):
    """One LiveSession per connected client."""

    def __init__(self, services: Services, namespace: str = "/live") -> None:
        super().__init__(namespace)
        self.services = services
        self._streams: dict[str, _Stream] = {}
        self._accounts: dict[str, Account] = {}  # who is behind each connection

    def on_connect(self, auth: Any = None) -> None:
        """Only a logged-in user (session cookie) or a valid token (``auth={"token": ...}``) may connect."""
        account = account_from_socket_auth(auth)
        if account is None:
            raise ConnectionRefusedError("unauthorized: log in, or connect with auth={'token': '<API token>'}")
        self._accounts[request.sid] = account
        log.info("live client connected: %s (%s)", request.sid, account.name)

    def on_disconnect(self, reason: Any = None) -> None:
        self._end(request.sid)
        self._accounts.pop(request.sid, None)

    def on_start(self, data: Any = None) -> dict:
        """Open a stream; ``estimator`` picks the pain estimator, ``body`` adds the body-movement index,
        ``patient_id`` records it for that patient."""
        options = data if isinstance(data, dict) else {}
        db = self.services.db.unpooled()  # used on an OS thread (see Database.unpooled)
        try:
            estimator = self.services.estimators.get(options.get("estimator"), self.services.settings.estimator)
            patient_id = records.patient_id_option(options.get("patient_id"))
            if patient_id is not None:
                self.services.offloader.run(records.get_patient, db, patient_id)
        except InputProblem as problem:
            return error_body(problem.code, problem.message)
        self._end(request.sid)
        body = options.get("body") is True
        session = self.services.offloader.run(
            LiveSession, self.services.settings, estimator, self.services.analyzer.image_limits, body
        )
        stream = _Stream(session)
        if patient_id is not None:
            account = self._accounts.get(request.sid)
            modalities = ["face", "rppg"] + (["body"] if body else [])
            try:
                stream.recorder = self.services.offloader.run(
                    LiveRecorder.start, db, patient_id, account.id if account else None, estimator.name, modalities
                )
            except (InputProblem, SQLAlchemyError) as problem:
                session.close()
                if isinstance(problem, InputProblem):
                    return error_body(problem.code, problem.message)
                log.exception("live assessment not started")
                return error_body("record_failed", "The assessment could not be saved; the stream was not started.")
        self._streams[request.sid] = stream
        self.services.live_streams.add(request.sid)
        record = {"assessment_id": stream.recorder.assessment_id, "patient_id": patient_id} if stream.recorder else None
        return {"ok": True, "session": {
            "estimator": estimator.name, "baseline": session.baseline.kind, "body": body, "record": record,
        }}

    def on_frame(self, data: Any = None) -> dict:
        """Analyse one frame, or drop it when a newer one has arrived meanwhile; counted for /metrics."""
        try:
            ack = self._frame(data)
        except Exception:
            self._count_frame("error")
            raise
        outcome = "error" if "error" in ack else "dropped" if ack.get("dropped") else "analysed"
        self._count_frame(outcome, ack.get("timing_ms"))
        return ack

    def _count_frame(self, outcome: str, timing_ms: dict | None = None) -> None:
        if self.services.metrics is not None:
            self.services.metrics.live_frame(outcome, timing_ms)

    def _frame(self, data: Any) -> dict:
        if not isinstance(data, dict):
            return error_body("bad_frame", "A frame is an object {seq, t_ms, jpeg}.")
        seq, t_ms, jpeg = data.get("seq"), data.get("t_ms"), data.get("jpeg")
        if not isinstance(seq, int) or not isinstance(t_ms, (int, float)) or not isinstance(jpeg, (bytes, str)):
            message = "A frame needs an integer seq, a number t_ms and jpeg bytes."
            return {"seq": seq, **error_body("bad_frame", message)}
        stream = self._streams.get(request.sid)
        if stream is None:
            return {"seq": seq, **error_body("no_session", "Send 'start' before frames.")}
        stream.newest_seq = max(stream.newest_seq, seq)
        with stream.lock:
            if seq < stream.newest_seq:
                return {"seq": seq, "dropped": True}
            try:
                result = self.services.offloader.run(stream.process, jpeg, float(t_ms))
            except InputProblem as problem:
                return {"seq": seq, **error_body(problem.code, problem.message)}
            ack = {"seq": seq, **result.to_dict()}
            if stream.recorder is not None:
                ack["record"] = stream.recorder.status()
        return ack

    def on_calibrate(self, data: Any = None) -> dict:
        """Take the face of the last few frames as this person's neutral face."""
        stream = self._streams.get(request.sid)
        if stream is None:
            return error_body("no_session", "Send 'start' before calibrating.")
        try:
            baseline = stream.session.calibrate()
        except InputProblem as problem:
            return error_body(problem.code, problem.message)
        return {"ok": True, "baseline": baseline.kind}

    def on_stop(self, data: Any = None) -> dict:
        """End the stream (the client disconnects afterwards); a recorded one says what was committed."""
        stream = self._streams.get(request.sid)
        frames = stream.session.frames_analysed if stream else 0
        self._end(request.sid)
        reply: dict[str, Any] = {"ok": True, "frames_analysed": frames}
        if stream is not None and stream.recorder is not None:
            reply["record"] = stream.recorder.status()
        return reply

    def _end(self, sid: str) -> None:
        stream = self._streams.pop(sid, None)
        self.services.live_streams.discard(sid)
        if stream is not None:
            with stream.lock:
                self.services.offloader.run(stream.close)
