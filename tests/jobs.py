"""Posting a video and waiting for its job, for tests written against the synchronous answer.

``post_job(client, url, ...)`` posts as ``client.post`` does; a 202 job is read
until it ends, and the answer looks like the synchronous one did: the result
with 200, or a failed job's error shape with the status its code maps to
(server/web/requests/errors.py). A 4xx at submission comes back as it is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from server.web.requests.errors import STATUS_BY_CODE

WAIT_S = 180.0  # the longest test clip takes a few seconds; a loaded 2-core machine, many times that
POLL_S = 0.05


@dataclass
class Answer:
    """The job's outcome as a response: ``status_code``, ``get_json()``, and the job's last state."""

    status_code: int
    body: Any
    job: dict[str, Any] | None = None

    def get_json(self) -> Any:
        """The body (a dict)."""
        return self.body


def wait_job(client: Any, job_id: str, timeout_s: float = WAIT_S) -> dict[str, Any]:
    """The job's state once it has ended (AssertionError past ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.get_json()
        job = response.get_json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']} after {timeout_s:.0f} s"
        time.sleep(POLL_S)


def post_job(client: Any, url: str, **kwargs: Any) -> Answer:
    """POST ``url``; a 202 job is waited for and answered as the synchronous endpoint did."""
    response = client.post(url, **kwargs)
    if response.status_code != 202:
        return Answer(response.status_code, response.get_json())
    submitted = response.get_json()
    assert submitted["state"] == "queued" and submitted["progress"] == 0, submitted
    assert response.headers["Location"] == f"/api/v1/jobs/{submitted['id']}"
    job = wait_job(client, submitted["id"])
    if job["state"] == "done":
        return Answer(200, job["result"], job)
    if job["state"] == "failed":
        return Answer(STATUS_BY_CODE.get(job["error"]["code"], 400), {"error": job["error"]}, job)
    return Answer(409, {"error": {"code": "job_cancelled", "message": "cancelled"}}, job)
