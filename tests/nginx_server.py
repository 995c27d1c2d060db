"""nginx on loopback in front of test workers, with the cluster's own config (deploy/nginx.conf.template)."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from typing import Iterator


from deploy.cluster import nginx_config, wait_for_http
from tests.prerequisites import missing, stop_process
from tests.server_process import LOCALHOST, free_port

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def require_nginx() -> str:
    """The nginx program; skips without it, except in CI, where that is a failure."""
    program = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if program is not None:
        return program
    message = "nginx is needed for these tests (Debian package nginx; `make test` installs it as root)"
    missing(message)


@contextlib.contextmanager
def nginx_server(workers: list[str]) -> Iterator[str]:
    """nginx balancing ``workers`` (host:port); yields its base URL; stopped and its folder removed afterwards."""
    program = require_nginx()
    folder = tempfile.mkdtemp(prefix="painscope-nginx-")
    port = free_port()
    conf = os.path.join(folder, "nginx.conf")
    with open(conf, "w") as handle:
        handle.write(nginx_config(f"{LOCALHOST}:{port}", workers, folder))
    process = subprocess.Popen([program, "-c", conf, "-p", folder], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base_url = f"http://{LOCALHOST}:{port}"
    try:
        wait_for_http(f"{base_url}/health", START_TIMEOUT_S, process)
        yield base_url
    finally:
        stop_process(process, STOP_TIMEOUT_S)
        shutil.rmtree(folder, ignore_errors=True)
