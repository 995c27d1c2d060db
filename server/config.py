"""Settings for PainScope, read once from ``PAINSCOPE_*`` environment variables.

Every default works out of the box on one CPU machine. Each field documents its
unit and where its default comes from.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "PAINSCOPE_"


@dataclass(frozen=True)
class Settings:
    """Run-time configuration. Field ``x`` is read from ``PAINSCOPE_X``."""

    host: str = "127.0.0.1"
    port: int = 5000
    secret_key: str = ""  # empty: a random key made once and kept in instance_dir/secret_key (mode 0600)

    # --- input limits (bad input gets a 4xx, never a crash) ---
    # whole request, except a video upload's (max_video_bytes plus VIDEO_FORM_SLACK_BYTES, server/web/uploads.py)
    max_upload_bytes: int = 64 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024  # a 24 MP phone JPEG is ~10 MB
    max_image_pixels: int = 40_000_000  # 40 MP: above any phone camera in wards; caps decode memory (~120 MB RGB)
    min_image_side: int = 32  # px; below this no face landmarks can be found (Face Mesh input is 192 px)
    analysis_max_side: int = 1280  # px; images are downscaled to this before landmarks (Face Mesh works at 192 px)
    # A video goes to a private spool file as it arrives (never whole in memory), so the cap is the disk's:
    # 30 min of 640x480 phone H.264 (~2 Mbit/s) is ~450 MB.
    max_video_bytes: int = 512 * 1024 * 1024
    max_video_seconds: float = 1800.0  # 30 min: a bedside observation runs several minutes
    video_sample_fps: float = 5.0  # frames analysed per second of video (facial actions last >= 0.5 s)
    max_reference_images: int = 5

    # --- analysis ---
    estimator: str = "geometry"
    level_thresholds: tuple[float, float, float] = (0.5, 5.5, 10.5)  # PSPI boundaries none|mild|moderate|severe (docs/ARCHITECTURE.md)
    analysis_threads: int = 2  # OS threads for CPU-bound analysis (one per core here)

    # --- learned models (checkpoints in models_dir; none ship with PainScope) ---
    model_threads: int = 2  # intra-op threads of torch / ONNX Runtime per inference (cores here)
    resnet18_model: str = ""  # checkpoint file to serve as "resnet18"; empty: the newest one
    lstm_model: str = ""  # checkpoint file to serve as "lstm"; empty: the newest one
    resnet_gru_model: str = ""  # checkpoint file to serve as "resnet_gru"; empty: the newest one
    ecg_transformer_model: str = ""  # checkpoint file that reads ECG uploads; empty: the newest one
    # ONNX body-part segmenter in models_dir (python -m server.training.segment); when the file
    # is there the body endpoints label parts with it instead of pose bones. Empty: never.
    segmentation_model: str = "segmentation.onnx"
    # estimator:weight pairs of the "fusion" estimator; equal by default, as no
    # part has been shown better than another on data PainScope can ship.
    fusion_weights: str = "geometry:1,resnet18:1,lstm:1,resnet_gru:1"
    # Share of the heart rate (ECG or camera) in "fusion", the face having the rest:
    # 0.2 / 0.8 as in the face + ECG seed system. 0 turns physiology off.
    physiology_weight: float = 0.2
    # With an ecg_transformer checkpoint: the ECG network's share in the logit fusion with
    # resnet_gru, the face network having the rest (0.2 / 0.8, the BioVid face + ECG system).
    ecg_model_weight: float = 0.2
    # The camera heart rate's resting value: the median of a stream's first this-many
    # seconds of good readings (three 10 s windows), unless "Calibrate neutral" sets it.
    resting_heart_rate_seconds: float = 30.0

    # --- live stream ---
    live_max_fps: float = 15.0  # client capture cap; Face Mesh + geometry run at >= 25 fps per core
    live_jpeg_quality: float = 0.8
    rolling_baseline_seconds: float = 60.0

    # --- heart rate from the face (rPPG) ---
    rppg_method: str = "pos"  # pos | chrom | green; POS is the most robust to lighting (Wang et al. 2017)
    rppg_window_s: float = 10.0  # spectral window: 6 bpm native resolution
    rppg_max_sessions: int = 100  # frame-posting sessions open at once (429 beyond)
    # ...and per account: a tenth, so one device or script cannot take every slot from the ward
    # (a bedside device needs one session; ten leaves room for a few devices on one token).
    rppg_max_sessions_per_user: int = 10
    rppg_session_idle_s: float = 300.0  # a session nobody posts to for 5 minutes is dropped

    # --- ECG (server/vitals/ecg_files.py, ecg.py; server/assess/ecg_report.py) ---
    max_ecg_bytes: int = 20 * 1024 * 1024  # one ECG text file: ~40 min of 500 Hz time,ecg CSV (~19 bytes a row)
    ecg_baseline_seconds: float = 10.0  # without a baseline upload, the file's first seconds are the baseline

    # --- speech ---
    speech_repeat_s: float = 10.0  # repeat an unchanged pain level at most this often
    speech_rate_wpm: int = 160  # espeak-ng default is 175; slower is clearer at a bedside
    max_speech_chars: int = 300

    # --- clinical scales (server/pain/scales.py) ---
    # After a total in a band that asks for it (PAINAD/FLACC moderate or severe, CPOT above 2) the
    # patient is "reassess due" this many minutes later, and "overdue" once as long again has passed.
    # 30 minutes: the usual ward interval after a parenteral analgesic (60 after an oral one).
    reassess_minutes: float = 30.0

    # --- records and security ---
    instance_dir: str = "instance"  # the SQLite file and the secret key live here (never committed)
    database_url: str = ""  # empty: sqlite in instance_dir; postgresql+psycopg://user:pw@host/db for PostgreSQL
    secure_cookies: bool = False  # set true behind HTTPS: the session cookie is then never sent over plain HTTP
    login_max_failures: int = 5  # failed logins allowed per client address within the window...
    login_failure_window_s: float = 300.0  # ...of five minutes (OWASP: throttle, do not lock accounts out)
    # Reverse proxies in front of the server that set X-Forwarded-For/-Proto/-Host (werkzeug ProxyFix);
    # 0: none, and those headers are ignored, since any client could send them.
    trusted_proxies: int = 0

    # --- API rate limits (server/web/rate_limits.py): per account (per address without a login), in the
    # `limits` syntax "N/second|minute|hour"; "" or "0" turns one off. Counted in Redis when redis_url is set.
    # Analysis calls (photo, video, ECG, body, heart-rate frames; the seed's /upload-video, /analyze-image,
    # /analyze-batch): 20 a second sustained, one seed heart-rate client posting single frames at the seed's
    # 20 fps (a batch counts once). A clinician uploads a few a minute, and the live page sends its frames over
    # Socket.IO, never HTTP. An analysis takes ~20 ms (a photo) to seconds (a video): 20/s is at most ~0.4 of
    # a core of photos from one account, so a runaway script cannot take a 2-core server from the ward.
    rate_limit_analysis: str = "1200/minute"
    # Every other /api/v1 and seed-compatible call: pages make a few per click and poll nothing over HTTP;
    # 50 a second leaves room for a script paging through records, and stops a loop (a record read takes
    # a few ms, so one client could make hundreds a second) from keeping a worker busy.
    rate_limit_api: str = "3000/minute"

    # --- long work as jobs (server/assess/jobs.py): video analyses and scale pre-fills ---
    # In-process engine (`make run`): real threads of their own, apart from the live frames' and photos' pool.
    # One: the analysis itself uses both cores' worth of OpenCV and MediaPipe threads on this 2-core machine.
    job_workers: int = 1
    job_max_running_per_account: int = 1  # fair share: at most this many of one account's jobs run at once
    job_keep_seconds: float = 3600.0  # a finished job's result is kept this long (1 h), then removed
    # A running job whose worker has not reported for this long is marked failed (worker_lost): a sampled
    # frame takes well under a second, and the longest silent step (the peak frame's overlay) a few seconds.
    job_heartbeat_timeout_s: float = 120.0
    job_timeout_s: float = 3600.0  # a job running longer than this is stopped (RQ's job_timeout)
    job_spool_dir: str = ""  # uploads waiting for their job; empty: instance_dir/spool (mode 0700)
    # Where jobs run: "local" (threads of this process; empty means this too) or "rq" (RQ workers on
    # redis_url, `python -m server.assess.job_worker`; `make cluster` sets it and starts them).
    job_engine: str = ""

    # --- storage / scale ---
    models_dir: str = "models"

    # Socket.IO message queue (redis://host:port/db): with several workers, an emit reaches a client on any
    # of them (README "Running on several machines"). Empty: one process, no queue.
    message_queue: str = ""
    # Redis holding what every worker must share: heart-rate sessions (and their caps), login throttling.
    # Empty: kept in this process's memory, right for one process (`make run`).
    redis_url: str = ""
    # At start, mark the assessments a killed server left open as ended. In a cluster only the first worker
    # may: the others' open assessments are live streams (README "Running on several machines").
    end_open_assessments_at_start: bool = True

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (tests and the CLI use this)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from ``PAINSCOPE_*`` variables; unknown or bad values raise ``ValueError``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f, raw)
        if "port" not in values and "PORT" in environ:
            values["port"] = int(environ["PORT"])
        return cls(**values)


SECRET_KEY_FILE = "secret_key"
# The instance folder holds health data (the SQLite file) and the secret key: its owner only.
INSTANCE_DIR_MODE = 0o700
SECRET_KEY_BYTES = 32


def secret_key(settings: Settings) -> str:
    """The configured key, else the instance folder's (made on first use, readable by its owner only).

    A key kept across restarts keeps clinicians logged in when the server restarts.
    """
    if settings.secret_key:
        return settings.secret_key
    folder = Path(settings.instance_dir)
    folder.mkdir(mode=INSTANCE_DIR_MODE, parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = secrets.token_hex(SECRET_KEY_BYTES)
        handle.write(key)
    return key


def _parse(f: dataclasses.Field, raw: str) -> Any:
    default = f.default
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(float(x) for x in raw.split(","))
        return raw
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: {exc}") from exc
