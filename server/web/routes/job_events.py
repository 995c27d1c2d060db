"""The Socket.IO namespace /jobs: a page's connection is told of its account's jobs as they change.

Protocol: connect (a login cookie or ``auth={"token": ...}``); the server then emits
``job`` with the job's body (the same as ``GET /api/v1/jobs/<id>``) to every
connection of the account whenever a job's state, progress or frame count
changes, and once for every job the account has when the connection opens (a
reloaded page picks up its running upload). Nothing is sent by the client.

Each process watches the accounts connected to it: every ``PUSH_INTERVAL_S``
it reads their jobs from the engine (in memory, or Redis in a cluster, where a
job may run anywhere) and emits what changed. A connection whose credential
was revoked or logged out is closed within ``AUTH_RECHECK_S``.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import request
from flask_socketio import Namespace, join_room

from server.assess.jobs import JobView
from server.services import Services
from server.web.security.auth import SocketCredential, credential_still_valid, socket_credential

log = logging.getLogger(__name__)

NAMESPACE = "/jobs"
EVENT = "job"
# How often the jobs of connected accounts are looked at: a progress bar moving twice a second reads
# as smooth, and a cluster's Redis gets one read per account and job each time.
PUSH_INTERVAL_S = 0.5
AUTH_RECHECK_S = 5.0  # as /live's (server/web/routes/live.py)


def _room(owner: str) -> str:
    return f"jobs:{owner}"


def _signature(job: JobView) -> tuple[str, float, int]:
    """What a change is: the state, the progress (to a tenth of a percent) or the frames."""
    return job.state, round(job.progress, 3), job.frames


class JobsNamespace(Namespace):
    """Pushes each account's job changes to its connections on this process."""

    def __init__(self, services: Services, namespace: str = NAMESPACE) -> None:
        super().__init__(namespace)
        self.services = services
        self._owners: dict[str, str] = {}  # sid -> owner (the account's id)
        self._credentials: dict[str, tuple[SocketCredential, float]] = {}  # sid -> (credential, checked at)
        self._sent: dict[str, dict[str, tuple[str, float, int]]] = {}  # owner -> job id -> signature sent
        self._watching = False

    def on_connect(self, auth: Any = None) -> None:
        """Only a logged-in user or a valid token; the account's jobs are sent at once."""
        credential = socket_credential(auth)
        if credential is None:
            raise ConnectionRefusedError("unauthorized: log in, or connect with auth={'token': '<API token>'}")
        owner = str(credential.account.id)
        self._owners[request.sid] = owner
        self._credentials[request.sid] = (credential, time.monotonic())
        join_room(_room(owner))
        for job in self.services.jobs.jobs_of(owner):
            self.socketio.emit(EVENT, job.to_dict(), to=request.sid, namespace=self.namespace)
        if not self._watching:
            self._watching = True
            self.socketio.start_background_task(self._watch)

    def on_disconnect(self, reason: Any = None) -> None:
        self._owners.pop(request.sid, None)
        self._credentials.pop(request.sid, None)

    def _watch(self) -> None:
        """Forever: emit what changed in the connected accounts' jobs."""
        while True:
            self.socketio.sleep(PUSH_INTERVAL_S)
            try:
                self._recheck_credentials()
                self._push_changes()
            except Exception:  # noqa: BLE001 - the watcher must outlive a failed read (Redis restarting)
                log.exception("job events not sent this round")

    def _push_changes(self) -> None:
        for owner in set(self._owners.values()):
            jobs = self.services.jobs.jobs_of(owner)
            sent = self._sent.get(owner, {})
            now = {job.id: _signature(job) for job in jobs}
            for job in jobs:
                if sent.get(job.id) != now[job.id]:
                    self.socketio.emit(EVENT, job.to_dict(), to=_room(owner), namespace=self.namespace)
            self._sent[owner] = now
        for owner in set(self._sent) - set(self._owners.values()):
            del self._sent[owner]

    def _recheck_credentials(self) -> None:
        now = time.monotonic()
        for sid, (credential, checked) in list(self._credentials.items()):
            if now - checked < AUTH_RECHECK_S:
                continue
            if credential_still_valid(self.services.db, credential):
                self._credentials[sid] = (credential, now)
            else:
                log.info("jobs client %s: credential no longer valid", sid)
                self.on_disconnect_sid(sid)
                self.socketio.server.disconnect(sid, namespace=self.namespace)

    def on_disconnect_sid(self, sid: str) -> None:
        """Forget a connection closed by the server."""
        self._owners.pop(sid, None)
        self._credentials.pop(sid, None)
