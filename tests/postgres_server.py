"""A throwaway PostgreSQL server on loopback for the storage tests (Debian's ``postgresql`` package).

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port with its
socket in that folder, empty databases on request, and everything removed afterwards.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres``
user the Debian package creates.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from typing import Iterator


from tests.prerequisites import missing
from tests.server_process import LOCALHOST, free_port

BINARIES = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"  # made by Debian's postgresql-common
ROLE = "painscope"
DATABASE = "painscope_test"
START_TIMEOUT_S = 60


def _bin_dir() -> str | None:
    found = sorted(glob.glob(BINARIES))
    return found[-1] if found and os.path.exists(os.path.join(found[-1], "initdb")) else None


def require_postgres() -> str:
    """The PostgreSQL binaries' folder; skips without them, except in CI, where that is a failure."""
    folder = _bin_dir()
    if folder is not None:
        return folder
    message = "PostgreSQL is needed for these tests (Debian package postgresql; `make test` installs it as root)"
    missing(message)


def _as_service_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    """A running server: ``new_database()`` gives the URL of a fresh, empty database."""

    def __init__(self, binaries: str, port: int) -> None:
        self.binaries = binaries
        self.port = port
        self._count = 0

    def new_database(self) -> str:
        """Create an empty database; its SQLAlchemy URL."""
        self._count += 1
        name = f"{DATABASE}_{self._count}"
        subprocess.run(_as_service_user([os.path.join(self.binaries, "createdb"), "-h", LOCALHOST, "-p",
                                         str(self.port), "-U", ROLE, name]),
                       check=True, capture_output=True, timeout=START_TIMEOUT_S)
        return f"postgresql+psycopg://{ROLE}@{LOCALHOST}:{self.port}/{name}"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A fresh server on a free loopback port; stopped and deleted afterwards."""
    binaries = require_postgres()
    folder = tempfile.mkdtemp(prefix="painscope-pg-")
    data = os.path.join(folder, "data")
    if os.geteuid() == 0:
        os.chmod(folder, 0o755)
        account = pwd.getpwnam(SERVICE_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run(_as_service_user([os.path.join(binaries, args[0]), *args[1:]]),
                       check=True, capture_output=True, timeout=START_TIMEOUT_S)

    try:
        run("initdb", "-D", data, "-U", ROLE, "-A", "trust", "--no-sync", "-E", "UTF8")
        run("pg_ctl", "-D", data, "-w", "-t", str(START_TIMEOUT_S), "-l", os.path.join(folder, "log"),
            "-o", f"-h {LOCALHOST} -p {port} -k {folder}", "start")
        try:
            yield PostgresServer(binaries, port)
        finally:
            run("pg_ctl", "-D", data, "-m", "immediate", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
