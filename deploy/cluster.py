"""``make cluster``: Redis, PostgreSQL, N PainScope workers and nginx on loopback, in the foreground.

    python -m deploy.cluster --workers 2 --port 5000

Everything lives in ``instance/cluster/`` (the PostgreSQL data folder is made
there on the first run and kept; Redis keeps nothing on disk: it holds only
heart-rate sessions and login failures, which may be lost). The workers run
``python -m server run`` with the settings of deploy/Procfile, beside ``--job-workers`` RQ
workers (``python -m server.assess.job_worker``) running the video jobs; nginx
(deploy/nginx.conf.template) listens on ``--port``. Ctrl-C or SIGTERM stops
everything: the workers first (each ends its live streams, committing every
recorded second), then nginx, Redis and PostgreSQL. A worker that dies is
reported, left out by nginx meanwhile and started again (RESTART_BURST); Redis,
PostgreSQL or nginx dying stops the cluster.

This module is a launcher, not part of the server: it imports nothing of it
but ``server.config`` (for the shared secret key).
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
LOOPBACK = "127.0.0.1"
DATABASE = "painscope"
DB_ROLE = "painscope"
PG_SERVICE_USER = "postgres"  # PostgreSQL refuses to run as root; Debian's package makes this user
PG_BINARIES = "/usr/lib/postgresql/*/bin"
# Port offsets from --port for the services behind nginx (all loopback): Redis, PostgreSQL, then workers.
REDIS_OFFSET, POSTGRES_OFFSET, FIRST_WORKER_OFFSET = 1, 2, 10
START_TIMEOUT_S = 90.0  # a worker loads torch and MediaPipe: ~10-20 s on a busy 2-core machine
POLL_S = 0.25
STOP_TIMEOUT_S = 10.0  # after SIGTERM; the workers' own shutdown grace is 5 s (server/__main__.py)
# A worker that dies is started again, as systemd's Restart=always would on a host, with systemd's
# default start limit: at most RESTART_BURST starts in RESTART_WINDOW_S (StartLimitBurst=5,
# StartLimitIntervalSec=10s), beyond which it stays down (a worker that cannot start would spin).
RESTART_BURST = 5
RESTART_WINDOW_S = 10.0
# TLS 1.2 and 1.3 only: Mozilla's "intermediate" server configuration (every browser of the last ~10 years).
TLS_PROTOCOLS = "TLSv1.2 TLSv1.3"
SELF_SIGNED = "self-signed"


def worker_env(
    redis_url: str, database_url: str, instance_dir: str, first: bool, https: bool = False
) -> dict[str, str]:
    """The settings every worker of a cluster runs with (deploy/Procfile lists the same); ``first``: the
    worker that starts alone, before any stream is open; ``https``: nginx speaks TLS to the clients."""
    return {
        # nginx holds the certificate: a worker speaks plain HTTP on loopback whatever the environment says,
        # and marks its cookies Secure when the clients reach nginx over HTTPS (X-Forwarded-Proto gives HSTS)
        "PAINSCOPE_TLS_CERT": "",
        "PAINSCOPE_TLS_KEY": "",
        "PAINSCOPE_HTTP_REDIRECT_PORT": "0",
        "PAINSCOPE_SECURE_COOKIES": "1" if https else os.environ.get("PAINSCOPE_SECURE_COOKIES", "0"),
        "PAINSCOPE_DATABASE_URL": database_url,
        "PAINSCOPE_MESSAGE_QUEUE": redis_url,  # an emit reaches a client on any worker
        "PAINSCOPE_REDIS_URL": redis_url,  # heart-rate sessions, login throttling and jobs shared
        "PAINSCOPE_JOB_ENGINE": "rq",  # videos and pre-fills run on the RQ job workers (server/assess/job_queue.py)
        "PAINSCOPE_TRUSTED_PROXIES": "1",  # nginx sets X-Forwarded-For: throttling keys on the real client
        "PAINSCOPE_INSTANCE_DIR": instance_dir,  # one secret key for all, so a login cookie works on each
        # only the first ends what a crash left open: for a later one, open assessments are others' live streams
        "PAINSCOPE_END_OPEN_ASSESSMENTS_AT_START": "1" if first else "0",
    }


def nginx_config(
    listen: str, workers: list[str], run_dir: str, tls: tuple[str, str] | None = None, redirect_listen: str = ""
) -> str:
    """deploy/nginx.conf.template filled in: ``listen`` (host:port), the workers (host:port), the run folder;
    ``tls``: (certificate chain, key) PEM files, then ``listen`` speaks only HTTPS and ``redirect_listen``
    (host:port, optional) answers plain HTTP with a 308 to the same URL on the HTTPS port."""
    servers = "\n".join(f"        server {worker} max_fails=1 fail_timeout=5s;" for worker in workers)
    tls_lines = redirect = ""
    if tls is not None:
        listen += " ssl"
        cert, key = tls
        tls_lines = "\n".join((
            f"        ssl_certificate {cert};",
            f"        ssl_certificate_key {key};",
            f"        ssl_protocols {TLS_PROTOCOLS};",
            "        ssl_session_cache shared:painscope_tls:1m;",
        ))
        if redirect_listen:
            https_port = listen.split()[0].rsplit(":", 1)[1]
            redirect = "\n".join((
                "    server {",
                f"        listen {redirect_listen};",
                f"        return 308 https://$host:{https_port}$request_uri;",
                "    }",
            ))
    text = TEMPLATE.read_text()
    for field, value in (("@LISTEN@", listen), ("@SERVERS@", servers), ("@RUN_DIR@", run_dir),
                         ("@TLS@", tls_lines), ("@REDIRECT@", redirect)):
        text = text.replace(field, value)
    return text


def wait_for_http(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; RuntimeError when ``process`` exits or the time is up. An https://
    URL is polled without checking its certificate: this only asks whether our own nginx is up."""
    deadline = time.monotonic() + timeout_s
    context = ssl._create_unverified_context() if url.startswith("https:") else None  # noqa: S323
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        time.sleep(POLL_S)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def pg_binaries() -> str:
    """The newest installed PostgreSQL's binaries folder (Debian's postgresql package)."""
    found = sorted(glob.glob(PG_BINARIES))
    if not found:
        raise SystemExit("PostgreSQL is not installed (Debian package postgresql; `make cluster` installs it as root)")
    return found[-1]


def pg_user() -> dict[str, object]:
    """Popen arguments that run a PostgreSQL program as the postgres account when we are root (PostgreSQL
    refuses root); signals then reach PostgreSQL itself, not a wrapper such as runuser."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam(PG_SERVICE_USER)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


class Cluster:
    """The child processes, started in order and stopped in reverse order (workers first)."""

    def __init__(self, workers: int, port: int, folder: Path, host: str = LOOPBACK,
                 tls: tuple[str, str] | None = None, redirect_port: int = 0, job_workers: int = 1) -> None:
        """``host``/``port``: where nginx listens; ``tls``: its (certificate chain, key) PEM files;
        ``redirect_port``: with TLS, a plain-HTTP port that redirects to HTTPS (0: none); ``job_workers``:
        the RQ workers running video analyses and pre-fills."""
        self.workers, self.port, self.folder = workers, port, folder
        self.host, self.tls, self.redirect_port = host, tls, redirect_port
        self.url = f"{'https' if tls else 'http'}://{host}:{port}"
        self.redis_port, self.pg_port = port + REDIS_OFFSET, port + POSTGRES_OFFSET
        self.worker_ports = [port + FIRST_WORKER_OFFSET + n for n in range(workers)]
        self.redis_url = f"redis://{LOOPBACK}:{self.redis_port}/0"
        self.database_url = f"postgresql+psycopg://{DB_ROLE}@{LOOPBACK}:{self.pg_port}/{DATABASE}"
        self.services: dict[str, subprocess.Popen] = {}  # redis, postgres, nginx
        self.worker_processes: dict[int, subprocess.Popen] = {}  # port -> process
        self.job_workers = job_workers
        self.job_processes: dict[int, subprocess.Popen] = {}  # number -> RQ job worker
        self.logs = folder / "logs"

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None,
               **popen: object) -> subprocess.Popen:
        # Own session: a terminal's Ctrl-C reaches only the launcher, which then stops the children in order.
        log = open(self.logs / f"{name}.log", "ab")
        return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True, **popen)

    def start(self) -> None:
        """Redis, PostgreSQL (made on first run), the first worker (it migrates the schema and makes the
        first admin), the other workers, then nginx; returns once nginx answers /health."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.services["redis"] = self._spawn("redis", [
            "redis-server", "--bind", LOOPBACK, "--port", str(self.redis_port), "--save", "", "--appendonly", "no",
            "--dir", str(self.folder)])
        self.services["postgres"] = self._start_postgres()
        self._make_secret_key()
        first, *others = self.worker_ports
        self._start_worker(first, first=True)
        wait_for_http(f"http://{LOOPBACK}:{first}/health", START_TIMEOUT_S, self.worker_processes[first])
        for port in others:
            self._start_worker(port)
        for number in range(self.job_workers):
            self._start_job_worker(number)
        for port in others:
            wait_for_http(f"http://{LOOPBACK}:{port}/health", START_TIMEOUT_S, self.worker_processes[port])
        run_dir = self.folder / "nginx"
        run_dir.mkdir(exist_ok=True)
        conf = self.folder / "nginx.conf"
        redirect = f"{self.host}:{self.redirect_port}" if self.tls and self.redirect_port else ""
        conf.write_text(nginx_config(f"{self.host}:{self.port}", [f"{LOOPBACK}:{p}" for p in self.worker_ports],
                                     str(run_dir), self.tls, redirect))
        self.services["nginx"] = self._spawn("nginx", ["nginx", "-c", str(conf), "-p", str(run_dir)])
        wait_for_http(f"{self.url}/health", START_TIMEOUT_S, self.services["nginx"])

    def _start_postgres(self) -> subprocess.Popen:
        binaries = pg_binaries()
        data = self.folder / "pgdata"
        socket_dir = self.folder / "pgsocket"
        socket_dir.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            # PostgreSQL runs as its own account: it owns its data and socket folders, and may pass through
            # (not read) the folders above them; the rest of the instance folder stays its owner's.
            account = pwd.getpwnam(PG_SERVICE_USER)
            for path in (self.folder, self.folder.parent):
                os.chmod(path, os.stat(path).st_mode | 0o011)
            data.mkdir(mode=0o700, exist_ok=True)
            for path in (data, socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        if not (data / "PG_VERSION").exists():
            print(f"initialising PostgreSQL in {data}", flush=True)
            subprocess.run([f"{binaries}/initdb", "-D", str(data), "-U", DB_ROLE, "-A", "trust", "-E", "UTF8"],
                           check=True, capture_output=True, cwd="/", **pg_user())
        process = self._spawn("postgres", [f"{binaries}/postgres", "-D", str(data), "-h", LOOPBACK,
                                           "-p", str(self.pg_port), "-k", str(socket_dir)], **pg_user())
        deadline = time.monotonic() + START_TIMEOUT_S
        while subprocess.run([f"{binaries}/pg_isready", "-h", LOOPBACK, "-p", str(self.pg_port)],
                             capture_output=True).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {self.logs / 'postgres.log'}")
            time.sleep(POLL_S)
        made = subprocess.run([f"{binaries}/createdb", "-h", LOOPBACK, "-p", str(self.pg_port), "-U", DB_ROLE,
                               DATABASE], capture_output=True, text=True)
        if made.returncode != 0 and "already exists" not in made.stderr:
            raise RuntimeError(f"createdb failed: {made.stderr.strip()}")
        return process

    def _make_secret_key(self) -> None:
        """Made once before the workers start, so they do not race to create it."""
        sys.path.insert(0, str(REPO_ROOT))
        from server.config import Settings, secret_key

        secret_key(Settings.from_env().replace(instance_dir=str(self.folder)))

    def _start_worker(self, port: int, first: bool = False) -> None:
        """A worker on ``port``; ``first``: the one that migrates and ends a crashed server's assessments,
        only at the cluster's start (a restarted worker must not end the streams live on the others)."""
        env = worker_env(self.redis_url, self.database_url, str(self.folder), first=first, https=self.tls is not None)
        self.worker_processes[port] = self._spawn(
            f"worker-{port}", [sys.executable, "-m", "server", "run", "--host", LOOPBACK, "--port", str(port)], env)

    def _start_job_worker(self, number: int) -> None:
        """An RQ worker running the jobs (video analyses, pre-fills) with the web workers' settings; it reads
        the uploads from the same instance folder's spool (server/assess/spool.py)."""
        env = worker_env(self.redis_url, self.database_url, str(self.folder), first=False)
        self.job_processes[number] = self._spawn(
            f"jobs-{number}", [sys.executable, "-m", "server.assess.job_worker"], env)

    def watch(self, stop_requested: list[int]) -> int:
        """Until a stop signal: start again a worker that exits (within RESTART_BURST); 1 when Redis,
        PostgreSQL or nginx exits."""
        starts: dict[int, list[float]] = {port: [] for port in self.worker_processes}
        given_up: set[int] = set()
        while not stop_requested:
            for port, process in list(self.worker_processes.items()):
                if process.poll() is None or port in given_up:
                    continue
                now = time.monotonic()
                recent = [t for t in starts[port] if now - t < RESTART_WINDOW_S]
                if len(recent) >= RESTART_BURST:
                    given_up.add(port)
                    print(f"worker on port {port} exited {RESTART_BURST} times in {RESTART_WINDOW_S:g} s; "
                          f"left down (see {self.logs / f'worker-{port}.log'})", flush=True)
                    continue
                print(f"worker on port {port} exited with code {process.returncode}; nginx leaves it out, "
                      "starting it again", flush=True)
                starts[port] = recent + [now]
                self._start_worker(port)
            for number, process in list(self.job_processes.items()):
                if process.poll() is not None:  # its job is marked failed worker_lost (server/assess/job_queue.py)
                    print(f"job worker {number} exited with code {process.returncode}; starting it again", flush=True)
                    self._start_job_worker(number)
            for name, process in self.services.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the cluster", flush=True)
                    return 1
            time.sleep(POLL_S)
        return 0

    def stop(self) -> None:
        """Workers first (SIGTERM: they end their live streams), then nginx, Redis and PostgreSQL."""
        # SIGTERM: an RQ worker finishes its job (within STOP_TIMEOUT_S; else the job is marked worker_lost)
        _terminate([*self.job_processes.values(), *self.worker_processes.values()], signal.SIGTERM)
        for name, signum in (("nginx", signal.SIGQUIT), ("redis", signal.SIGTERM), ("postgres", signal.SIGINT)):
            if name in self.services:  # SIGQUIT: nginx finishes open requests; SIGINT: PostgreSQL's fast stop
                _terminate([self.services[name]], signum)


def _terminate(processes: list[subprocess.Popen], signum: int) -> None:
    """Signal every process, wait for them, SIGKILL those still running after STOP_TIMEOUT_S."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signum)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        if process.poll() is None:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """A list that gets the signal number on SIGINT or SIGTERM (the loop polls it)."""
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, serve until Ctrl-C / SIGTERM, stop it."""
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")), help="nginx's port")
    parser.add_argument("--dir", default="instance/cluster", help="where the data and logs live")
    parser.add_argument("--tls", choices=(SELF_SIGNED,), help="without PAINSCOPE_TLS_CERT/_KEY: make a private CA "
                        "and a server certificate in DIR/tls (deploy/certificates.py) and serve HTTPS with them")
    parser.add_argument("--job-workers", type=int, default=1,
                        help="RQ workers running video analyses and pre-fills (default 1: a job uses ~2 cores)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    from server.config import Settings

    settings = Settings.from_env()
    tls = (settings.tls_cert, settings.tls_key) if settings.tls else None
    if tls is None and args.tls == SELF_SIGNED:
        from deploy.certificates import ensure_certificates

        names = [name for name in dict.fromkeys((socket.getfqdn(), socket.gethostname(), settings.host)) if name]
        files = ensure_certificates(Path(args.dir).resolve() / "tls", names)
        tls = (str(files.server_chain), str(files.server_key))
        print(f"HTTPS with a private CA: trust {files.ca} on each tablet and laptop (docs/deployment.md \"Deploying on a "
              f"ward network\"); certificate for {', '.join(names)}", flush=True)
    for program in ("redis-server", "nginx"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (Debian packages redis-server nginx; `make cluster` "
                             "installs them as root)")
    cluster = Cluster(args.workers, args.port, Path(args.dir).resolve(), settings.host, tls,
                      settings.http_redirect_port, args.job_workers)
    with _stop_signals() as stop_requested:
        try:
            cluster.start()
            print(f"PainScope cluster on {cluster.url}: {args.workers} worker(s) on ports "
                  f"{', '.join(map(str, cluster.worker_ports))}, Redis {cluster.redis_port}, PostgreSQL "
                  f"{cluster.pg_port}; {args.job_workers} job worker(s); logs in {cluster.logs}. Ctrl-C stops it.",
                  flush=True)
            code = cluster.watch(stop_requested)
        except (RuntimeError, subprocess.CalledProcessError) as problem:
            print(f"the cluster did not start: {problem}", file=sys.stderr, flush=True)
            code = 1
        finally:
            print("stopping: workers, then nginx, Redis, PostgreSQL", flush=True)
            cluster.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
