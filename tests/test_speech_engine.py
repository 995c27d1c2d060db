"""The server's voice (server/assess/speech_engine.py): one worker, a deadline on every render, a cache.

Issue 25: two overlapping speech requests jammed the server for good. Here a
stuck render is killed at its deadline and answered ``SpeechUnavailable``, the
next request works, overlapping requests for one text render it once, and a
flood of distinct texts is refused rather than queued without end.
"""
from __future__ import annotations

import sys
import threading
import time

import pytest

from server.assess.speech_engine import SpeechEngine, SpeechUnavailable, is_wav
from tests.fake_speech_worker import HANG_TEXT

TIMEOUT_S = 1.0


def _engine(mode: str = "ok", timeout_s: float = TIMEOUT_S, max_pending: int = 8) -> SpeechEngine:
    return SpeechEngine(160, timeout_s, cache_entries=4, max_pending=max_pending,
                        command=[sys.executable, "-m", "tests.fake_speech_worker", mode])


def test_a_stuck_render_is_killed_at_its_deadline_and_the_next_request_works():
    engine = _engine()
    try:
        assert engine.render_wav("Mild pain.").startswith(b"RIFF")
        started = time.monotonic()
        with pytest.raises(SpeechUnavailable, match="longer than"):
            engine.render_wav(HANG_TEXT)
        assert time.monotonic() - started < TIMEOUT_S + 1.5
        assert engine.timeouts == 1
        assert engine.render_wav("Severe pain.").endswith(b"Severe pain.")  # a fresh worker answers
    finally:
        engine.close()


def test_a_worker_that_never_starts_is_a_timeout_not_a_hang():
    engine = _engine("silent")
    try:
        with pytest.raises(SpeechUnavailable):
            engine.render_wav("Mild pain.")
    finally:
        engine.close()


def test_no_engine_says_why_and_health_reports_it():
    engine = _engine("broken")
    try:
        with pytest.raises(SpeechUnavailable, match="no espeak here"):
            engine.render_wav("Mild pain.")
        assert engine.available() == (False, "OSError: no espeak here")
    finally:
        engine.close()


def test_overlapping_requests_for_one_phrase_render_it_once_and_later_ones_come_from_the_cache():
    engine = _engine()
    answers: list[bytes] = []
    try:
        threads = [threading.Thread(target=lambda: answers.append(engine.render_wav("Moderate pain.")))
                   for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert len(answers) == 20 and len(set(answers)) == 1
        assert engine.renders == 1
        engine.render_wav("Moderate pain.")
        assert engine.renders == 1
    finally:
        engine.close()


def test_a_flood_of_distinct_texts_is_refused_beyond_the_queue_not_queued_forever():
    engine = _engine(max_pending=2)
    outcomes: list[str] = []
    try:
        first = threading.Thread(target=lambda: outcomes.append(_outcome(engine, HANG_TEXT)))
        first.start()
        time.sleep(0.3)
        threads = [threading.Thread(target=lambda i=i: outcomes.append(_outcome(engine, f"text {i}")))
                   for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in [first, *threads]:
            thread.join(timeout=15)
        assert outcomes.count("busy") >= 4, outcomes
        assert engine.render_wav("after the flood").endswith(b"after the flood")
    finally:
        engine.close()


def _outcome(engine: SpeechEngine, text: str) -> str:
    try:
        engine.render_wav(text)
    except SpeechUnavailable as problem:
        return "busy" if "busy" in str(problem) else "failed"
    return "ok"


def test_the_real_voice_renders_a_phrase():
    engine = SpeechEngine(160, 10.0, 4, 4)
    try:
        ok, detail = engine.available()
        if not ok:
            pytest.skip(detail)
        assert is_wav(engine.render_wav("Mild pain."))
        assert engine.available() == (True, "pyttsx3")
    finally:
        engine.close()
