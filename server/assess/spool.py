"""Spool files: an upload kept on disk, privately, only until its job ends. No Flask.

A video is copied from the request into a file of its own (mode 0600, in a
folder of mode 0700) in chunks, so it is never whole in memory; the job reads
it frame by frame (``vision.frames.open_video`` with a path) and the engine
removes it when the job ends. Files a killed process left behind are removed
at start (:func:`sweep`).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from server.config import Settings
from server.problems import InputProblem

SPOOL_FOLDER = "spool"  # under instance_dir unless job_spool_dir says otherwise
SPOOL_DIR_MODE = 0o700  # uploads are health data: their owner only
SPOOL_SUFFIX = ".upload"
COPY_CHUNK_BYTES = 1024 * 1024  # 1 MiB at a time from the request to the file


def spool_dir(settings: Settings) -> Path:
    """The spool folder (made, mode 0700)."""
    folder = Path(settings.job_spool_dir or os.path.join(settings.instance_dir, SPOOL_FOLDER))
    folder.mkdir(mode=SPOOL_DIR_MODE, parents=True, exist_ok=True)
    return folder


def write_spool(folder: Path, stream: BinaryIO, max_bytes: int, label: str = "The video") -> Path:
    """Copy ``stream`` into a new private file in ``folder``; ``too_large`` (and no file) past ``max_bytes``."""
    fd, name = tempfile.mkstemp(suffix=SPOOL_SUFFIX, dir=folder)  # mkstemp: mode 0600, a name nobody can guess
    path = Path(name)
    try:
        written = 0
        with os.fdopen(fd, "wb") as handle:
            while chunk := stream.read(COPY_CHUNK_BYTES):
                written += len(chunk)
                if written > max_bytes:
                    raise InputProblem("too_large", "%(label)s is larger than %(mb)s MB.",
                                       label=label, mb=max_bytes // (1024 * 1024))
                handle.write(chunk)
    except BaseException:
        remove(path)
        raise
    return path


def remove(path: str | Path) -> None:
    """Remove a spool file; one already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def sweep(folder: Path, older_than_s: float, now: float | None = None) -> int:
    """Remove spool files not touched for ``older_than_s`` (left by a process that was killed); how many."""
    now = time.time() if now is None else now
    removed = 0
    for path in folder.glob("*" + SPOOL_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime > older_than_s:
                remove(path)
                removed += 1
    return removed
