"""ECG uploads through the HTTP API: heart rate, BioVid files, arousal against a baseline, and bad input."""
import functools
import io
import warnings

import numpy as np
import pytest

from server.config import Settings
from tests.conftest import authed_client, create_test_app, multipart

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # neurokit2 imports scipy.misc, deprecated in SciPy
    import neurokit2 as nk

URL = "/api/v1/analyze/ecg"
RATE_HZ = 500
SECONDS = 60
NOISE = 0.05  # neurokit2's additive noise (mV): a clean but realistic chest-strap trace
BIOVID_HZ = 512
BIOVID_HEADER = "time\tgsr\tecg\temg_trapezius\temg_corrugator\temg_zygomaticus"


@functools.cache
def simulated(bpm: float, seconds: float = SECONDS, rate: int = RATE_HZ, seed: int = 1) -> np.ndarray:
    """A synthetic ECG (neurokit2's ECGSYN model) with a known heart rate."""
    return nk.ecg_simulate(duration=seconds, sampling_rate=rate, noise=NOISE, heart_rate=bpm, random_state=seed)


def time_ecg_csv(ecg: np.ndarray, rate: float = RATE_HZ) -> bytes:
    """``time,ecg`` CSV, time in seconds."""
    rows = (f"{i / rate:.6f},{v:.5f}" for i, v in enumerate(ecg))
    return ("time,ecg\n" + "\n".join(rows) + "\n").encode()


def column_csv(ecg: np.ndarray) -> bytes:
    """One ECG column, no header."""
    return ("\n".join(f"{v:.5f}" for v in ecg) + "\n").encode()


def post_file(client, data: bytes, query: str = "", **fields):
    return client.post(URL + query, data=multipart(file=data, **fields), content_type="multipart/form-data")


@pytest.mark.parametrize("bpm", [55, 80, 130])
def test_the_heart_rate_of_a_simulated_ecg_is_read_within_2_bpm(client, bpm):
    response = post_file(client, time_ecg_csv(simulated(bpm)))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    vitals = body["vitals"]
    assert vitals["heart_rate_bpm"] == pytest.approx(bpm, abs=2)
    assert vitals["quality"] == "high" and 0.0 <= vitals["quality_score"] <= 1.0
    assert vitals["rmssd_ms"] > 0 and vitals["sdnn_ms"] > 0
    assert body["ecg"]["sampling_rate_hz"] == pytest.approx(RATE_HZ) and body["ecg"]["rate_source"] == "time column"
    # one heart-rate reading per beat, over the whole minute
    assert len(vitals["series"]) >= bpm * SECONDS / 60 - 3
    assert all(abs(entry["bpm"] - bpm) < 10 for entry in vitals["series"])
    assert body["arousal"]["method"]


def test_a_raw_csv_body_with_the_sampling_rate_in_the_query_works(client):
    response = client.post(URL + f"?sampling_rate={RATE_HZ}", data=column_csv(simulated(80)), content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["vitals"]["heart_rate_bpm"] == pytest.approx(80, abs=2)
    assert body["ecg"]["format"] == "ecg column" and body["ecg"]["rate_source"] == "caller"


@pytest.mark.parametrize("time_unit", [1e6, 1e3])  # BioVid time columns are seen in microseconds and milliseconds
def test_a_biovid_biosignal_file_is_read_at_512_hz(client, time_unit):
    ecg = simulated(70, seconds=30, rate=BIOVID_HZ)
    gsr, emg = 6.5, 0.01  # other BioVid channels: present, ignored
    rows = (f"{round(i / BIOVID_HZ * time_unit)}\t{gsr}\t{v:.5f}\t{emg}\t{emg}\t{emg}" for i, v in enumerate(ecg))
    data = (BIOVID_HEADER + "\n" + "\n".join(rows) + "\n").encode()
    response = post_file(client, data)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ecg"]["format"] == "biovid"
    assert body["ecg"]["sampling_rate_hz"] == BIOVID_HZ and "agrees" in body["ecg"]["rate_source"]
    assert body["vitals"]["heart_rate_bpm"] == pytest.approx(70, abs=2)


def test_a_higher_heart_rate_than_the_baseline_upload_scores_more_arousal(client):
    raised = post_file(client, time_ecg_csv(simulated(80)), baseline=time_ecg_csv(simulated(55, seed=2)))
    same = post_file(client, time_ecg_csv(simulated(80)), baseline=time_ecg_csv(simulated(80, seed=2)))
    assert raised.status_code == 200 and same.status_code == 200
    raised, same = raised.get_json()["arousal"], same.get_json()["arousal"]
    assert raised["baseline"]["source"] == "upload"
    assert raised["baseline"]["heart_rate_bpm"] == pytest.approx(55, abs=2)
    assert raised["heart_rate_change_pct"] > 30
    assert raised["score"] > same["score"]
    assert raised["score"] >= 0.5 and same["score"] < 0.25


def test_a_rise_after_the_files_own_first_seconds_scores_arousal(client):
    calm, aroused = simulated(60, seconds=30), simulated(95, seconds=30, seed=3)
    rising = post_file(client, time_ecg_csv(np.concatenate([calm, aroused])), baseline_seconds="20")
    steady = post_file(client, time_ecg_csv(simulated(60)), baseline_seconds="20")
    arousal = rising.get_json()["arousal"]
    assert arousal["baseline"]["source"] == "first_seconds" and arousal["baseline"]["end_s"] == 20
    assert arousal["baseline"]["heart_rate_bpm"] == pytest.approx(60, abs=2)
    assert arousal["compared"]["heart_rate_bpm"] > 70
    assert arousal["score"] > steady.get_json()["arousal"]["score"] + 0.3


def _bad_uploads():
    return {
        "flat line": (time_ecg_csv(np.zeros(RATE_HZ * SECONDS)), "", 422, "flat_ecg"),
        "a file of words": (b"Patient was comfortable overnight.\nNo ECG recorded.\n", "", 400, "bad_ecg_file"),
        "three seconds": (time_ecg_csv(simulated(80)[: 3 * RATE_HZ]), "", 422, "ecg_too_short"),
        "100 kHz": (column_csv(simulated(80)), "?sampling_rate=100000", 422, "implausible_sampling_rate"),
        "time in ms read as s": (time_ecg_csv(simulated(80), rate=RATE_HZ / 1000), "", 422, "implausible_sampling_rate"),
        "no sampling rate": (column_csv(simulated(80)), "", 400, "missing_field"),
        "rate not a number": (column_csv(simulated(80)), "?sampling_rate=fast", 400, "bad_parameter"),
    }


@pytest.mark.parametrize("case", list(_bad_uploads()))
def test_bad_ecg_input_gets_a_clear_error_and_the_server_keeps_serving(client, case):
    data, query, status, code = _bad_uploads()[case]
    response = post_file(client, data, query)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"] and "Traceback" not in error["message"]
    assert client.get("/health").status_code == 200


def test_the_messages_say_what_is_wrong(client):
    flat = post_file(client, time_ecg_csv(np.zeros(RATE_HZ * SECONDS))).get_json()["error"]["message"]
    assert "flat line" in flat
    absurd = post_file(client, column_csv(simulated(80)), "?sampling_rate=100000").get_json()["error"]["message"]
    assert "100000 Hz" in absurd
    short = post_file(client, time_ecg_csv(simulated(80)[: 3 * RATE_HZ])).get_json()["error"]["message"]
    assert "3.0 s" in short


def test_an_ecg_over_the_size_cap_is_413():
    app = create_test_app(Settings(max_ecg_bytes=1024))
    client = authed_client(app)
    data = time_ecg_csv(simulated(80))
    for response in (post_file(client, data), client.post(URL, data=data, content_type="text/csv")):
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] in ("too_large", "request_entity_too_large")
    assert client.get("/health").status_code == 200


class _HugeBody(io.RawIOBase):
    """A request body of ``size`` bytes of digits that is never held in memory; counts what is read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        buffer[:count] = b"1" * count
        self.position += count
        self.read_bytes += count
        return count


@pytest.mark.parametrize("megabytes", [30, 100])  # above the ECG cap (20 MB); above the whole-request cap (64 MB)
def test_a_huge_body_is_refused_by_its_size_before_it_is_read(client, megabytes):
    body = _HugeBody(megabytes * 1024 * 1024)
    response = client.post(URL + "?sampling_rate=500", input_stream=body, content_type="text/csv")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"
    assert body.read_bytes == 0
    assert client.get("/health").status_code == 200


def test_the_ecg_settings_come_from_the_environment():
    settings = Settings.from_env({"PAINSCOPE_ECG_BASELINE_SECONDS": "15", "PAINSCOPE_MAX_ECG_BYTES": "1048576"})
    assert settings.ecg_baseline_seconds == 15.0 and settings.max_ecg_bytes == 1024 * 1024


def test_the_answer_s_sentences_follow_the_language_and_english_stays_as_it_was(client):
    """docs/deployment.md "Languages": the methods, the reasons, the file's notes and a BioVid rate source are
    said in the request's language (server/problems.py Sentence, said again by the web layer)."""
    short = time_ecg_csv(simulated(80, seconds=8))  # not longer than the 10 s baseline: no arousal score

    def answer(data, language):
        response = client.post(URL, data=multipart(file=data), content_type="multipart/form-data",
                               headers={"Accept-Language": language})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    english, german = answer(short, "en"), answer(short, "de")
    assert english["arousal"]["reason"] == ("the recording (8.0 s) is not longer than the 10 s baseline; "
                                            "upload a separate baseline recording or a longer one")
    assert german["arousal"]["reason"] == ("die Aufzeichnung (8.0 s) ist nicht länger als die Baseline von 10 s; "
                                           "laden Sie eine separate Baseline-Aufzeichnung oder eine längere hoch")
    assert english["arousal"]["method"].startswith("Mean heart rate and RMSSD of the recording")
    assert "a rise of 5% or less counts 0, 25% or more counts 1" in english["arousal"]["method"]
    assert german["arousal"]["method"].startswith("Mittlere Herzfrequenz und RMSSD der Aufzeichnung")
    assert "ein Anstieg um 5% oder weniger zählt 0, um 25% oder mehr zählt 1" in german["arousal"]["method"]
    assert english["vitals"]["quality_method"].startswith("mean correlation of each beat")
    assert german["vitals"]["quality_method"].startswith("mittlere Korrelation jedes Schlags")
    assert german["vitals"]["heart_rate_bpm"] == english["vitals"]["heart_rate_bpm"]  # only the words change

    # BioVid: a time column in ms agrees with 512 Hz; in hundredths of a second none does (a note)
    ecg = simulated(70, seconds=30, rate=BIOVID_HZ)

    def biovid(time_unit):
        rows = (f"{round(i / BIOVID_HZ * time_unit)}\t6.5\t{v:.5f}\t0.01\t0.01\t0.01" for i, v in enumerate(ecg))
        return (BIOVID_HEADER + "\n" + "\n".join(rows) + "\n").encode()

    assert answer(biovid(1e3), "en")["ecg"]["rate_source"] == "biovid 512 Hz (time column in ms agrees)"
    assert answer(biovid(1e3), "fr")["ecg"]["rate_source"] == "biovid 512 Hz (la colonne de temps en ms concorde)"
    noted = answer(biovid(1e2), "es")["ecg"]
    assert noted["rate_source"] == "biovid 512 Hz"
    assert noted["notes"] == ["La columna de tiempo no da 512 Hz ni en s, ni en ms, ni en us; se usaron 512 Hz. "
                              "Si el archivo se remuestreó, indique su frecuencia como sampling_rate."]
    assert answer(biovid(1e2), "en")["ecg"]["notes"] == [
        "The time column does not give 512 Hz in s, ms or us; 512 Hz was used. "
        "If the file was resampled, give its rate as sampling_rate."]


def test_a_bad_number_is_refused_in_the_language_with_the_english_unchanged(client):
    def refused(language):
        response = client.post(URL + "?sampling_rate=fast", data=column_csv(simulated(80)), content_type="text/csv",
                               headers={"Accept-Language": language})
        assert response.status_code == 400
        return response.get_json()["error"]

    assert refused("en") == {"code": "bad_parameter", "message": "'sampling_rate' must be a number, not 'fast'."}
    german = refused("de")
    assert german["message"] == "'sampling_rate' muss eine Zahl sein, nicht 'fast'." and "detail" not in german
