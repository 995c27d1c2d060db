"""Check that the lock files agree with each other and with requirements*.txt.

Usage: python tools/check_locks.py

``make lock`` runs it after pip-compile, and tests/test_locks.py runs the same
checks, so an edit of requirements*.txt without ``make lock`` fails the tests
rather than going unnoticed (the Makefile installs only the locks). Needs only
the standard library and ``packaging`` (a dependency of pip-tools and of pytest).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# Which requirements file each lock must satisfy (the dev lock: both).
LOCK_INPUTS = {
    "requirements.lock": ("requirements.txt",),
    "requirements-dev.lock": ("requirements.txt", "requirements-dev.txt"),
}
# A pin as pip-compile writes it: "name==version \" at the start of a line.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def read_lock(path: Path) -> dict[str, tuple[str, int]]:
    """{canonical name: (version, number of hashes)} of a pip-compile lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        if current and HASH.search(line):
            version, hashes = pins[current]
            pins[current] = (version, hashes + len(HASH.findall(line)))
        if not line.startswith((" ", "\t")) and not match:
            current = None
    return pins


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of a requirements*.txt (comments and pip options skipped)."""
    requirements = []
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as error:
            raise ValueError(f"{path.name}: cannot read {text!r}: {error}") from error
    return requirements


def problems(root: Path = ROOT) -> list[str]:
    """Every disagreement found, as sentences; empty when the locks are consistent."""
    found = []
    locks = {name: read_lock(root / name) for name in LOCK_INPUTS}
    for lock_name, inputs in LOCK_INPUTS.items():
        pins = locks[lock_name]
        for name, (version, hashes) in pins.items():
            if hashes == 0:
                found.append(f"{lock_name}: {name}=={version} has no hash")
        for input_name in inputs:
            for requirement in read_requirements(root / input_name):
                pin = pins.get(canonicalize_name(requirement.name))
                if pin is None:
                    found.append(f"{lock_name}: {requirement} ({input_name}) is not locked")
                elif not requirement.specifier.contains(pin[0], prereleases=True):
                    found.append(f"{lock_name}: {requirement.name}=={pin[0]} does not meet "
                                 f"{requirement} ({input_name})")
    runtime, dev = locks["requirements.lock"], locks["requirements-dev.lock"]
    for name, (version, _) in runtime.items():
        if name not in dev:
            found.append(f"requirements-dev.lock: {name} (in requirements.lock) is missing")
        elif dev[name][0] != version:
            found.append(f"{name}: {version} in requirements.lock but {dev[name][0]} in requirements-dev.lock")
    return found


def main() -> int:
    """Print each problem; exit status 1 if there is any."""
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print("the locks do not match requirements*.txt: run `make lock`", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
