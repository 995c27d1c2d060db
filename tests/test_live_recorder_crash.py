"""No loss: SIGKILL the real server during a recorded live session; what was acknowledged as recorded survives.

The server commits each finished second of a live session before it acknowledges
the frame that closed it, and every ack says how far the record reaches
(``record.committed_through_s``). After a kill at an arbitrary moment the
database must hold at least that much, lose at most the last second of the
stream, pass SQLite's integrity check, and serve again after a restart.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import requests
import socketio

from tests import synthetic
from tests.server_process import ServerProcess

FPS = 15
SECONDS_BEFORE_KILL = 4.3  # ends mid-second: that partial second may be lost, nothing before it
CALL_TIMEOUT_S = 60


def _patient(server: ServerProcess) -> int:
    response = requests.post(f"{server.base_url}/api/v1/patients", headers=server.headers, timeout=30,
                             json={"identifier": "bed-12", "display_name": "Crash Test"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _recorded_stream(server: ServerProcess, patient_id: int) -> tuple[socketio.Client, dict]:
    """A live client on ``/live`` whose stream is recorded for the patient, and its ``start`` answer."""
    client = socketio.Client(reconnection=False)
    client.connect(server.base_url, namespaces=["/live"], transports=["websocket"], auth={"token": server.token})
    return client, client.call("start", {"patient_id": patient_id}, namespace="/live", timeout=CALL_TIMEOUT_S)


def test_a_killed_server_keeps_every_acknowledged_reading_and_corrupts_nothing(tmp_path):
    frame = synthetic.encode(synthetic.camera_frame(synthetic.astronaut_face()), quality=85)
    with ServerProcess(instance_dir=str(tmp_path)) as server:
        patient_id = _patient(server)
        client, started = _recorded_stream(server, patient_id)
        assert started.get("ok"), started
        last_record = None
        sent_s = 0.0
        for seq in range(int(SECONDS_BEFORE_KILL * FPS)):
            sent_s = seq / FPS
            ack = client.call("frame", {"seq": seq, "t_ms": sent_s * 1000, "jpeg": frame},
                              namespace="/live", timeout=CALL_TIMEOUT_S)
            assert "error" not in ack, ack
            last_record = ack["record"]
        server.kill()  # SIGKILL: no stop, no disconnect, no flush
        client.disconnect()
    promised = last_record["committed_through_s"]
    assert promised >= int(sent_s) - 1  # the server had committed all but the current second

    database = Path(tmp_path) / "painscope.db"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        offsets = [row[0] for row in connection.execute(
            "SELECT offset_s FROM readings WHERE assessment_id = ? ORDER BY offset_s", (last_record["assessment_id"],))]
        ended = connection.execute("SELECT ended_at FROM assessments WHERE id = ?",
                                   (last_record["assessment_id"],)).fetchone()
    assert last_record["readings_committed"] == len(offsets) == promised  # one reading per committed second
    assert offsets == [float(second) for second in range(len(offsets))]
    assert sent_s - len(offsets) <= 1.0 + 1e-6  # lost: at most the last, unfinished second
    assert ended == (None,)  # nobody ended it: the record shows a session that was cut off

    with ServerProcess(instance_dir=str(tmp_path)) as again:  # the same database serves again
        readings = requests.get(f"{again.base_url}/api/v1/patients/{patient_id}/readings",
                                headers=again.headers, timeout=30)
        assert readings.status_code == 200
        assert len(readings.json()["readings"]) == len(offsets)
        # ...and the cut-off assessment was marked ended at start, where its record ends
        assessment = readings.json()["assessments"][0]
        assert assessment["id"] == last_record["assessment_id"] and assessment["ended_at"] is not None
        last_t = max(reading["t"] for reading in readings.json()["readings"])
        assert assessment["ended_at"] > last_t


def test_sigterm_commits_the_unfinished_second_and_ends_the_assessment(tmp_path):
    frame = synthetic.encode(synthetic.camera_frame(synthetic.astronaut_face()), quality=85)
    with ServerProcess(instance_dir=str(tmp_path)) as server:
        patient_id = _patient(server)
        client, started = _recorded_stream(server, patient_id)
        assessment_id = started["session"]["record"]["assessment_id"]
        frames = int(2.5 * FPS)  # two whole seconds and half of a third
        for seq in range(frames):
            ack = client.call("frame", {"seq": seq, "t_ms": seq * 1000 / FPS, "jpeg": frame},
                              namespace="/live", timeout=CALL_TIMEOUT_S)
            assert "error" not in ack, ack
        assert ack["record"]["readings_committed"] == 2  # the third second is still being summarised
        server.stop()  # SIGTERM, with the stream still open
        assert server.process.returncode == 0  # it exited by itself, not by the SIGKILL that follows a hang
        client.disconnect()
    with sqlite3.connect(Path(tmp_path) / "painscope.db") as connection:
        offsets = [row[0] for row in connection.execute(
            "SELECT offset_s FROM readings WHERE assessment_id = ? ORDER BY offset_s", (assessment_id,))]
        ended = connection.execute("SELECT ended_at FROM assessments WHERE id = ?", (assessment_id,)).fetchone()
    assert offsets == [0.0, 1.0, 2.0]  # the unfinished second was committed, not lost
    assert ended[0] is not None
