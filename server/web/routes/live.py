"""Socket.IO namespace /live: translates events to a LiveSession per connection and back.

Protocol (docs/api.md "API", the /live events; docs/ARCHITECTURE.md "One live frame"): ``start`` {estimator?, body?, patient_id?}; ``frame``
{seq, t_ms, jpeg} acked with the Result plus ``seq``; ``calibrate`` {}; ``stop`` {}.
The client keeps at most two frames in flight; here a frame that waited while a
newer one arrived is acked ``{"seq", "dropped": true}`` instead of being analysed late.

With ``patient_id`` the stream is recorded (server/live_recorder.py): a live
assessment of that patient, one reading per second committed before the ack
of the first frame of the next second, and every frame's ack carries
``record`` {assessment_id, readings_committed, committed_through_s}. ``stop``
and a disconnect commit the partial last second and end the assessment; so
does stopping the server with SIGTERM (:meth:`LiveNamespace.close_all`).

Every event gets an answer: an unknown event ``unknown_event``, a handler that
fails ``internal_error`` (the traceback goes to the log, never to the client).
The connection's token or login is checked again at most every
``AUTH_RECHECK_S`` seconds: once revoked or logged out, the next event is
answered ``unauthorized`` and the connection is closed; an idle connection is
closed by the sweep (every ``AUTH_SWEEP_S``) without waiting for an event.
A ``start`` is refused ``rate_limited`` beyond ``Settings.rate_limit_live_start``
a minute and ``too_many_streams`` beyond the account's
``Settings.live_max_streams_per_user`` open streams. Client events Socket.IO
keeps for itself or sends without a name are answered by ``socket_guard.py``.

Frame times are the client's, so they are checked: ``t_ms`` finite, in
[0, MAX_T_MS), never going backwards within a stream, and never running ahead
of the server's clock by more than ``MAX_CLOCK_LEAD_MS`` since the stream's
first frame; ``seq`` in [0, MAX_SEQ). A frame that breaks a rule is answered
``bad_frame`` and changes nothing.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import current_app, request
from flask_socketio import Namespace
from sqlalchemy.exc import SQLAlchemyError

from server.assess import catalogs
from server.store import records
from server.store.accounts import Account
from server.store.live_recorder import LiveRecorder
from server.assess.live_session import LiveSession
from server.problems import InputProblem
from server.pain.result import Result
from server.services import Services
from server.web.security.auth import SocketCredential, credential_still_valid, socket_credential
from server.web.requests.errors import error_body, problem_body
from server.web.requests.inputs import estimator_name
from server.vision.memory import give_back_freed_memory
from server.web.requests.language import localized, request_language
from server.web.security.rate_limits import LIVE_START, rate_limits_of
from server.web.security.safe_json import BAD_JSON_EVENT, MAX_JSON_DEPTH, TOO_DEEP_EVENT

log = logging.getLogger(__name__)

# The events a client may send; anything else is answered unknown_event.
EVENTS = ("start", "frame", "calibrate", "stop")
# A revoked token or an ended login is noticed within this long on an open stream: a database
# lookup per frame (15 a second) would be wasted on a credential that changes once in months.
AUTH_RECHECK_S = 5.0
# After an `unauthorized` answer the connection is closed this much later, so the answer leaves first.
DISCONNECT_DELAY_S = 0.1
# Every connection's credential is also checked this often whether it sends anything or not, so the
# idle socket of a revoked token or an ended login is closed (its recorded assessment ended) within
# a few seconds (issue 25: it stayed open until the client sent again). One indexed lookup per open
# connection every 2 s: ~100 lookups a second for 200 streams, far below what one database serves.
AUTH_SWEEP_S = 2.0
# seq and t_ms stay inside JavaScript's exact integers (Number.MAX_SAFE_INTEGER + 1): the page
# counts frames and reads performance.now() as JS numbers, so nothing larger is a real frame.
MAX_SEQ = 2**53
MAX_T_MS = float(2**53)
# The client's clock may run ahead of the server's by at most this much since the stream's first
# frame: a burst of queued frames or a clock that ticks a little fast is fine, a jump of years
# (which would store readings in the future) is not. A pause costs nothing: the server's clock
# advances too.
MAX_CLOCK_LEAD_MS = 60_000.0
MS_PER_S = 1000.0


@dataclass
class _Stream:
    session: LiveSession
    recorder: LiveRecorder | None = None  # when the stream is recorded for a patient
    account_id: int | None = None  # whose stream it is (the per-account cap counts these)
    lock: threading.Lock = field(default_factory=threading.Lock)
    newest_seq: int = -1
    first_t_ms: float | None = None  # client time of the first accepted frame
    first_at: float = 0.0  # server clock (monotonic, s) when it arrived
    last_t_ms: float | None = None  # client time of the latest accepted frame

    def check_time(self, t_ms: float, now_s: float) -> str | None:
        """Why a frame's client time cannot be taken (None: it can); takes it when it can."""
        if not math.isfinite(t_ms) or not 0.0 <= t_ms < MAX_T_MS:
            return f"'t_ms' must be a finite time in milliseconds, 0 or more and below {MAX_T_MS:.0f}."
        if self.last_t_ms is not None and t_ms < self.last_t_ms:
            return f"'t_ms' went backwards ({t_ms:g} after {self.last_t_ms:g}): frame times never decrease."
        if self.first_t_ms is not None:
            lead_ms = (t_ms - self.first_t_ms) - (now_s - self.first_at) * MS_PER_S
            if lead_ms > MAX_CLOCK_LEAD_MS:
                return (f"'t_ms' is {lead_ms / MS_PER_S:.0f} s ahead of the server's clock since the stream began "
                        f"(at most {MAX_CLOCK_LEAD_MS / MS_PER_S:.0f} s); restart the stream if the clock jumped.")
        else:
            self.first_t_ms, self.first_at = t_ms, now_s
        self.last_t_ms = t_ms
        return None

    def process(self, jpeg: bytes | str, t_ms: float) -> Result:
        """Analyse a frame and record it (a finished second is committed here, before the ack)."""
        result = self.session.process(jpeg, t_ms)
        if self.recorder is not None:
            self.recorder.add(t_ms, result)
        return result

    def close(self) -> None:
        """Release the trackers; commit the last second and end the recorded assessment; give the
        stream's memory back to the system (its MediaPipe graphs' buffers, ~50 MB; issue 25)."""
        try:
            if self.recorder is not None:
                self.recorder.close()
        finally:
            self.session.close()
            give_back_freed_memory()


class LiveNamespace(Namespace):
    """One LiveSession per connected client."""

    def __init__(self, services: Services, namespace: str = "/live", clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(namespace)
        self.services = services
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._accounts: dict[str, Account] = {}  # who is behind each connection
        self._languages: dict[str, str] = {}  # the language its phrases are said in (server/web/requests/language.py)
        self._credentials: dict[str, SocketCredential] = {}  # what let it in, checked again while it runs
        self._checked_at: dict[str, float] = {}  # when that was last checked (self._clock)
        self._starting: dict[str, int | None] = {}  # connections whose `start` is under way -> account id

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Dispatch an event so that it is always answered: ``unauthorized`` once the credential is gone,
        ``unknown_event`` for an event with no handler, ``internal_error`` when a handler fails."""
        if event in ("connect", "disconnect"):
            return super().trigger_event(event, *args)
        if event == TOO_DEEP_EVENT:
            return error_body("json_too_deep", f"The message nests more than {MAX_JSON_DEPTH} levels deep.")
        if event == BAD_JSON_EVENT:
            return error_body("invalid_json", "The message is not JSON this server reads (integers have at most "
                                              "100 digits).")
        handler = getattr(self, "on_" + event) if event in EVENTS else None
        return self.socketio._handle_event(self._answering(event, handler), event, self.namespace, *args)

    def _answering(self, event: str, handler: Callable[[Any], dict] | None) -> Callable[..., dict]:
        def answer(*data: Any) -> dict:
            payload = data[0] if data else None
            sid = request.sid
            try:
                if not self._still_authorised(sid):
                    self._refuse(sid)
                    return error_body("unauthorized", "The token was revoked or the login ended; connect again.")
                if handler is None:
                    return error_body("unknown_event", f"Unknown event; send one of {', '.join(EVENTS)}.")
                return handler(payload)
            except Exception:
                log.exception("live %r event of %s failed", event, sid)
                if event == "frame":
                    self._count_frame("error")
                reply = error_body("internal_error", "Something went wrong on the server; it has been logged.")
                seq = payload.get("seq") if isinstance(payload, dict) else None
                return {"seq": seq, **reply} if event == "frame" and _valid_seq(seq) else reply

        return answer

    def _still_authorised(self, sid: str) -> bool:
        """Is the connection's token or login still good? Looked up at most every AUTH_RECHECK_S."""
        credential = self._credentials.get(sid)
        if credential is None:
            return False
        now = self._clock()
        if now - self._checked_at.get(sid, now) < AUTH_RECHECK_S:
            return True
        if not credential_still_valid(self.services.db, credential):
            log.info("live client %s (%s): credential no longer valid", sid, credential.account.name)
            return False
        self._checked_at[sid] = now
        return True

    def sweep_revoked(self) -> None:
        """Forever (a background task): close every connection whose credential stopped being valid."""
        while True:
            self.socketio.sleep(AUTH_SWEEP_S)
            try:
                self.sweep_once()
            except Exception:  # the database away for a moment: the next sweep tries again
                log.exception("live credential sweep failed")

    def sweep_once(self) -> int:
        """Check every connection's credential now; close those no longer valid. How many were closed."""
        closed = 0
        for sid, credential in list(self._credentials.items()):
            if credential_still_valid(self.services.db, credential):
                self._checked_at[sid] = self._clock()
                continue
            log.info("live client %s (%s): credential no longer valid, closing", sid, credential.account.name)
            self._refuse(sid)
            closed += 1
        return closed

    def _refuse(self, sid: str) -> None:
        """End the stream now and close the connection once the answer has left."""
        self._end(sid)
        self._credentials.pop(sid, None)
        namespace = self.namespace

        def close() -> None:
            self.socketio.sleep(DISCONNECT_DELAY_S)
            self.socketio.server.disconnect(sid, namespace=namespace)

        self.socketio.start_background_task(close)

    def on_connect(self, auth: Any = None) -> None:
        """Only a logged-in user (session cookie) or a valid token (``auth={"token": ...}``) may connect."""
        credential = socket_credential(auth)
        if credential is None:
            raise ConnectionRefusedError("unauthorized: log in, or connect with auth={'token': '<API token>'}")
        self._accounts[request.sid] = credential.account
        self._languages[request.sid] = credential.account.language or request_language()
        self._credentials[request.sid] = credential
        self._checked_at[request.sid] = self._clock()
        log.info("live client connected: %s (%s)", request.sid, credential.account.name)

    def on_disconnect(self, reason: Any = None) -> None:
        self._end(request.sid)
        self._accounts.pop(request.sid, None)
        self._languages.pop(request.sid, None)
        self._credentials.pop(request.sid, None)
        self._checked_at.pop(request.sid, None)

    def close_all(self) -> None:
        """End every stream: commit each recorded one's last second and end its assessment (SIGTERM)."""
        for sid in list(self._streams):
            try:
                self._end(sid)
            except Exception:
                log.exception("live stream %s not closed cleanly", sid)

    def on_start(self, data: Any = None) -> dict:
        """Open a stream; ``estimator`` picks the pain estimator, ``body`` adds the body-movement index,
        ``patient_id`` records it for that patient.

        Refused ``rate_limited`` beyond ``Settings.rate_limit_live_start`` starts per account (each may
        open a recorded assessment) and ``too_many_streams`` beyond ``live_max_streams_per_user`` open
        streams of the account (each holds ~50 MB of trackers; issue 25).
        """
        sid = request.sid
        account = self._accounts.get(sid)
        refused = self._refuse_start(sid, account)
        if refused is not None:
            return refused
        self._starting[sid] = account.id if account else None  # counted while the start yields below
        try:
            return self._start(data)
        finally:
            self._starting.pop(sid, None)

    def _refuse_start(self, sid: str, account: Account | None) -> dict | None:
        """Why this connection may not start a stream now, as the answer (None: it may)."""
        who = f"account:{account.id}" if account else f"sid:{sid}"
        wait = rate_limits_of(current_app).hit(LIVE_START, who)
        if wait is not None:
            return {**error_body("rate_limited", f"Too many stream starts from this account; try again in {wait} s."),
                    "retry_after": wait}
        cap = self.services.settings.live_max_streams_per_user
        if account is None or cap <= 0:
            return None
        others = sum(1 for other, stream in self._streams.items() if other != sid and stream.account_id == account.id)
        others += sum(1 for other, owner in self._starting.items() if other != sid and owner == account.id)
        if others >= cap:
            return error_body("too_many_streams", f"This account has {others} live streams open, the most it may "
                              f"have at once ({cap}); stop one first.")
        return None

    def _start(self, data: Any) -> dict:
        options = data if isinstance(data, dict) else {}
        db = self.services.db.unpooled()  # used on an OS thread (see Database.unpooled)
        try:
            name = estimator_name(options.get("estimator"))
            estimator = self.services.estimators.get(name, self.services.settings.estimator)
            patient_id = records.patient_id_option(options.get("patient_id"))
            if patient_id is not None:
                self.services.offloader.run(records.get_patient, db, patient_id)
        except InputProblem as problem:
            return problem_body(problem)
        self._end(request.sid)
        body = options.get("body") is True
        session = self.services.offloader.run(
            LiveSession, self.services.settings, estimator, self.services.analyzer.image_limits, body
        )
        account = self._accounts.get(request.sid)
        stream = _Stream(session, account_id=account.id if account else None)
        if patient_id is not None:
            modalities = ["face", "rppg"] + (["body"] if body else [])
            try:
                stream.recorder = self.services.offloader.run(
                    LiveRecorder.start, db, patient_id, account.id if account else None, estimator.name, modalities
                )
            except (InputProblem, SQLAlchemyError) as problem:
                session.close()
                if isinstance(problem, InputProblem):
                    return problem_body(problem)
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
        ack = self._frame(data)  # a failure is answered and counted as an error by trigger_event
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
        numeric = isinstance(t_ms, (int, float)) and not isinstance(t_ms, bool)
        if not _valid_seq(seq) or not numeric or not isinstance(jpeg, (bytes, str)):
            message = f"A frame needs an integer seq (0 to {MAX_SEQ - 1}), a number t_ms and jpeg bytes."
            return {"seq": seq if _valid_seq(seq) else None, **error_body("bad_frame", message)}
        stream = self._streams.get(request.sid)
        if stream is None:
            return {"seq": seq, **error_body("no_session", "Send 'start' before frames.")}
        try:
            t_ms = float(t_ms)
        except OverflowError:  # an int beyond any float
            t_ms = math.inf
        problem = stream.check_time(t_ms, self._clock())
        if problem is not None:
            return {"seq": seq, **error_body("bad_frame", problem)}
        stream.newest_seq = max(stream.newest_seq, seq)
        with stream.lock:
            if seq < stream.newest_seq:
                return {"seq": seq, "dropped": True}
            try:
                result = self.services.offloader.run(stream.process, jpeg, t_ms)
            except InputProblem as problem:
                return {"seq": seq, **problem_body(problem)}
            language = self._languages.get(request.sid, catalogs.DEFAULT_LANGUAGE)
            ack = {"seq": seq, **localized(result, language).to_dict()}
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
            return problem_body(problem)
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
        """Close the connection's stream, if it has one (commits a recorded one's last second)."""
        stream = self._streams.pop(sid, None)
        self.services.live_streams.discard(sid)
        if stream is not None:
            with stream.lock:
                self.services.offloader.run(stream.close)


def close_live_streams(socketio: Any) -> None:
    """End every open live stream of this server (SIGTERM; see ``server/__main__.py``)."""
    namespace = socketio.server.namespace_handlers.get("/live")
    if isinstance(namespace, LiveNamespace):
        namespace.close_all()


def _valid_seq(seq: Any) -> bool:
    """A frame number: a whole number in [0, MAX_SEQ) (True and False are not numbers here)."""
    return isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < MAX_SEQ
