"""The lock files that `make` installs agree with requirements*.txt and with each other."""
from __future__ import annotations

from tools import check_locks


def test_the_locks_pin_every_requirement_with_hashes_and_agree_with_each_other():
    assert check_locks.problems() == [], "the locks do not match requirements*.txt: run `make lock`"


def test_the_runtime_lock_holds_no_test_tools():
    runtime = check_locks.read_lock(check_locks.ROOT / "requirements.lock")
    assert "torch" in runtime and "pytest" not in runtime and "selenium" not in runtime
