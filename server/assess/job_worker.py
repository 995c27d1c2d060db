"""``python -m server.assess.job_worker``: one RQ worker running PainScope's jobs (``make cluster`` starts them).

It reads the same ``PAINSCOPE_*`` settings as the web workers (``PAINSCOPE_REDIS_URL`` is required) and
needs the same spool folder (``PAINSCOPE_JOB_SPOOL_DIR``, or the shared ``PAINSCOPE_INSTANCE_DIR``):
the upload waits there for its job. Not under eventlet: RQ forks a work horse per job.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from server.assess import job_queue
from server.config import Settings


def main(argv: list[str] | None = None) -> int:
    """Serve jobs until stopped (SIGTERM: RQ finishes the running job first; SIGINT twice: at once)."""
    parser = argparse.ArgumentParser(prog="python -m server.assess.job_worker", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="stop once the queue is empty")
    args = parser.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if not settings.redis_url:
        print("PAINSCOPE_REDIS_URL is not set: a job worker takes its jobs from Redis", file=sys.stderr)
        return 2
    job_queue.serve(settings, burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
