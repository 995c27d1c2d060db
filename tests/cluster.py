"""A PainScope cluster for tests and benchmarks: N real workers behind real nginx, on a real Redis and
PostgreSQL, all on free loopback ports and all stopped afterwards (what `make cluster` runs)."""
from __future__ import annotations

import contextlib
import tempfile
from typing import Iterator

import requests

from deploy.cluster import worker_env
from server.config import Settings, secret_key
from tests.nginx_server import nginx_server
from tests.postgres_server import postgres_server
from tests.redis_server import RedisServer, redis_server
from tests.server_process import LOCALHOST, TEST_PASSWORD, ServerProcess

HEALTH_TIMEOUT_S = 10


class Cluster:
    """What callers reach: nginx's URL, the workers (direct URLs, pids, tokens) and Redis."""

    def __init__(self, url: str, workers: list[ServerProcess], redis: RedisServer) -> None:
        self.url, self.workers, self.redis = url, workers, redis

    @property
    def headers(self) -> dict[str, str]:
        """The test account's API token (every worker's token works on all: one database)."""
        return self.workers[0].headers

    @property
    def token(self) -> str:
        """The test account's API token itself."""
        return self.workers[0].token

    def new_account_token(self, name: str) -> str:
        """An API token of a new account ``name`` (not an admin), made in the cluster's database."""
        from server.store.accounts import create_token, create_user
        from server.store.db import Database

        db = Database(self.workers[0].extra_env["PAINSCOPE_DATABASE_URL"])
        try:
            create_user(db, name, TEST_PASSWORD)
            return create_token(db, name, "tests")[1]
        finally:
            db.dispose()

    def worker_streams(self) -> dict[int, int]:
        """Each running worker's pid -> its open live streams, asked of the worker itself (not through nginx)."""
        counts = {}
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                health = requests.get(f"{worker.base_url}/health", headers=self.headers,  # details need a login
                                      timeout=HEALTH_TIMEOUT_S).json()
                counts[worker.pid] = health["live"]["streams"]
        return counts


@contextlib.contextmanager
def running_cluster(workers: int, env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """``workers`` workers with the settings deploy/cluster.py gives them (and ``env`` on top), behind nginx;
    stopped afterwards.

    Unlike the launcher, all start at once: the test account is made (and the schema migrated) first.
    """
    with tempfile.TemporaryDirectory(prefix="painscope-cluster-") as instance, \
            postgres_server() as postgres, redis_server() as redis, contextlib.ExitStack() as stack:
        secret_key(Settings(instance_dir=instance))  # made once: the workers share it, so a login works on each
        database = postgres.new_database()
        processes = [ServerProcess(env={**worker_env(redis.url, database, instance, first=n == 0), **(env or {})},
                                   instance_dir=instance)
                     for n in range(workers)]
        for process in processes:  # started together, waited for together: start-up is the slow part
            process.start()
            stack.callback(process.stop)
        for process in processes:
            try:
                process.wait_healthy()
            except BaseException:
                process.print_log_tail()
                raise
        url = stack.enter_context(nginx_server([f"{LOCALHOST}:{p.port}" for p in processes]))
        yield Cluster(url, processes, redis)
