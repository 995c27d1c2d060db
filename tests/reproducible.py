"""Training in the tests on one arithmetic path, whatever machine runs them.

torch splits a reduction (a sum over a batch, a convolution's inner products)
across its intra-op threads, one thread per core by default, so a machine with
more cores adds the same numbers in another order. Over a few hundred
training steps those last-bit differences grow into another model: the
segmenter test passed here and failed on a fresh machine with the same seeds
and packages (issue #13). One thread and torch's deterministic algorithms
leave the CPU's instruction set as the only difference between machines, and
the tests' training recipes are sized to converge despite that.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from typing import Iterator

import torch

TRAINING_THREADS = 1
# For training CLIs run as subprocesses: torch, OpenMP and MKL read these at start.
TRAINING_ENV = {name: str(TRAINING_THREADS) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
CLI_TIMEOUT_S = 600  # a training tool run by a test; the slowest takes about a minute on a busy 2-core machine


@contextlib.contextmanager
def one_arithmetic_path() -> Iterator[None]:
    """Within the block, torch trains on TRAINING_THREADS threads with deterministic algorithms; then as before."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(TRAINING_THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def training_env() -> dict[str, str]:
    """The environment for a training CLI subprocess: this one's, with one thread for torch."""
    return {**os.environ, **TRAINING_ENV}


def run_cli(*args: object) -> dict:
    """Run a training tool (``python -m ...``) as a user would, on one thread; its last stdout line is JSON."""
    from tests.server_process import REPO_ROOT

    out = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=CLI_TIMEOUT_S, env={**training_env(), "GLOG_minloglevel": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_main(module: str, *args: object) -> dict:
    """A training tool's ``main`` run in this process (no second torch start-up), on one arithmetic path.

    The same code as ``python -m module args``; its last stdout line is JSON.
    """
    stdout = io.StringIO()
    with one_arithmetic_path(), contextlib.redirect_stdout(stdout):
        status = importlib.import_module(module).main([str(a) for a in args])
    assert status == 0, stdout.getvalue()[-2000:]
    return json.loads(stdout.getvalue().strip().splitlines()[-1])
